#include "llmgw/metrics/process.hpp"

#include <charconv>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <unistd.h>

namespace llmgw::metrics {
namespace {

std::optional<std::uint64_t> to_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> read_file(const char* path) {
  std::ifstream in(path);
  if (!in) {
    return std::nullopt;
  }
  return std::string(std::istreambuf_iterator<char>(in), {});
}

double clock_seconds(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// /proc/stat's btime would be the usual source, but the shipped unit's ProcSubset=pid hides
// /proc/stat. The stat's start time counts on the boot-time clock, so boot is "now" on the wall
// clock minus "now" on CLOCK_BOOTTIME. Taken once: the two reads drift by microseconds, and a
// start time that moved between scrapes would look like a restart to a resets() query.
double boot_epoch_seconds() {
  static const double boot = clock_seconds(CLOCK_REALTIME) - clock_seconds(CLOCK_BOOTTIME);
  return boot;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  auto close = text.rfind(')');
  if (close == std::string_view::npos) {
    return std::nullopt;
  }
  // Field 3 (state) starts after ") "; fields are numbered from 1 as in proc(5).
  std::string_view rest = text.substr(close + 1);
  ProcStat out;
  int field = 2;
  std::size_t pos = 0;
  while (pos < rest.size() && field < 24) {
    while (pos < rest.size() && (rest[pos] == ' ' || rest[pos] == '\n')) {
      ++pos;
    }
    auto end = rest.find_first_of(" \n", pos);
    if (end == std::string_view::npos) {
      end = rest.size();
    }
    if (end == pos) {
      break;
    }
    ++field;
    auto token = rest.substr(pos, end - pos);
    pos = end;
    std::uint64_t* target = nullptr;
    switch (field) {
      case 14: target = &out.utime_ticks; break;
      case 15: target = &out.stime_ticks; break;
      case 22: target = &out.start_ticks; break;
      case 23: target = &out.vsize_bytes; break;
      case 24: target = &out.rss_pages; break;
      default: continue;
    }
    auto v = to_u64(token);
    if (!v) {
      return std::nullopt;
    }
    *target = *v;
  }
  if (field < 24) {
    return std::nullopt;
  }
  return out;
}

std::optional<double> parse_max_open_files(std::string_view text) {
  constexpr std::string_view kName = "Max open files";
  for (std::size_t start = 0; start < text.size();) {
    auto end = text.find('\n', start);
    auto line = text.substr(start, end == std::string_view::npos ? text.npos : end - start);
    start = end == std::string_view::npos ? text.size() : end + 1;
    if (!line.starts_with(kName)) {
      continue;
    }
    // "Max open files            1024                 524288               files"
    auto rest = line.substr(kName.size());
    auto b = rest.find_first_not_of(' ');
    if (b == std::string_view::npos) {
      return std::nullopt;
    }
    auto e = rest.find(' ', b);
    auto v = to_u64(rest.substr(b, e == std::string_view::npos ? rest.npos : e - b));
    return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
  }
  return std::nullopt;
}

ProcessStats process_stats_from(const ProcStat& stat, double ticks_per_second,
                                double page_size, double boot_epoch) {
  ProcessStats out;
  out.cpu_seconds =
      static_cast<double>(stat.utime_ticks + stat.stime_ticks) / ticks_per_second;
  out.start_time_seconds = boot_epoch + static_cast<double>(stat.start_ticks) / ticks_per_second;
  out.virtual_bytes = static_cast<double>(stat.vsize_bytes);
  out.resident_bytes = static_cast<double>(stat.rss_pages) * page_size;
  return out;
}

ProcessStats read_process_stats() {
  ProcessStats out;
  if (auto text = read_file("/proc/self/stat")) {
    if (auto stat = parse_proc_stat(*text)) {
      out = process_stats_from(*stat, static_cast<double>(sysconf(_SC_CLK_TCK)),
                               static_cast<double>(sysconf(_SC_PAGESIZE)), boot_epoch_seconds());
    }
  }
  if (auto text = read_file("/proc/self/limits")) {
    out.max_fds = parse_max_open_files(*text);
  }
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (!ec) {
    double n = 0;
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
      if (ec) {
        break;
      }
      ++n;
    }
    // The iterator's own descriptor is one of the entries; it is not the process's.
    if (!ec) {
      out.open_fds = n > 0 ? n - 1 : 0;
    }
  }
  return out;
}

}  // namespace llmgw::metrics
