#pragma once
// The standard Prometheus process metrics (process_cpu_seconds_total, ...) read from /proc.
// The parsers are pure, so they are tested on sample text; read_process_stats() does the I/O
// and is called at scrape time on the control thread (never on a worker: it reads files).
#include <cstdint>
#include <optional>
#include <string_view>

namespace llmgw::metrics {

/// What a scrape reports. A field the process could not read is left empty and its metric is
/// not exported (no made-up zero).
struct ProcessStats {
  std::optional<double> cpu_seconds;         // user + system time
  std::optional<double> resident_bytes;
  std::optional<double> virtual_bytes;
  std::optional<double> start_time_seconds;  // since the Unix epoch
  std::optional<double> open_fds;
  std::optional<double> max_fds;             // the soft RLIMIT_NOFILE
};

/// The fields of /proc/self/stat the metrics need, in the kernel's units.
struct ProcStat {
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint64_t start_ticks = 0;  // since boot
  std::uint64_t vsize_bytes = 0;
  std::uint64_t rss_pages = 0;
};

/// Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself hold
/// spaces and parentheses, so fields are counted after its last ')'. Empty when malformed.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

/// The soft "Max open files" limit from /proc/<pid>/limits; empty when absent or "unlimited".
std::optional<double> parse_max_open_files(std::string_view text);

/// Converts a parsed stat to metric values: ticks_per_second is sysconf(_SC_CLK_TCK),
/// boot_epoch_seconds the wall-clock time of boot.
ProcessStats process_stats_from(const ProcStat& stat, double ticks_per_second,
                                double page_size, double boot_epoch_seconds);

/// Reads this process's /proc files (and the fd directory). Blocking file I/O: control thread.
ProcessStats read_process_stats();

}  // namespace llmgw::metrics
