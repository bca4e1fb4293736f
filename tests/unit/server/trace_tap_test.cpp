// A request's spans: one server span (child of the client's span), one client span per attempt
// (its id the one sent upstream), with the GenAI attributes.
#include <gtest/gtest.h>

#include "server/trace_tap.hpp"

namespace llmgw::server {
namespace {

using namespace std::chrono_literals;

const tracing::Attribute* find(const tracing::Span& s, std::string_view key) {
  for (const auto& a : s.attributes) {
    if (a.key == key) {
      return &a;
    }
  }
  return nullptr;
}

std::string text(const tracing::Span& s, std::string_view key) {
  const auto* a = find(s, key);
  return a ? std::get<std::string>(a->value) : "<none>";
}

std::int64_t number(const tracing::Span& s, std::string_view key) {
  const auto* a = find(s, key);
  return a ? std::get<std::int64_t>(a->value) : -1;
}

std::array<char, 16> id(std::string_view hex) {
  std::array<char, 16> out{};
  std::copy(hex.begin(), hex.end(), out.begin());
  return out;
}

TEST(TraceTap, ServerSpanUnderTheClientsAndOneClientSpanPerAttempt) {
  config::Config cfg;
  config::ProviderConfig pa, pb;
  pa.name = "primary";
  pa.kind = config::ProviderKind::openai;
  pb.name = "backup";
  pb.kind = config::ProviderKind::anthropic;
  router::ProviderRoute a, b;
  a.config = &pa;
  a.endpoint.url.host = "10.0.0.1";
  a.endpoint.url.port = 8001;
  b.config = &pb;
  b.endpoint.url.host = "10.0.0.2";
  b.endpoint.url.port = 8002;
  config::TargetConfig ta, tb;
  ta.model = "gpt-x";
  tb.model = "claude-x";

  router::CallOutcome o;
  o.status = 200;
  o.provider = "backup";
  o.served_model = "claude-x";
  o.usage.prompt_tokens = 11;
  o.usage.completion_tokens = 5;
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  router::AttemptRecord first{&a, &ta, "server_error", 503, t0 + 10ms, 0.1,
                              id("aaaaaaaaaaaaaaaa")};
  router::AttemptRecord second{&b, &tb, "success", 200, t0 + 120ms, 0.2,
                               id("bbbbbbbbbbbbbbbb")};
  o.attempt_log = {first, second};

  const api::Route route{"/v1/chat/completions", api::Operation::chat, nullptr};
  pipeline::RequestContext ctx{cfg, route};
  config::ModelConfig demo;
  demo.name = "demo";
  ctx.model = &demo;  // a configured model names the span (a made-up one does not)
  ctx.model_name = "demo";
  ctx.method = "POST";
  ctx.request_id = "req-1";
  ctx.received = std::chrono::system_clock::time_point{} + 1000s;
  ctx.started = t0;
  ctx.elapsed_seconds = 0.5;
  ctx.outcome = &o;
  ctx.traceparent_in = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  ctx.traceparent = "00-0af7651916cd43dd8448eb211c80319c-bbbbbbbbbbbbbbbb-01";
  const auto trace = tracing::parse_traceparent(ctx.traceparent);
  ASSERT_TRUE(trace);

  const auto spans = request_spans(ctx, *trace);
  ASSERT_EQ(spans.size(), 3u);
  const auto& server = spans[0];
  EXPECT_EQ(server.kind, tracing::SpanKind::server);
  EXPECT_EQ(server.trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(server.parent_span_id, "b7ad6b7169203331") << "the client's span";
  EXPECT_EQ(server.span_id.size(), 16u);
  EXPECT_EQ(server.name, "chat demo");
  EXPECT_EQ(server.start_unix_nano, 1000'000'000'000u);
  EXPECT_EQ(server.end_unix_nano, 1000'500'000'000u);
  EXPECT_EQ(text(server, "gen_ai.operation.name"), "chat");
  EXPECT_EQ(text(server, "gen_ai.request.model"), "demo");
  EXPECT_EQ(text(server, "gen_ai.response.model"), "claude-x");
  EXPECT_EQ(text(server, "gen_ai.provider.name"), "anthropic");
  EXPECT_EQ(number(server, "gen_ai.usage.input_tokens"), 11);
  EXPECT_EQ(number(server, "gen_ai.usage.output_tokens"), 5);
  EXPECT_EQ(number(server, "http.response.status_code"), 200);
  EXPECT_EQ(find(server, "error.type"), nullptr);
  EXPECT_FALSE(server.error);

  const auto& failed = spans[1];
  EXPECT_EQ(failed.kind, tracing::SpanKind::client);
  EXPECT_EQ(failed.span_id, "aaaaaaaaaaaaaaaa") << "the id its traceparent carried upstream";
  EXPECT_EQ(failed.parent_span_id, server.span_id);
  EXPECT_EQ(failed.trace_id, server.trace_id);
  EXPECT_EQ(failed.name, "chat gpt-x");
  EXPECT_EQ(failed.start_unix_nano, 1000'010'000'000u);
  EXPECT_EQ(failed.end_unix_nano, 1000'110'000'000u);
  EXPECT_EQ(text(failed, "gen_ai.provider.name"), "openai");
  EXPECT_EQ(text(failed, "gen_ai.system"), "openai");
  EXPECT_EQ(text(failed, "gen_ai.request.model"), "gpt-x");
  EXPECT_EQ(text(failed, "server.address"), "10.0.0.1");
  EXPECT_EQ(number(failed, "server.port"), 8001);
  EXPECT_EQ(number(failed, "http.response.status_code"), 503);
  EXPECT_EQ(text(failed, "error.type"), "server_error");
  EXPECT_TRUE(failed.error);
  EXPECT_EQ(find(failed, "gen_ai.usage.input_tokens"), nullptr);

  const auto& served = spans[2];
  EXPECT_EQ(served.span_id, "bbbbbbbbbbbbbbbb");
  EXPECT_EQ(text(served, "gen_ai.response.model"), "claude-x");
  EXPECT_EQ(number(served, "gen_ai.usage.output_tokens"), 5);
  EXPECT_FALSE(served.error);
}

}  // namespace
}  // namespace llmgw::server
