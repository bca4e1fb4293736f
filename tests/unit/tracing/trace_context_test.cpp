// W3C trace context: which traceparents are honoured, what goes upstream, how new traces are
// sampled; and the OTLP JSON a batch of spans becomes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "llmgw/tracing/span.hpp"
#include "llmgw/tracing/trace_context.hpp"

namespace llmgw::tracing {
namespace {

constexpr std::string_view kTrace = "0af7651916cd43dd8448eb211c80319c";
constexpr std::string_view kValid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

TEST(TraceParent, AValidHeaderIsReadAndAnInvalidOneIsNot) {
  auto p = parse_traceparent(kValid);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->trace_id, kTrace);
  EXPECT_EQ(p->parent_id, "b7ad6b7169203331");
  EXPECT_TRUE(p->sampled);
  EXPECT_FALSE(parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")
                   ->sampled);
  for (std::string_view bad : {
           "", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
           "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",   // upper case
           "00-00000000000000000000000000000000-b7ad6b7169203331-01",   // zero trace id
           "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",   // zero parent id
           "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // forbidden version
           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",  // 00 has no more
       }) {
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  }
  // A later version may carry more fields; its first four are read as version 00's.
  EXPECT_TRUE(parse_traceparent(std::string(kValid).replace(0, 2, "01") + "-extra"));
}

TEST(TraceParent, UpstreamGetsTheClientsTraceOrANewOneOnlyWithTracingOn) {
  const std::regex shape("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$");
  auto kept = outgoing_traceparent(kValid, false, 1.0);
  EXPECT_TRUE(std::regex_match(kept, shape)) << kept;
  EXPECT_EQ(kept.substr(3, 32), kTrace);
  EXPECT_NE(kept.substr(36, 16), "b7ad6b7169203331") << "our own span id, not the client's";
  EXPECT_TRUE(kept.ends_with("-01"));
  // The client's "not sampled" is kept even at ratio 1.
  auto unsampled = std::string(kValid).replace(53, 2, "00");
  EXPECT_TRUE(outgoing_traceparent(unsampled, true, 1.0).ends_with("-00"));

  EXPECT_EQ(outgoing_traceparent("", false, 1.0), "");
  EXPECT_EQ(outgoing_traceparent("garbage", false, 1.0), "");
  auto fresh = outgoing_traceparent("garbage", true, 1.0);
  EXPECT_TRUE(std::regex_match(fresh, shape)) << fresh;
  EXPECT_TRUE(fresh.ends_with("-01"));
  EXPECT_TRUE(outgoing_traceparent("", true, 0.0).ends_with("-00"));
}

TEST(TraceParent, NewTracesAreSampledByTheirIdAtTheRatio) {
  EXPECT_TRUE(sampled_by_ratio("0000000000000000" "0000000000000001", 0.001));
  EXPECT_FALSE(sampled_by_ratio("0000000000000000" "ffffffffffffffff", 0.999));
  EXPECT_TRUE(sampled_by_ratio("0000000000000000" "7fffffffffffffff", 0.5));
  EXPECT_FALSE(sampled_by_ratio("0000000000000000" "8000000000000001", 0.5));
  int kept = 0;
  for (int i = 0; i < 2000; ++i) {
    kept += outgoing_traceparent("", true, 0.25).ends_with("-01") ? 1 : 0;
  }
  EXPECT_GT(kept, 350);
  EXPECT_LT(kept, 650);
}

TEST(OtlpJson, SpansBecomeOneResourceAndScopeWithHexIdsAndStringIntegers) {
  Span server;
  server.trace_id = std::string(kTrace);
  server.span_id = "1111111111111111";
  server.parent_span_id = "b7ad6b7169203331";
  server.name = "chat demo";
  server.kind = SpanKind::server;
  server.start_unix_nano = 1'700'000'000'000'000'001;
  server.end_unix_nano = 1'700'000'000'500'000'000;
  server.attributes = {{"gen_ai.request.model", std::string("demo")},
                       {"gen_ai.usage.input_tokens", std::int64_t{7}},
                       {"ratio", 0.5},
                       {"flag", true}};
  server.error = true;
  Span client = server;
  client.span_id = "2222222222222222";
  client.parent_span_id = "";
  client.kind = SpanKind::client;
  const std::vector<Span> spans{server, client};
  auto j = nlohmann::json::parse(otlp_json(spans, "gw", "1.2.3"));
  const auto& rs = j["resourceSpans"][0];
  EXPECT_EQ(rs["resource"]["attributes"][0]["key"], "service.name");
  EXPECT_EQ(rs["resource"]["attributes"][0]["value"]["stringValue"], "gw");
  EXPECT_EQ(rs["scopeSpans"][0]["scope"]["version"], "1.2.3");
  const auto& s = rs["scopeSpans"][0]["spans"];
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0]["traceId"], kTrace);
  EXPECT_EQ(s[0]["spanId"], "1111111111111111");
  EXPECT_EQ(s[0]["parentSpanId"], "b7ad6b7169203331");
  EXPECT_EQ(s[0]["kind"], 2);
  EXPECT_EQ(s[0]["startTimeUnixNano"], "1700000000000000001");
  EXPECT_EQ(s[0]["status"]["code"], 2);
  EXPECT_EQ(s[0]["attributes"][0]["value"]["stringValue"], "demo");
  EXPECT_EQ(s[0]["attributes"][1]["value"]["intValue"], "7");
  EXPECT_EQ(s[0]["attributes"][2]["value"]["doubleValue"], 0.5);
  EXPECT_EQ(s[0]["attributes"][3]["value"]["boolValue"], true);
  EXPECT_EQ(s[1]["kind"], 3);
  EXPECT_FALSE(s[1].contains("parentSpanId")) << "a root span has none";
}

}  // namespace
}  // namespace llmgw::tracing
