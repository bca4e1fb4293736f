#pragma once
// A finished span as the exporter sends it, and its OTLP/HTTP JSON encoding. Pure.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace llmgw::tracing {

struct Attribute {
  std::string key;
  std::variant<std::string, std::int64_t, double, bool> value;
};

enum class SpanKind { server = 2, client = 3 };  // OTLP's numbers

struct Span {
  std::string trace_id;        // 32 hex digits
  std::string span_id;         // 16 hex digits
  std::string parent_span_id;  // empty for a root span
  std::string name;
  SpanKind kind = SpanKind::server;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  std::vector<Attribute> attributes;
  bool error = false;  // status ERROR (else UNSET)
};

/// One ExportTraceServiceRequest in OTLP's JSON mapping (ids as hex, 64-bit integers as
/// strings): one resource (service.name), one scope (llmgw, `version`).
std::string otlp_json(std::span<const Span> spans, std::string_view service_name,
                      std::string_view version);

}  // namespace llmgw::tracing
