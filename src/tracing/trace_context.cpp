// W3C trace context (see trace_context.hpp).
#include "llmgw/tracing/trace_context.hpp"

#include <algorithm>
#include <charconv>

#include "llmgw/common/strings.hpp"

namespace llmgw::tracing {
namespace {

bool lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zeros(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

}  // namespace

std::optional<TraceParent> parse_traceparent(std::string_view h) {
  // version "-" trace-id "-" parent-id "-" flags; a later version may append "-" fields.
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') {
    return std::nullopt;
  }
  const auto version = h.substr(0, 2);
  if (!lower_hex(version) || version == "ff" || (version == "00" && h.size() != 55) ||
      (h.size() > 55 && h[55] != '-')) {
    return std::nullopt;
  }
  TraceParent p;
  p.trace_id = h.substr(3, 32);
  p.parent_id = h.substr(36, 16);
  const auto flags = h.substr(53, 2);
  if (!lower_hex(p.trace_id) || !lower_hex(p.parent_id) || !lower_hex(flags) ||
      all_zeros(p.trace_id) || all_zeros(p.parent_id)) {
    return std::nullopt;
  }
  unsigned bits = 0;
  std::from_chars(flags.data(), flags.data() + 2, bits, 16);
  p.sampled = (bits & 1) != 0;
  return p;
}

bool sampled_by_ratio(std::string_view trace_id, double ratio) {
  if (ratio >= 1) {
    return true;
  }
  if (ratio <= 0 || trace_id.size() < 16) {
    return false;
  }
  std::uint64_t low = 0;
  const auto tail = trace_id.substr(trace_id.size() - 16);
  std::from_chars(tail.data(), tail.data() + tail.size(), low, 16);
  // Compared as a fraction of 2^64, in integers (a double cannot tell 2^63 - 1 from 2^63): the
  // same trace id gives the same answer everywhere.
  const auto threshold = static_cast<std::uint64_t>(ratio * 18446744073709551616.0);
  return low < threshold;
}

std::string outgoing_traceparent(std::string_view incoming, bool tracing, double sample_ratio) {
  if (auto parent = parse_traceparent(incoming)) {
    std::string out = "00-";
    out += parent->trace_id;
    out += '-';
    out += common::random_hex(16);
    out += parent->sampled ? "-01" : "-00";
    return out;
  }
  if (!tracing) {
    return {};
  }
  auto trace_id = common::random_hex(32);
  const bool sampled = sampled_by_ratio(trace_id, sample_ratio);
  return "00-" + trace_id + "-" + common::random_hex(16) + (sampled ? "-01" : "-00");
}

}  // namespace llmgw::tracing
