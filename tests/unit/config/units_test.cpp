// parse_duration / parse_size and their printing counterparts.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "config/detail.hpp"
#include "llmgw/config/loader.hpp"

namespace llmgw::config {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsUnitsDecimalsAndCompounds) {
  // "0.5ms": finer than a millisecond rounds to the nearest one.
  const std::pair<const char*, std::int64_t> cases[] = {
      {"250ms", 250},   {"2s", 2000},     {"5m", 300000},   {"1h", 3600000}, {"1d", 86400000},
      {"1.5s", 1500},   {"0.25s", 250},   {"0", 0},         {"0s", 0},       {"1h30m", 5400000},
      {"1m30s", 90000}, {" 10s ", 10000}, {"600s", 600000}, {"0.5ms", 1},
  };
  for (const auto& [text, ms] : cases) {
    auto d = parse_duration(text);
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_EQ(d->count(), ms) << text;
  }
}

TEST(ParseDuration, RejectsMalformed) {
  for (const char* text : {"", "2", "30", "1.5", "s", "2x", "2 s", "-1s", "1e3s", "1.s", ".5s",
                           "2S", "10sec", "1y", "99999999999999d"}) {
    EXPECT_FALSE(parse_duration(text).has_value()) << text;
  }
}

TEST(ParseSize, AcceptsBinaryAndDecimalUnits) {
  const std::pair<const char*, std::uint64_t> cases[] = {
      {"100", 100},          {"0", 0},
      {"100B", 100},         {"512KiB", 512ull << 10},
      {"8MiB", 8ull << 20},  {"1GiB", 1ull << 30},
      {"2TiB", 2ull << 40},  {"1KB", 1000},
      {"1kB", 1000},         {"1MB", 1000000},
      {"1GB", 1000000000},   {"1.5KiB", 1536},
      {"8 MiB", 8ull << 20}, {"8mib", 8ull << 20},
  };
  for (const auto& [text, bytes] : cases) {
    auto n = parse_size(text);
    ASSERT_TRUE(n.has_value()) << text;
    EXPECT_EQ(*n, bytes) << text;
  }
}

TEST(ParseSize, RejectsMalformed) {
  for (const char* text : {"", "MiB", "8M", "8 parsecs", "-1", "1.5", "1.5B", "0x10",
                           "99999999999999999999", "9999999999TiB"}) {
    EXPECT_FALSE(parse_size(text).has_value()) << text;
  }
}

TEST(FormatDuration, PrintsTheLargestExactUnitAndRoundTrips) {
  EXPECT_EQ(detail::format_duration(milliseconds{0}), "0s");
  EXPECT_EQ(detail::format_duration(milliseconds{250}), "250ms");
  EXPECT_EQ(detail::format_duration(milliseconds{1500}), "1500ms");
  EXPECT_EQ(detail::format_duration(milliseconds{2000}), "2s");
  EXPECT_EQ(detail::format_duration(milliseconds{90000}), "90s");
  EXPECT_EQ(detail::format_duration(milliseconds{600000}), "10m");
  EXPECT_EQ(detail::format_duration(milliseconds{86400000}), "24h");
  for (std::int64_t ms : {0, 1, 999, 1000, 61000, 3600000, 123456789}) {
    EXPECT_EQ(parse_duration(detail::format_duration(milliseconds{ms})), milliseconds{ms});
  }
}

TEST(FormatSize, PrintsBinaryUnitsAndRoundTrips) {
  EXPECT_EQ(detail::format_size(8ull << 20), "8MiB");
  EXPECT_EQ(detail::format_size(16ull << 10), "16KiB");
  EXPECT_EQ(detail::format_size(1ull << 30), "1GiB");
  EXPECT_EQ(detail::format_size(1000), "1000B");
  EXPECT_EQ(detail::format_size(0), "0B");
  for (std::uint64_t n : {0ull, 1ull, 1000ull, 1024ull, 1536ull, 8ull << 20}) {
    EXPECT_EQ(parse_size(detail::format_size(n)), n);
  }
}

TEST(RedactUrl, HidesPasswordsAndBareUserinfo) {
  EXPECT_EQ(detail::redact_url_credentials("redis://:hunter2@redis:6379/0"),
            "redis://:<redacted>@redis:6379/0");
  EXPECT_EQ(detail::redact_url_credentials("redis://app:hunter2@redis:6379/0"),
            "redis://app:<redacted>@redis:6379/0");
  EXPECT_EQ(detail::redact_url_credentials("redis://hunter2@redis/0"),
            "redis://<redacted>@redis/0");
  EXPECT_EQ(detail::redact_url_credentials("redis://:pa/ss@w@redis/0"),
            "redis://:<redacted>@redis/0");
  EXPECT_EQ(detail::redact_url_credentials("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
}

TEST(EditDistance, SuggestsOnlyCloseWords) {
  EXPECT_EQ(detail::edit_distance("intervall", "interval"), 1u);
  EXPECT_EQ(detail::edit_distance("kitten", "sitting"), 3u);
  const std::string_view keys[] = {"interval", "timeout", "path"};
  EXPECT_EQ(detail::closest_match("intervall", keys), "interval");
  EXPECT_EQ(detail::closest_match("timout", keys), "timeout");
  EXPECT_EQ(detail::closest_match("banana", keys), "");
  const std::string_view short_keys[] = {"on"};
  EXPECT_EQ(detail::closest_match("xy", short_keys), "");
}

}  // namespace
}  // namespace llmgw::config
