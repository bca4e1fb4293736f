// Durations and sizes as written in the config file, both directions.
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include "config/detail.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/config/loader.hpp"

namespace llmgw::config {
namespace {

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;
// A century: far beyond any sensible timeout, far below where milliseconds overflow.
constexpr double kMaxDurationMs = 100.0 * 365 * kDay;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Consumes "123" or "123.45" from the front of `s`. Hand-rolled rather than from_chars alone
// because from_chars would also take "1e3", "inf" and "nan", which are not valid here.
bool take_number(std::string_view& s, std::uint64_t& whole, double& fraction, bool& has_fraction) {
  std::size_t n = 0;
  while (n < s.size() && is_digit(s[n])) {
    ++n;
  }
  if (n == 0) {
    return false;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + n, whole);
  if (ec != std::errc{} || p != s.data() + n) {
    return false;  // too large
  }
  s.remove_prefix(n);
  fraction = 0;
  has_fraction = false;
  if (!s.empty() && s.front() == '.') {
    std::size_t m = 1;
    while (m < s.size() && is_digit(s[m])) {
      ++m;
    }
    if (m == 1) {
      return false;  // "1." is a typo, not a number
    }
    // Built by append, not `"0" + std::string(...)`: g++ 12 -O3 raises a false -Wrestrict on
    // the latter (GCC bug 105329), which -Werror turns into a failed Release build.
    std::string digits(1, '0');
    digits.append(s.substr(0, m));
    std::from_chars(digits.data(), digits.data() + digits.size(), fraction);
    has_fraction = true;
    s.remove_prefix(m);
  }
  return true;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  auto s = common::trim(text);
  if (s.empty()) {
    return std::nullopt;
  }
  // Zero is zero in every unit, so it alone may go without one.
  if (s == "0") {
    return Duration{0};
  }
  double total_ms = 0;
  // Compound forms ("1h30m", "1m30s") are accepted, as in Go and Prometheus.
  while (!s.empty()) {
    std::uint64_t whole = 0;
    double fraction = 0;
    bool has_fraction = false;
    if (!take_number(s, whole, fraction, has_fraction)) {
      return std::nullopt;
    }
    std::size_t n = 0;
    while (n < s.size() && std::isalpha(static_cast<unsigned char>(s[n]))) {
      ++n;
    }
    auto unit = s.substr(0, n);
    s.remove_prefix(n);
    double factor = 0;
    if (unit == "ms") {
      factor = 1;
    } else if (unit == "s") {
      factor = kSecond;
    } else if (unit == "m") {
      factor = kMinute;
    } else if (unit == "h") {
      factor = kHour;
    } else if (unit == "d") {
      factor = kDay;
    } else {
      return std::nullopt;  // includes a missing unit
    }
    total_ms += (static_cast<double>(whole) + fraction) * factor;
    if (total_ms > kMaxDurationMs) {
      return std::nullopt;
    }
  }
  return Duration{std::llround(total_ms)};
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  auto s = common::trim(text);
  std::uint64_t whole = 0;
  double fraction = 0;
  bool has_fraction = false;
  if (!take_number(s, whole, fraction, has_fraction)) {
    return std::nullopt;
  }
  auto unit = common::to_lower(common::trim(s));
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "b") {
    factor = 1;
  } else if (unit == "kb") {
    factor = 1000;
  } else if (unit == "mb") {
    factor = 1000 * 1000;
  } else if (unit == "gb") {
    factor = 1000 * 1000 * 1000;
  } else if (unit == "tb") {
    factor = 1000ull * 1000 * 1000 * 1000;
  } else if (unit == "kib") {
    factor = 1ull << 10;
  } else if (unit == "mib") {
    factor = 1ull << 20;
  } else if (unit == "gib") {
    factor = 1ull << 30;
  } else if (unit == "tib") {
    factor = 1ull << 40;
  } else {
    return std::nullopt;
  }
  if (has_fraction && factor == 1) {
    return std::nullopt;  // a fraction of a byte
  }
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (whole > kMax / factor) {
    return std::nullopt;
  }
  // The whole part stays in integer arithmetic so large exact values do not lose precision.
  auto bytes = whole * factor;
  auto extra = static_cast<std::uint64_t>(std::llround(fraction * static_cast<double>(factor)));
  if (bytes > kMax - extra) {
    return std::nullopt;
  }
  return bytes + extra;
}

namespace detail {

std::string format_duration(Duration d) {
  auto ms = d.count();
  if (ms == 0) {
    return "0s";
  }
  if (ms % kHour == 0) {
    return std::to_string(ms / kHour) + "h";
  }
  if (ms % kMinute == 0) {
    return std::to_string(ms / kMinute) + "m";
  }
  if (ms % kSecond == 0) {
    return std::to_string(ms / kSecond) + "s";
  }
  return std::to_string(ms) + "ms";
}

std::string format_size(std::uint64_t bytes) {
  if (bytes != 0) {
    if (bytes % (1ull << 30) == 0) {
      return std::to_string(bytes >> 30) + "GiB";
    }
    if (bytes % (1ull << 20) == 0) {
      return std::to_string(bytes >> 20) + "MiB";
    }
    if (bytes % (1ull << 10) == 0) {
      return std::to_string(bytes >> 10) + "KiB";
    }
  }
  return std::to_string(bytes) + "B";
}

}  // namespace detail
}  // namespace llmgw::config
