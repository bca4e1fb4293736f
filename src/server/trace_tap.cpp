// The tracing tap (see trace_tap.hpp).
#include "server/trace_tap.hpp"

#include <cmath>

#include "llmgw/api/errors.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::server {
namespace {

using tracing::Attribute;
using tracing::Span;

std::string_view operation_name(api::Operation op) {
  switch (op) {
    case api::Operation::chat: return "chat";
    case api::Operation::completions: return "text_completion";
    case api::Operation::embeddings: return "embeddings";
  }
  return "chat";
}

// gen_ai.provider.name's well-known values where there is one; the kind's own name otherwise.
std::string_view provider_name(config::ProviderKind kind) {
  switch (kind) {
    case config::ProviderKind::azure: return "azure.ai.openai";
    case config::ProviderKind::gemini: return "gcp.gemini";
    default: return config::to_string(kind);
  }
}

std::uint64_t unix_nano(std::chrono::system_clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
  return static_cast<std::uint64_t>(ns.count());
}

std::uint64_t plus_seconds(std::uint64_t nano, double seconds) {
  return nano + static_cast<std::uint64_t>(std::llround(std::max(0.0, seconds) * 1e9));
}

void add(Span& s, std::string key, std::string_view value) {
  if (!value.empty()) {
    s.attributes.push_back(Attribute{std::move(key), std::string(value)});
  }
}

void add(Span& s, std::string key, std::int64_t value) {
  s.attributes.push_back(Attribute{std::move(key), value});
}

void add_provider(Span& s, const router::ProviderRoute* p) {
  if (p && p->config) {
    const auto name = provider_name(p->config->kind);
    add(s, "gen_ai.provider.name", name);
    add(s, "gen_ai.system", name);  // the older name of the same attribute
  }
}

void add_usage(Span& s, const providers::Usage& u) {
  if (u.prompt_tokens > 0 || u.completion_tokens > 0) {
    add(s, "gen_ai.usage.input_tokens", static_cast<std::int64_t>(u.prompt_tokens));
    add(s, "gen_ai.usage.output_tokens", static_cast<std::int64_t>(u.completion_tokens));
  }
}

std::string span_name(std::string_view op, std::string_view model) {
  std::string name(op);
  if (!model.empty()) {
    name += ' ';
    name += model;
  }
  return name;
}

// The attempt that served the answer: its span gets the response model and the usage.
const router::AttemptRecord* serving_attempt(const router::CallOutcome& o) {
  for (auto it = o.attempt_log.rbegin(); it != o.attempt_log.rend(); ++it) {
    if (it->outcome == "success") {
      return &*it;
    }
  }
  return nullptr;
}

Span attempt_span(const pipeline::RequestContext& ctx, const router::AttemptRecord& a,
                  const Span& parent, bool serving) {
  const auto& o = *ctx.outcome;
  const auto op = operation_name(ctx.route.op);
  Span s;
  s.trace_id = parent.trace_id;
  s.span_id.assign(a.span_id.data(), a.span_id.size());
  if (s.span_id.front() == '\0') {
    s.span_id = common::random_hex(16);  // no traceparent went upstream
  }
  s.parent_span_id = parent.span_id;
  s.kind = tracing::SpanKind::client;
  s.name = span_name(op, a.target ? std::string_view(a.target->model) : std::string_view());
  const double offset = std::chrono::duration<double>(a.started - ctx.started).count();
  s.start_unix_nano = plus_seconds(parent.start_unix_nano, offset);
  s.end_unix_nano = plus_seconds(s.start_unix_nano, a.seconds);
  add(s, "gen_ai.operation.name", op);
  add_provider(s, a.provider);
  if (a.target) {
    add(s, "gen_ai.request.model", a.target->model);
  }
  if (a.provider) {
    add(s, "server.address", a.provider->endpoint.url.host);
    add(s, "server.port", static_cast<std::int64_t>(a.provider->endpoint.url.port));
    if (a.provider->config) {
      add(s, "llmgw.provider", a.provider->config->name);
    }
  }
  if (a.status > 0) {
    add(s, "http.response.status_code", static_cast<std::int64_t>(a.status));
  }
  if (a.outcome != "success") {
    add(s, "error.type", a.outcome);
    s.error = true;
  }
  if (serving) {
    add(s, "gen_ai.response.model", o.served_model);
    add_usage(s, o.usage);
  }
  return s;
}

class TraceTap final : public pipeline::ResponseTap {
public:
  explicit TraceTap(tracing::Exporter& exporter) : exporter_(exporter) {}
  std::string_view name() const override { return "tracing"; }
  void on_response(const pipeline::RequestContext& ctx) override {
    const auto trace = tracing::parse_traceparent(ctx.traceparent);
    if (!trace || !trace->sampled) {
      return;
    }
    exporter_.submit(request_spans(ctx, *trace));
  }

private:
  tracing::Exporter& exporter_;
};

}  // namespace

std::vector<Span> request_spans(const pipeline::RequestContext& ctx,
                                const tracing::TraceParent& trace) {
  const auto& o = *ctx.outcome;
  const auto op = operation_name(ctx.route.op);
  std::vector<Span> spans;
  spans.reserve(1 + o.attempt_log.size());
  Span& server = spans.emplace_back();
  server.trace_id = trace.trace_id;
  server.span_id = common::random_hex(16);
  if (auto client = tracing::parse_traceparent(ctx.traceparent_in)) {
    server.parent_span_id = client->parent_id;
  }
  server.kind = tracing::SpanKind::server;
  // Only a configured model names the span: a client's made-up model would mint span names
  // (and fill the exporter's queue with its text); what it asked for is an attribute, cut.
  server.name = span_name(op, ctx.model ? ctx.model_name : std::string_view());
  server.start_unix_nano = unix_nano(ctx.received);
  server.end_unix_nano = plus_seconds(server.start_unix_nano, ctx.elapsed_seconds);
  add(server, "gen_ai.operation.name", op);
  add(server, "gen_ai.request.model", ctx.model ? std::string(ctx.model_name)
                                                : api::echo(ctx.model_name));
  add(server, "gen_ai.response.model", o.served_model);
  const auto* serving = serving_attempt(o);
  add_provider(server, serving ? serving->provider : nullptr);
  add_usage(server, o.usage);
  add(server, "http.request.method", ctx.method);
  add(server, "http.route", ctx.route.path);
  add(server, "http.response.status_code", static_cast<std::int64_t>(o.status));
  add(server, "llmgw.request_id", ctx.request_id);
  add(server, "llmgw.provider", o.provider);
  if (!o.error_code.empty()) {
    add(server, "error.type", o.error_code);
  }
  server.error = o.status >= 500;
  // Reserved above: `server` stays where it is while the attempts' spans are added.
  for (const auto& a : o.attempt_log) {
    spans.push_back(attempt_span(ctx, a, server, &a == serving));
  }
  return spans;
}

std::unique_ptr<pipeline::ResponseTap> make_trace_tap(tracing::Exporter& exporter) {
  return std::make_unique<TraceTap>(exporter);
}

}  // namespace llmgw::server
