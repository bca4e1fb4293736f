// The access log's line: the fields operators parse (nginx / Envoy style), absent values as
// null, one entry per upstream attempt, and client text that cannot bloat or break the line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "llmgw/server/access_log.hpp"
#include "server/access_line.hpp"

namespace llmgw::server {
namespace {

using namespace std::chrono;
using nlohmann::json;

system_clock::time_point at(int y, unsigned mo, unsigned d, hours h, minutes mi, seconds s,
                            milliseconds ms) {
  return sys_days{year{y} / month{mo} / day{d}} + h + mi + s + ms;
}

std::string rfc3339(system_clock::time_point t) {
  std::string out;
  append_rfc3339_ms(out, t);
  return out;
}

TEST(AccessLine, TimestampsAreRfc3339InUtcWithMilliseconds) {
  EXPECT_EQ(rfc3339(at(2026, 12, 6, 17h, 40min, 1s, 123ms)), "2026-12-06T17:40:01.123Z");
  EXPECT_EQ(rfc3339(at(2027, 1, 2, 3h, 4min, 5s, 6ms)), "2027-01-02T03:04:05.006Z");
  // Sub-millisecond time is cut, never rounded into the next second.
  EXPECT_EQ(rfc3339(at(2026, 12, 31, 23h, 59min, 59s, 999ms) + 900us),
            "2026-12-31T23:59:59.999Z");
}

struct Fixture {
  config::ProviderConfig cfg_a, cfg_b;
  router::ProviderRoute a, b;
  config::TargetConfig target_a, target_b;

  Fixture() {
    cfg_a.name = "sim-a";
    cfg_b.name = "sim-b";
    a.config = &cfg_a;
    b.config = &cfg_b;
    a.endpoint.url.host = "10.0.0.1";
    a.endpoint.url.port = 8001;
    b.endpoint.url.host = "::1";
    b.endpoint.url.port = 8002;
    target_a.model = "model-a";
    target_b.model = "model-b";
  }

  router::AttemptRecord attempt(const router::ProviderRoute& p, std::string_view outcome,
                                int status, double seconds) {
    router::AttemptRecord r;
    r.provider = &p;
    r.target = &p == &a ? &target_a : &target_b;
    r.outcome = outcome;
    r.status = status;
    r.seconds = seconds;
    return r;
  }
};

json line_of(const AccessEntry& e) {
  std::string out;
  format_access_line(e, out);
  EXPECT_EQ(out.find('\n'), std::string::npos);
  return json::parse(out);
}

TEST(AccessLine, AFailedOverRequestNamesEveryAttemptAndTheServedUpstream) {
  Fixture f;
  router::CallOutcome o;
  o.status = 200;
  o.provider = "sim-b";
  o.served_model = "model-b";
  o.attempts = 2;
  o.attempt_log.push_back(f.attempt(f.a, "server_error", 503, 0.0125));
  o.attempt_log.push_back(f.attempt(f.b, "success", 200, 0.25));
  o.usage.prompt_tokens = 7;
  o.usage.completion_tokens = 3;
  o.cost_usd = 0.5;
  o.ttft_seconds = 0.1;
  AccessEntry e;
  e.received = at(2026, 12, 6, 17h, 40min, 1s, 123ms);
  e.request_id = "req-1";
  e.method = "POST";
  e.route = "/v1/chat/completions";
  e.user_agent = "OpenAI/Python 1.0";
  e.remote = "127.0.0.1:5000";
  e.key = "team-a";
  e.model = "demo";
  e.bytes_in = 42;
  e.bytes_out = 512;
  e.outcome = &o;
  e.total_seconds = 0.3;
  e.session = "s-1";
  e.stream = true;
  auto j = line_of(e);
  EXPECT_EQ(j["ts"], "2026-12-06T17:40:01.123Z");
  EXPECT_EQ(j["request_id"], "req-1");
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["route"], "/v1/chat/completions");
  EXPECT_FALSE(j.contains("path"));
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["bytes_in"], 42);
  EXPECT_EQ(j["bytes_out"], 512);
  EXPECT_EQ(j["user_agent"], "OpenAI/Python 1.0");
  EXPECT_EQ(j["remote"], "127.0.0.1:5000");
  EXPECT_EQ(j["key"], "team-a");
  EXPECT_EQ(j["model"], "demo");
  EXPECT_EQ(j["served_model"], "model-b");
  EXPECT_EQ(j["provider"], "sim-b");
  EXPECT_EQ(j["upstream"], "[::1]:8002");
  ASSERT_EQ(j["attempts"].size(), 2u);
  EXPECT_EQ(j["attempts"][0], (json{{"target", "sim-a"}, {"upstream", "10.0.0.1:8001"},
                                     {"class", "server_error"}, {"status", 503}, {"ms", 12.5}}));
  EXPECT_EQ(j["attempts"][1]["class"], "success");
  EXPECT_EQ(j["attempts"][1]["ms"], 250);
  EXPECT_EQ(j["ttft_ms"], 100);
  EXPECT_EQ(j["total_ms"], 300);
  EXPECT_EQ(j["tokens_in"], 7);
  EXPECT_EQ(j["tokens_out"], 3);
  EXPECT_EQ(j["cost_usd"], 0.5);
  EXPECT_EQ(j["cache"], "none");
  EXPECT_EQ(j["session"], "s-1");
  EXPECT_EQ(j["stream"], true);
  EXPECT_TRUE(j["error"].is_null());
}

