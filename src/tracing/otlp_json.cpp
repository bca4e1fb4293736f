// OTLP/HTTP JSON encoding of finished spans (see span.hpp).
#include <nlohmann/json.hpp>

#include "llmgw/tracing/span.hpp"

namespace llmgw::tracing {
namespace {

using nlohmann::json;

// OTLP's AnyValue; 64-bit integers travel as strings in the JSON mapping.
json any_value(const Attribute& a) {
  return std::visit(
      [](const auto& v) -> json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return json{{"stringValue", v}};
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return json{{"intValue", std::to_string(v)}};
        } else if constexpr (std::is_same_v<T, double>) {
          return json{{"doubleValue", v}};
        } else {
          return json{{"boolValue", v}};
        }
      },
      a.value);
}

json key_value(const Attribute& a) { return json{{"key", a.key}, {"value", any_value(a)}}; }

json span_json(const Span& s) {
  json attributes = json::array();
  for (const auto& a : s.attributes) {
    attributes.push_back(key_value(a));
  }
  json j = {{"traceId", s.trace_id},
            {"spanId", s.span_id},
            {"name", s.name},
            {"kind", static_cast<int>(s.kind)},
            {"startTimeUnixNano", std::to_string(s.start_unix_nano)},
            {"endTimeUnixNano", std::to_string(s.end_unix_nano)},
            {"attributes", std::move(attributes)},
            {"status", json{{"code", s.error ? 2 : 0}}}};
  if (!s.parent_span_id.empty()) {
    j["parentSpanId"] = s.parent_span_id;
  }
  return j;
}

}  // namespace

std::string otlp_json(std::span<const Span> spans, std::string_view service_name,
                      std::string_view version) {
  json list = json::array();
  for (const auto& s : spans) {
    list.push_back(span_json(s));
  }
  const Attribute service{"service.name", std::string(service_name)};
  json resource = {{"attributes", json::array({key_value(service)})}};
  json scope = {{"name", "llmgw"}, {"version", std::string(version)}};
  json scope_spans = {{"scope", std::move(scope)}, {"spans", std::move(list)}};
  json resource_spans = {{"resource", std::move(resource)},
                         {"scopeSpans", json::array({std::move(scope_spans)})}};
  json request = {{"resourceSpans", json::array({std::move(resource_spans)})}};
  return request.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace llmgw::tracing
