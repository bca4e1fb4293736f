// The process metrics: /proc parsing on sample text (the kernel's formats, including a command
// name that contains ") "), and one scrape of this very process.
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/metrics/process.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <string>

namespace llmgw::metrics {
namespace {

// A real /proc/<pid>/stat line (52 fields), command name changed to one with spaces and ") ".
constexpr std::string_view kStat =
    "6711 (my ) llmgw (x)) R 6705 6705 4607 0 -1 4194304 100 0 0 0 1234 567 0 0 20 0 1 0 "
    "28033 3133440 381 18446744073709551615 94035926360064 94035926379945 140725228524528 0 0 "
    "0 0 0 0 0 0 0 17 1 0 0 0 0 0 94035926395952 94035926397568 94036267294720 "
    "140725228526008 140725228526028 140725228526028 140725228527595 0\n";

TEST(ProcStat, ReadsTheFieldsAfterTheLastParenthesis) {
  auto stat = parse_proc_stat(kStat);
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->utime_ticks, 1234u);
  EXPECT_EQ(stat->stime_ticks, 567u);
  EXPECT_EQ(stat->start_ticks, 28033u);
  EXPECT_EQ(stat->vsize_bytes, 3133440u);
  EXPECT_EQ(stat->rss_pages, 381u);
}

TEST(ProcStat, MalformedTextIsNoStat) {
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("6711 no parenthesis R 1 2 3"));
  EXPECT_FALSE(parse_proc_stat("6711 (llmgw) R 6705 6705"));  // cut short before utime
  EXPECT_FALSE(parse_proc_stat(
      "1 (a) R 1 1 1 0 -1 0 0 0 0 0 12x 5 0 0 20 0 1 0 100 4096 2 0"));  // a bad number
}

TEST(ProcStat, ConvertsTicksAndPagesToSecondsAndBytes) {
  auto s = process_stats_from(*parse_proc_stat(kStat), 100, 4096, 1'700'000'000);
  EXPECT_NEAR(*s.cpu_seconds, 18.01, 1e-9);
  EXPECT_NEAR(*s.start_time_seconds, 1'700'000'280.33, 1e-6);
  EXPECT_DOUBLE_EQ(*s.virtual_bytes, 3133440);
  EXPECT_DOUBLE_EQ(*s.resident_bytes, 381.0 * 4096);
  EXPECT_FALSE(s.open_fds) << "not from the stat file";
}

TEST(ProcLimits, TheSoftLimitOfOpenFiles) {
  constexpr std::string_view kLimits =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max processes             63704                63704                processes \n"
      "Max open files            1024                 524288               files     \n"
      "Max locked memory         8388608              8388608              bytes     \n";
  EXPECT_EQ(parse_max_open_files(kLimits), 1024);
  EXPECT_FALSE(parse_max_open_files("Max open files            unlimited  unlimited  files\n"));
  EXPECT_FALSE(parse_max_open_files("Max processes  63704  63704  processes\n"));
}

TEST(ProcessMetrics, AScrapeOfThisProcessExportsEveryStandardName) {
  auto stats = read_process_stats();
  ASSERT_TRUE(stats.cpu_seconds && stats.resident_bytes && stats.virtual_bytes &&
              stats.start_time_seconds && stats.open_fds && stats.max_fds);
  EXPECT_GT(*stats.resident_bytes, 0);
  EXPECT_GE(*stats.virtual_bytes, *stats.resident_bytes);
  EXPECT_GE(*stats.open_fds, 1) << "ctest's pipes at least";
  EXPECT_GE(*stats.max_fds, *stats.open_fds);
  const auto now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(*stats.start_time_seconds, now + 1);
  EXPECT_GT(*stats.start_time_seconds, now - 3600) << "this test started within the hour";

  Metrics m("test");
  m.set_process(stats);
  auto text = m.serialize();
  for (const char* line : {"# TYPE process_cpu_seconds_total counter",
                           "# TYPE process_resident_memory_bytes gauge",
                           "# TYPE process_virtual_memory_bytes gauge",
                           "# TYPE process_open_fds gauge", "# TYPE process_max_fds gauge",
                           "# TYPE process_start_time_seconds gauge"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST(ProcessMetrics, TheCpuCounterFollowsTheKernelsTotalAndNeverGoesBack) {
  Metrics m("test");
  ProcessStats s;
  s.cpu_seconds = 2.5;
  m.set_process(s);
  s.cpu_seconds = 4;
  m.set_process(s);
  EXPECT_NE(m.serialize().find("process_cpu_seconds_total 4\n"), std::string::npos)
      << m.serialize();
  s.cpu_seconds = 1;
  m.set_process(s);
  EXPECT_NE(m.serialize().find("process_cpu_seconds_total 4\n"), std::string::npos);
}

TEST(ProcessMetrics, AValueThatCouldNotBeReadIsNotExported) {
  Metrics m("test");
  ProcessStats s;
  s.open_fds = 7;
  m.set_process(s);
  auto text = m.serialize();
  EXPECT_NE(text.find("process_open_fds 7\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("process_max_fds"), std::string::npos) << "no made-up zero";
}

}  // namespace
}  // namespace llmgw::metrics