TEST(AccessLine, WhatARefusedRequestDidNotHaveIsNull) {
  router::CallOutcome o;
  o.status = 401;
  o.error_code = "invalid_api_key";
  AccessEntry e;
  e.method = "POST";
  e.route = "/v1/chat/completions";
  e.outcome = &o;
  auto j = line_of(e);
  for (const char* field : {"key", "model", "served_model", "provider", "upstream", "user_agent",
                            "session", "ttft_ms", "bytes_out"}) {
    EXPECT_TRUE(j[field].is_null()) << field << ": " << j[field];
  }
  EXPECT_EQ(j["attempts"], json::array());
  EXPECT_EQ(j["error"], "invalid_api_key");
  EXPECT_EQ(j["status"], 401);
}

TEST(AccessLine, ClientTextIsEscapedAndCut) {
  router::CallOutcome o;
  o.status = 404;
  AccessEntry e;
  e.route = "unmatched";
  const std::string asked = "/v1/\"odd\"\n" + std::string(5000, 'p');
  e.path = asked;
  const std::string agent = "agent\"\\" + std::string(10000, 'a');
  e.user_agent = agent;
  const std::string model(1 << 16, 'm');
  e.model = model;
  e.outcome = &o;
  std::string out;
  format_access_line(e, out);
  EXPECT_LT(out.size(), 1024u);
  auto j = json::parse(out);
  EXPECT_EQ(j["user_agent"].get<std::string>(), agent.substr(0, kMaxUserAgent));
  // Quotes survive escaped; a control character becomes '?' (api::echo), and the cut shows.
  const auto path = j["path"].get<std::string>();
  EXPECT_TRUE(path.starts_with("/v1/\"odd\"?ppp")) << path;
  EXPECT_TRUE(path.ends_with("…")) << path;
  EXPECT_LT(j["model"].get<std::string>().size(), 200u);
}

TEST(AccessLine, AttemptsBeyondTheCapAreCountedNotListed) {
  Fixture f;
  router::CallOutcome o;
  o.status = 503;
  for (std::size_t i = 0; i < kMaxLoggedAttempts + 3; ++i) {
    o.attempt_log.push_back(f.attempt(f.a, "timeout", 0, 1));
  }
  AccessEntry e;
  e.outcome = &o;
  auto j = line_of(e);
  EXPECT_EQ(j["attempts"].size(), kMaxLoggedAttempts);
  EXPECT_TRUE(j["attempts"][0]["status"].is_null());
  EXPECT_EQ(j["attempts_not_logged"], 3);
}

}  // namespace
}  // namespace llmgw::server
