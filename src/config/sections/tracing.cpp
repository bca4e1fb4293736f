// The config schema, tracing: where spans go and how many of them.
#include "config/schema_loader.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::config::schema {

void SchemaLoader::tracing(const Value& v, std::optional<TracingConfig>& out) {
  MapReader m(r_, v, {"otlp_endpoint", "sample_ratio", "service_name", "headers",
                      "max_queue_spans", "max_batch_spans", "export_interval",
                      "export_timeout"});
  if (!m.ok()) {
    return;
  }
  TracingConfig t;
  if (auto at = required_string(m, "otlp_endpoint", t.otlp_endpoint)) {
    std::string why;
    if (auto url = common::parse_url(t.otlp_endpoint, &why)) {
      t.url = std::move(*url);
      // Spans would go to .../v1/traces/v1/traces: say so now, not as export errors later.
      if (t.url.path.ends_with("/v1/traces")) {
        r_.error(*at, "give the collector's base URL (e.g. http://collector:4318): "
                      "/v1/traces is appended");
      }
    } else {
      r_.error(*at, "invalid URL: " + why);
    }
  }
  m.read("sample_ratio", t.sample_ratio, 0.0, 1.0);
  if (m.get("service_name")) {
    required_string(m, "service_name", t.service_name);
  }
  if (auto h = m.get("headers")) {
    headers(*h, t.headers);
  }
  m.read("max_queue_spans", t.max_queue_spans, 1, 1'000'000);
  m.read("max_batch_spans", t.max_batch_spans, 1, 100'000);
  m.read("export_interval", t.export_interval, kPositive);
  m.read("export_timeout", t.export_timeout, kPositive);
  out = std::move(t);
}

}  // namespace llmgw::config::schema
