#pragma once
// W3C trace context (https://www.w3.org/TR/trace-context/) as the gateway uses it: what the
// client sent, what goes upstream, whether the trace is sampled. Pure.
#include <optional>
#include <string>
#include <string_view>

namespace llmgw::tracing {

struct TraceParent {
  std::string_view trace_id;   // 32 lowercase hex digits, not all zeros
  std::string_view parent_id;  // 16 lowercase hex digits, not all zeros
  bool sampled = false;
};

/// A valid traceparent (version 00, or a later version read as 00 as the spec asks), else
/// nullopt. The views point into `header`.
std::optional<TraceParent> parse_traceparent(std::string_view header);

/// The traceparent this request sends upstream (the router gives each attempt its own parent
/// id): the client's trace and flags when it sent a valid one; otherwise, with tracing on, a
/// new trace sampled with `sample_ratio`; otherwise empty (nothing is sent).
std::string outgoing_traceparent(std::string_view incoming, bool tracing, double sample_ratio);

/// Whether a new trace with this id is kept at `ratio`: by its last 16 hex digits, so every
/// service that samples by trace id at the same ratio keeps the same traces.
bool sampled_by_ratio(std::string_view trace_id, double ratio);

}  // namespace llmgw::tracing
