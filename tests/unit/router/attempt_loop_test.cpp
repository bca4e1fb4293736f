// The attempt loop (Router::call) in simulated time: a scripted transport, a manual clock and a
// recording sink, so failover, backoff, budgets, hedging, continuation, degrade, cancellation
// and panic routing are decided exactly as in the daemon, with no socket and no sleep.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes/config_builders.hpp"
#include "fakes/manual_time.hpp"
#include "fakes/recording_sink.hpp"
#include "fakes/scripted_transport.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/router/router.hpp"
#include "router/continuation.hpp"

namespace llmgw::router {
namespace {

using namespace std::chrono_literals;
using fakes::Reply;
using fakes::Slice;
using nlohmann::json;

constexpr const char* kA = "127.0.0.1:1";
constexpr const char* kB = "127.0.0.1:2";

std::string answer(const std::string& text) {
  return json{{"id", "chatcmpl-1"},
              {"object", "chat.completion"},
              {"created", 1},
              {"model", "upstream-model"},
              {"choices",
               json::array({{{"index", 0},
                             {"message", {{"role", "assistant"}, {"content", text}}},
                             {"finish_reason", "stop"}}})},
              {"usage", {{"prompt_tokens", 3}, {"completion_tokens", 2}, {"total_tokens", 5}}}}
      .dump();
}

std::string chunk(const json& delta, const json& finish = nullptr) {
  return json{{"id", "chatcmpl-s"},
              {"object", "chat.completion.chunk"},
              {"created", 1},
              {"model", "upstream-model"},
              {"choices", json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}}
      .dump();
}

std::string text_chunk(const std::string& text) { return chunk({{"content", text}}); }
std::string role_chunk() { return chunk({{"role", "assistant"}, {"content", ""}}); }
std::string stop_chunk() { return chunk(json::object(), "stop"); }

std::string error_body(const std::string& message) {
  return json{{"error", {{"message", message}, {"type", "server_error"}}}}.dump();
}

config::ProviderConfig provider(const std::string& name, int port) {
  auto p = fakes::provider(name, config::ProviderKind::openai_compatible, port);
  p.api_key = "sk-" + name;
  p.timeouts.total = 5s;
  return p;
}

using fakes::target;

class AttemptLoop : public ::testing::Test {
protected:
  AttemptLoop() {
    cfg->providers = {provider("a", 1), provider("b", 2)};
    config::ModelConfig pair;
    pair.name = "pair";
    pair.targets = {target("a"), target("b")};
    config::ModelConfig solo;
    solo.name = "solo";
    solo.targets = {target("a")};
    cfg->models = {pair, solo};
  }

  config::ModelConfig& model(const std::string& name) {
    for (auto& m : cfg->models) {
      if (m.name == name) {
        return m;
      }
    }
    throw std::runtime_error("no model " + name);
  }

  CallOutcome call(const std::string& model_name, bool stream = false,
                   std::optional<std::chrono::nanoseconds> cancel_after = std::nullopt,
                   std::chrono::seconds timeout = 60s,
                   providers::Operation op = providers::Operation::chat) {
    if (!table) {
      table = RouteTable::build(cfg, 1);
    }
    sink = fakes::RecordingSink{};
    sink.speaks = client_dialect;
    if (op == providers::Operation::completions) {
      body = json{{"model", model_name}, {"prompt", legacy_prompt}};
    } else {
      body = json{{"model", model_name},
                  {"messages", json::array({{{"role", "user"}, {"content", "Say hello."}}})}};
    }
    if (stream) {
      body["stream"] = true;
    }
    request = CallRequest{};
    request.op = op;
    request.route = op == providers::Operation::completions ? "/v1/completions"
                                                             : "/v1/chat/completions";
    request.body = &body;
    request.model = model_name;
    request.stream = stream;
    request.request_id = "req-1";
    request.traceparent = traceparent;
    request.started = time.now();
    request.deadline = request.started + timeout;
    return fakes::run_simulated(ctx, time, router.call(*table, request, sink), cancel_after);
  }

  health::TargetHealth& health_of(const std::string& provider) {
    return *table->provider(provider)->health;
  }

  json sink_json() const { return json::parse(sink.body); }

  // The io_context first: it outlives the clock's timers and the transport's exchanges.
  boost::asio::io_context ctx;
  fakes::ManualTime time;
  fakes::ScriptedTransport transport{time};
  metrics::Metrics metrics{"test"};
  Router router{transport, metrics, RouterEnvironment{&time, &time, 42}};
  std::shared_ptr<config::Config> cfg = std::make_shared<config::Config>();
  std::shared_ptr<const RouteTable> table;
  fakes::RecordingSink sink;
  api::Dialect client_dialect = api::Dialect::openai;  // what the sink of the next call speaks
  json body;
  json legacy_prompt = "Once upon";
  std::string traceparent;  // what the next call sends upstream
  CallRequest request;
};

// ---- failover ------------------------------------------------------------------------------

struct FailureCase {
  const char* name;
  Reply reply;
};

class FailsOver : public AttemptLoop, public ::testing::WithParamInterface<FailureCase> {};

TEST_P(FailsOver, ToTheNextTargetAndTheClientSeesOnlyTheAnswer) {
  transport.script(kA, {GetParam().reply});
  transport.script(kB, {Reply::json(200, answer("from b"))});
  auto out = call("pair");
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.provider, "b");
  EXPECT_EQ(out.attempts, 2u);
  EXPECT_EQ(sink.status, 200);
  EXPECT_EQ(sink.header("x-llmgw-provider"), "b");
  EXPECT_EQ(sink_json()["choices"][0]["message"]["content"], "from b");
  EXPECT_EQ(transport.sent_to(kA), 1u);
}

FailureCase broken_stream_case() {
  auto r = Reply::json(200, R"({"id":"x","choices":[)");
  return {"truncated_json", r};
}

INSTANTIATE_TEST_SUITE_P(
    EveryFailureClass, FailsOver,
    ::testing::Values(
        FailureCase{"connect", Reply::fail(api::FailureClass::connect, "connection refused")},
        FailureCase{"tls", Reply::fail(api::FailureClass::tls, "certificate verify failed")},
        FailureCase{"hang_until_the_attempt_deadline", Reply::hanging()},
        FailureCase{"status_500", Reply::json(500, error_body("boom"))},
        FailureCase{"status_503", Reply::json(503, error_body("overloaded"))},
        FailureCase{"status_429", Reply::json(429, error_body("slow down"))},
        FailureCase{"status_401_key_rejected", Reply::json(401, error_body("bad key"))},
        FailureCase{"empty_200", Reply::json(200, "")},
        FailureCase{"wrong_shape_200", Reply::json(200, R"({"unexpected":true})")},
        broken_stream_case()),
    [](const auto& test) { return std::string(test.param.name); });

TEST_F(AttemptLoop, AClientErrorIsPassedThroughAndNoOtherTargetIsTried) {
  transport.script(kA, {Reply::json(400, error_body("'temperature' is out of range"))});
  transport.script(kB, {Reply::json(200, answer("from b"))});
  auto out = call("pair");
  EXPECT_EQ(out.status, 400);
  EXPECT_EQ(sink.status, 400);
  EXPECT_NE(sink.body.find("temperature"), std::string::npos);
  EXPECT_EQ(transport.sent_to(kB), 0u);
  EXPECT_TRUE(health_of("a").peek(time.now()).routable) << "a client's mistake harms no target";
}

TEST_F(AttemptLoop, TheAttemptLogNamesEachAttemptWithItsClassStatusAndDuration) {
  transport.script(kA, {Reply::json(503, error_body("overloaded")).after(300ms)});
  transport.script(kB, {Reply::json(200, answer("from b")).after(200ms)});
  auto out = call("pair");
  ASSERT_EQ(out.attempt_log.size(), 2u);
  const auto& first = out.attempt_log[0];
  const auto& second = out.attempt_log[1];
  EXPECT_EQ(first.provider->config->name, "a");
  EXPECT_EQ(first.outcome, "server_error");
  EXPECT_EQ(first.status, 503);
  EXPECT_NEAR(first.seconds, 0.3, 1e-6);
  EXPECT_EQ(second.provider->config->name, "b");
  EXPECT_EQ(second.target->model, out.served_model);
  EXPECT_EQ(second.outcome, "success");
  EXPECT_EQ(second.status, 200);
  EXPECT_GE(second.started, first.started + 300ms) << "in the order they ran";
  EXPECT_NEAR(second.seconds, 0.2, 1e-6);
}

TEST_F(AttemptLoop, APassedOnClientErrorIsLoggedWithItsClassAndAConnectFailureWithNoStatus) {
  transport.script(kA, {Reply::fail(api::FailureClass::connect, "connection refused")});
  transport.script(kB, {Reply::json(400, error_body("'temperature' is out of range"))});
  auto out = call("pair");
  ASSERT_EQ(out.attempt_log.size(), 2u);
  EXPECT_EQ(out.attempt_log[0].outcome, "connect");
  EXPECT_EQ(out.attempt_log[0].status, 0);
  EXPECT_EQ(out.attempt_log[1].outcome, "client_error");
  EXPECT_EQ(out.attempt_log[1].status, 400);
}

TEST_F(AttemptLoop, EachAttemptSendsItsOwnSpanIdUpstreamAndLogsIt) {
  traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  transport.script(kA, {Reply::json(503, error_body("overloaded"))});
  transport.script(kB, {Reply::json(200, answer("from b"))});
  auto out = call("pair");
  ASSERT_EQ(out.attempt_log.size(), 2u);
  ASSERT_EQ(transport.sent().size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto sent = std::string(transport.sent()[i].header("traceparent"));
    const auto& id = out.attempt_log[i].span_id;
    EXPECT_EQ(sent, "00-0af7651916cd43dd8448eb211c80319c-" + std::string(id.data(), id.size()) +
                        "-01");
  }
  EXPECT_NE(out.attempt_log[0].span_id, out.attempt_log[1].span_id);
}

TEST_F(AttemptLoop, WithoutATraceparentNoSpanIdIsMadeUp) {
  transport.script(kA, {Reply::json(200, answer("a"))});
  auto out = call("solo");
  ASSERT_EQ(out.attempt_log.size(), 1u);
  EXPECT_EQ(out.attempt_log[0].span_id, (std::array<char, 16>{}));
  EXPECT_EQ(transport.sent()[0].header("traceparent"), "");
}

// ---- retry-after, backoff, deadline, budget ------------------------------------------------

TEST_F(AttemptLoop, RetryAfterCoolsTheTargetDownForThatLong) {
  auto first = Reply::json(429, error_body("slow down"));
  first.headers.emplace_back("retry-after", "30");
  transport.script(kA, {first, Reply::json(200, answer("a"))});
  transport.script(kB, {Reply::json(200, answer("b"))});

  EXPECT_EQ(call("pair").provider, "b");
  EXPECT_EQ(transport.sent_to(kA), 1u);
  time.advance(10s);
  EXPECT_EQ(call("pair").provider, "b") << "still cooling down: a is skipped without a request";
  EXPECT_EQ(transport.sent_to(kA), 1u);
  time.advance(21s);
  EXPECT_EQ(call("pair").provider, "a") << "cool-down over";
  EXPECT_EQ(transport.sent_to(kA), 2u);
}

TEST_F(AttemptLoop, TheOnlyTargetsRetryAfterIsWaitedOutWithinTheDeadline) {
  auto first = Reply::json(429, error_body("slow down"));
  first.headers.emplace_back("retry-after", "2");
  transport.script(kA, {first, Reply::json(200, answer("a"))});
  auto out = call("solo");
  EXPECT_EQ(out.status, 200);
  ASSERT_EQ(transport.sent().size(), 2u);
  auto waited = transport.sent()[1].at - transport.sent()[0].at;
  EXPECT_GE(waited, 2s);
  EXPECT_LT(waited, 3s);
}

TEST_F(AttemptLoop, BackoffGrowsWithinItsBoundsAndNoAttemptStartsPastTheDeadline) {
  auto& solo = model("solo");
  solo.retry.attempts = 20;
  solo.retry.backoff = {100ms, 800ms, config::Jitter::none};
  transport.script(kA, {Reply::json(503, error_body("overloaded"))});
  auto out = call("solo", false, std::nullopt, 3s);
  EXPECT_EQ(out.status, 503);
  const auto& sent = transport.sent();
  ASSERT_GE(sent.size(), 3u);
  for (std::size_t i = 1; i < sent.size(); ++i) {
    auto gap = sent[i].at - sent[i - 1].at;
    EXPECT_GE(gap, 100ms) << "attempt " << i;
    EXPECT_LE(gap, 800ms) << "attempt " << i;
    EXPECT_LT(sent[i].at, request.deadline) << "attempt " << i;
  }
  EXPECT_GE(sent[2].at - sent[1].at, sent[1].at - sent[0].at) << "exponential, not constant";
  EXPECT_LE(time.now(), request.deadline);
}

TEST_F(AttemptLoop, TheRetryBudgetStopsRetriesAndTheDiagnosisSaysSo) {
  auto& solo = model("solo");
  solo.retry.attempts = 10;
  solo.retry.budget = 0;  // only the budget's floor of 3 retries
  solo.retry.backoff = {1ms, 1ms, config::Jitter::none};
  transport.script(kA, {Reply::json(503, error_body("overloaded"))});
  auto out = call("solo");
  EXPECT_EQ(out.status, 503);
  EXPECT_EQ(transport.sent_to(kA), 4u);
  EXPECT_NE(sink.body.find("retry budget exhausted"), std::string::npos) << sink.body;
  EXPECT_NE(metrics.serialize().find(R"(llmgw_retry_budget_exhausted_total{model="solo"} 1)"),
            std::string::npos);
}

// ---- hedging -------------------------------------------------------------------------------

config::HedgeConfig hedge_after(std::chrono::milliseconds delay) {
  config::HedgeConfig hedge;
  hedge.after_quantile.reset();
  hedge.after_delay = delay;
  return hedge;
}

TEST_F(AttemptLoop, AHedgeWinsWhenThePrimaryIsSlowAndTheLoserIsCancelled) {
  model("pair").hedge = hedge_after(100ms);
  transport.script(kA, {Reply::json(200, answer("a, late")).after(4s)});
  transport.script(kB, {Reply::json(200, answer("b")).after(20ms)});
  auto start = time.now();
  auto out = call("pair");
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.provider, "b");
  EXPECT_EQ(sink_json()["choices"][0]["message"]["content"], "b");
  EXPECT_EQ(transport.cancelled(), 1u) << "the primary's exchange is abandoned";
  EXPECT_LT(time.now() - start, 200ms);
  EXPECT_TRUE(health_of("a").peek(time.now()).routable) << "losing a race is not a failure";
}

TEST_F(AttemptLoop, AHedgeThatFailsLeavesTheRaceToThePrimary) {
  model("pair").hedge = hedge_after(100ms);
  transport.script(kA, {Reply::json(200, answer("a, late")).after(2s)});
  transport.script(kB, {Reply::fail(api::FailureClass::connect, "connection refused")});
  auto out = call("pair");
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.provider, "a");
  EXPECT_EQ(sink_json()["choices"][0]["message"]["content"], "a, late");
  EXPECT_EQ(transport.sent_to(kB), 1u) << "the hedge was sent, failed, and is not sent again";
  EXPECT_EQ(transport.cancelled(), 0u) << "the primary was never abandoned";
  EXPECT_NE(health_of("b").snapshot(time.now()).last_error.find("connection refused"),
            std::string::npos)
      << "the partner's failure counts against it";
}

TEST_F(AttemptLoop, APrimaryThatFailsLeavesTheRaceToTheHedge) {
  model("pair").hedge = hedge_after(100ms);
  // The primary dies after the hedge went out.
  auto reset = Reply::fail(api::FailureClass::connect, "connection reset by peer");
  transport.script(kA, {std::move(reset).after(300ms)});
  transport.script(kB, {Reply::json(200, answer("b")).after(500ms)});
  auto start = time.now();
  auto out = call("pair");
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.provider, "b");
  EXPECT_EQ(sink_json()["choices"][0]["message"]["content"], "b");
  EXPECT_EQ(transport.sent_to(kB), 1u) << "the hedge in flight answered; it was not re-sent";
  EXPECT_EQ(transport.cancelled(), 0u) << "nothing was abandoned";
  EXPECT_EQ(time.now() - start, 600ms) << "the hedge's own time: 100 ms delay + 500 ms";
  EXPECT_NE(health_of("a").snapshot(time.now()).last_error.find("connection reset"),
            std::string::npos)
      << "the primary's failure counts against it";
}

TEST_F(AttemptLoop, WhenBothRacersFailTheSecondFailureEndsTheRace) {
  model("pair").hedge = hedge_after(100ms);
  model("pair").retry.attempts = 1;
  transport.script(kA, {Reply::json(503, error_body("a is overloaded")).after(300ms)});
  // At 300 ms too (100 ms delay + 200 ms), while the primary's failure waits on it.
  auto refused = Reply::fail(api::FailureClass::connect, "connection refused");
  transport.script(kB, {std::move(refused).after(200ms)});
  auto start = time.now();
  auto out = call("pair");
  EXPECT_EQ(out.status, 503);
  EXPECT_LT(time.now() - start, 1s) << "no racer waited for its deadline (5 s)";
  EXPECT_NE(health_of("a").snapshot(time.now()).last_error.find("overloaded"), std::string::npos);
  EXPECT_NE(health_of("b").snapshot(time.now()).last_error.find("connection refused"),
            std::string::npos);
}

TEST_F(AttemptLoop, NoHedgeWhenThePrimaryAnswersInTime) {
  model("pair").hedge = hedge_after(100ms);
  transport.script(kA, {Reply::json(200, answer("a")).after(50ms)});
  transport.script(kB, {Reply::json(200, answer("b"))});
  EXPECT_EQ(call("pair").provider, "a");
  EXPECT_EQ(transport.sent_to(kB), 0u);
}

// ---- streams -------------------------------------------------------------------------------

TEST_F(AttemptLoop, ABrokenStreamIsContinuedOnTheNextTargetAsOneStream) {
  auto broken = Reply::sse({role_chunk(), text_chunk("Hello"), text_chunk(" wor")});
  broken.break_after_body = upstream::Error{api::FailureClass::stall, "connection reset"};
  transport.script(kA, {broken});
  transport.script(kB, {Reply::sse({role_chunk(), text_chunk("ld!"), stop_chunk(), "[DONE]"})});
  auto out = call("pair", true);
  EXPECT_EQ(out.status, 200);
  EXPECT_TRUE(sink.streamed);
  EXPECT_TRUE(sink.ended);
  EXPECT_EQ(sink.body.find("error"), std::string::npos) << sink.body;
  EXPECT_NE(sink.body.find("Hello"), std::string::npos);
  EXPECT_NE(sink.body.find("ld!"), std::string::npos);
  EXPECT_EQ(sink.body.rfind("data: [DONE]"), sink.body.size() - 14) << sink.body;
  EXPECT_EQ(sink.body.find("\"role\"", sink.body.find(" wor")), std::string::npos)
      << "no second role chunk";
  ASSERT_EQ(transport.sent_to(kB), 1u);
  auto sent_b = json::parse(transport.sent().back().body);
  const auto& messages = sent_b["messages"];
  ASSERT_GE(messages.size(), 3u);
  EXPECT_EQ(messages[messages.size() - 2]["role"], "assistant");
  EXPECT_EQ(messages[messages.size() - 2]["content"], "Hello wor");
  EXPECT_EQ(messages.back()["content"], std::string(kContinuationInstruction));
}

// The events one upstream read brings go to the face as one batch (one write to the client).
TEST_F(AttemptLoop, TheEventsOfOneReadReachTheFaceAsOneBatch) {
  Reply burst;
  burst.headers.emplace_back("content-type", "text/event-stream");
  std::string all;
  for (const auto& e : {role_chunk(), text_chunk("a"), text_chunk("b"), text_chunk("c"),
                        stop_chunk(), std::string("[DONE]")}) {
    all += "data: " + e + "\n\n";
  }
  burst.body.push_back({10ms, all});
  transport.script(kA, {burst});
  call("solo", true);
  EXPECT_EQ(sink.body, all);
  EXPECT_EQ(sink.batches, (std::vector<std::size_t>{6})) << "one batch for the one read";
}

TEST_F(AttemptLoop, AStreamThatDiesBeforeContentFailsOverInvisibly) {
  auto broken = Reply::sse({role_chunk()});
  broken.break_after_body = upstream::Error{api::FailureClass::stall, "connection reset"};
  transport.script(kA, {broken});
  transport.script(kB, {Reply::sse({role_chunk(), text_chunk("Hi"), stop_chunk(), "[DONE]"})});
  auto out = call("pair", true);
  EXPECT_EQ(out.provider, "b");
  EXPECT_EQ(sink.header("x-llmgw-provider"), "b") << "the 200 waited for real content";
  EXPECT_EQ(transport.sent().back().body.find(std::string(kContinuationInstruction)),
            std::string::npos)
      << "nothing reached the client: a plain failover, not a continuation";
}

TEST_F(AttemptLoop, AToolCallInProgressEndsWithAnErrorEventNeverProse) {
  json call_delta = {{"tool_calls",
                      json::array({{{"index", 0},
                                    {"id", "call_1"},
                                    {"type", "function"},
                                    {"function", {{"name", "lookup"}, {"arguments", "{\"q\":"}}}}})}};
  auto broken = Reply::sse({role_chunk(), chunk(call_delta)});
  broken.break_after_body = upstream::Error{api::FailureClass::stall, "connection reset"};
  transport.script(kA, {broken});
  transport.script(kB, {Reply::sse({role_chunk(), text_chunk("prose"), stop_chunk(), "[DONE]"})});
  call("pair", true);
  EXPECT_TRUE(sink.ended);
  EXPECT_NE(sink.body.find("upstream_stream_failed"), std::string::npos) << sink.body;
  EXPECT_NE(sink.body.find("tool call"), std::string::npos) << sink.body;
  EXPECT_EQ(transport.sent_to(kB), 0u);
}

// ---- native relay --------------------------------------------------------------------------

// Anthropic's stream events, as its API writes them.
std::vector<Slice> anthropic_events(const std::vector<std::pair<std::string, json>>& events) {
  std::vector<Slice> slices;
  for (const auto& [name, data] : events) {
    slices.push_back({10ms, "event: " + name + "\ndata: " + data.dump() + "\n\n"});
  }
  return slices;
}

json text_delta(const std::string& text) {
  return {{"type", "content_block_delta"},
          {"index", 0},
          {"delta", {{"type", "text_delta"}, {"text", text}}}};
}

class NativeRelay : public AttemptLoop {
protected:
  NativeRelay() {
    for (const char* name : {"x", "y"}) {
      auto p = fakes::provider(name, config::ProviderKind::anthropic, name[0] == 'x' ? 1 : 2);
      p.api_key = std::string("sk-ant-") + name;
      p.timeouts.total = 5s;
      cfg->providers.push_back(p);
    }
    config::ModelConfig claude;
    claude.name = "claude";
    claude.targets = {target("x"), target("y")};
    cfg->models.push_back(claude);
  }

  static Reply stream(std::vector<Slice> events) {
    Reply r;
    r.headers.emplace_back("content-type", "text/event-stream");
    r.body = std::move(events);
    return r;
  }

  const json start = {{"type", "message_start"},
                      {"message", {{"id", "msg_x"}, {"model", "x-model"}, {"content", json::array()}}}};
  const json text_block = {{"type", "content_block_start"},
                           {"index", 0},
                           {"content_block", {{"type", "text"}, {"text", ""}}}};
};

// A client that speaks the target's dialect gets the target's own events, byte for byte (ping
// included: the canonical model has no place for it); the router still tracks the answer, so a
// stream that breaks is continued on the next target, rendered after what the client has.
TEST_F(NativeRelay, AnAnthropicClientGetsTheUpstreamsOwnEventsAndAContinuationFollows) {
  auto first = stream(anthropic_events({{"message_start", start},
                                        {"content_block_start", text_block},
                                        {"ping", {{"type", "ping"}}},
                                        {"content_block_delta", text_delta("Hello")},
                                        {"content_block_delta", text_delta(" wor")}}));
  first.break_after_body = upstream::Error{api::FailureClass::stall, "connection reset"};
  transport.script(kA, {first});
  transport.script(kB, {stream(anthropic_events(
                           {{"message_start", start},
                            {"content_block_start", text_block},
                            {"content_block_delta", text_delta("ld!")},
                            {"content_block_stop", {{"type", "content_block_stop"}, {"index", 0}}},
                            {"message_delta", {{"type", "message_delta"},
                                               {"delta", {{"stop_reason", "end_turn"}}},
                                               {"usage", {{"output_tokens", 3}}}}},
                            {"message_stop", {{"type", "message_stop"}}}}))});
  client_dialect = api::Dialect::anthropic;
  auto out = call("claude", true);
  EXPECT_EQ(out.status, 200);
  ASSERT_EQ(sink.native_events.size(), 5u) << sink.body;
  std::string sent;
  for (const auto& slice : first.body) {
    sent += slice.bytes;
  }
  EXPECT_TRUE(sink.body.starts_with(sent)) << sink.body;
  EXPECT_EQ(sink.native_events[2], "event: ping\ndata: {\"type\":\"ping\"}\n\n");
  // The continuation is rendered from canonical chunks (the face turns them into its events).
  const auto rest = sink.body.substr(sent.size());
  EXPECT_TRUE(rest.starts_with("data: {")) << rest;
  EXPECT_NE(rest.find("ld!"), std::string::npos) << rest;
  EXPECT_EQ(rest.find("\"role\""), std::string::npos) << "no second start";
  ASSERT_EQ(transport.sent_to(kB), 1u);
  auto sent_b = json::parse(transport.sent().back().body);
  // Anthropic continues a prefill: the partial answer is the last turn, no instruction follows.
  EXPECT_EQ(sent_b["messages"].back()["role"], "assistant") << sent_b.dump();
  EXPECT_EQ(sent_b["messages"].back()["content"][0]["text"], "Hello wor");
}

TEST_F(NativeRelay, ACompleteAnswerGoesAsTheUpstreamWroteItOnlyToAClientOfItsDialect) {
  const std::string message =
      R"({"id":"msg_1","type":"message","role":"assistant","model":"x-model","content":)"
      R"([{"type":"text","text":"hi","citations":[{"type":"web_search_result_location"}]}],)"
      R"("stop_reason":"end_turn","usage":{"input_tokens":4,"output_tokens":1}})";
  transport.script(kA, {Reply::json(200, message), Reply::json(200, message)});
  client_dialect = api::Dialect::anthropic;
  auto out = call("claude");
  EXPECT_EQ(out.status, 200);
  EXPECT_TRUE(sink.native_answer);
  EXPECT_EQ(sink.body, message);
  EXPECT_EQ(out.usage.prompt_tokens, 4u);

  client_dialect = api::Dialect::openai;
  call("claude");  // an OpenAI client: the canonical answer
  EXPECT_FALSE(sink.native_answer);
  EXPECT_EQ(sink_json()["object"], "chat.completion");
  EXPECT_EQ(sink_json()["choices"][0]["message"]["content"], "hi");
}

std::string legacy_chunk(const std::string& text, const json& finish = nullptr) {
  return json{{"id", "cmpl-s"},
              {"object", "text_completion"},
              {"created", 1},
              {"model", "upstream-model"},
              {"choices", json::array({{{"index", 0}, {"text", text}, {"finish_reason", finish}}})}}
      .dump();
}

TEST_F(AttemptLoop, ALegacyCompletionsStreamIsContinuedByExtendingThePrompt) {
  auto broken = Reply::sse({legacy_chunk(" a"), legacy_chunk(" time")});
  broken.break_after_body = upstream::Error{api::FailureClass::stall, "connection reset"};
  transport.script(kA, {broken});
  transport.script(kB, {Reply::sse({legacy_chunk(" there was"), legacy_chunk("", "stop"), "[DONE]"})});
  auto out = call("pair", true, std::nullopt, 60s, providers::Operation::completions);
  EXPECT_EQ(out.status, 200);
  EXPECT_TRUE(sink.ended);
  EXPECT_EQ(sink.body.find("error"), std::string::npos) << sink.body;
  EXPECT_NE(sink.body.find(" there was"), std::string::npos) << sink.body;
  ASSERT_EQ(transport.sent_to(kB), 1u);
  auto sent_b = json::parse(transport.sent().back().body);
  EXPECT_EQ(sent_b["prompt"], "Once upon a time");
  EXPECT_FALSE(sent_b.contains("messages")) << "a legacy body never gets chat messages";
  EXPECT_EQ(body["prompt"], "Once upon") << "the client's body is left as it was";
}

TEST_F(AttemptLoop, ALegacyStreamWithSeveralPromptsEndsWithAnErrorEvent) {
  legacy_prompt = json::array({"one", "two"});
  auto broken = Reply::sse({legacy_chunk(" a")});
  broken.break_after_body = upstream::Error{api::FailureClass::stall, "connection reset"};
  transport.script(kA, {broken});
  transport.script(kB, {Reply::sse({legacy_chunk(" b"), "[DONE]"})});
  call("pair", true, std::nullopt, 60s, providers::Operation::completions);
  EXPECT_TRUE(sink.ended);
  EXPECT_NE(sink.body.find("upstream_stream_failed"), std::string::npos) << sink.body;
  EXPECT_EQ(transport.sent_to(kB), 0u);
}

TEST_F(AttemptLoop, AClientFaultFromTheContinuationTargetEndsTheStreamWithAnErrorEvent) {
  auto broken = Reply::sse({role_chunk(), text_chunk("Hello")});
  broken.break_after_body = upstream::Error{api::FailureClass::stall, "connection reset"};
  transport.script(kA, {broken});
  transport.script(kB, {Reply::json(400, error_body("messages too long for this model"))});
  model("pair").retry.attempts = 2;
  call("pair", true);
  EXPECT_TRUE(sink.ended) << "never a silent truncation";
  EXPECT_NE(sink.body.find("Hello"), std::string::npos);
  EXPECT_NE(sink.body.find("upstream_stream_failed"), std::string::npos) << sink.body;
  EXPECT_NE(sink.body.find("messages too long"), std::string::npos) << "the diagnosis says why";
}

// ---- when nothing serves -------------------------------------------------------------------

TEST_F(AttemptLoop, TheDiagnosisNamesWhatHappenedToEachTarget) {
  transport.script(kA, {Reply::fail(api::FailureClass::connect, "connection refused")});
  transport.script(kB, {Reply::json(503, error_body("overloaded"))});
  model("pair").retry.attempts = 2;
  auto out = call("pair");
  EXPECT_EQ(out.status, 503);
  EXPECT_EQ(out.error_code, "no_healthy_upstream");
  auto message = sink_json()["error"]["message"].get<std::string>();
  EXPECT_NE(message.find("a (a-model): connection refused"), std::string::npos) << message;
  EXPECT_NE(message.find("b (b-model): "), std::string::npos) << message;
  EXPECT_NE(message.find("overloaded"), std::string::npos) << message;
  ASSERT_TRUE(sink.failure) << "the error goes to the face typed, not as OpenAI bytes";
  EXPECT_EQ(sink.failure->code, "no_healthy_upstream");
}

TEST_F(AttemptLoop, OnlyTimeoutsGive504) {
  transport.script(kA, {Reply::hanging()});
  transport.script(kB, {Reply::hanging()});
  model("pair").retry.attempts = 2;
  auto out = call("pair", false, std::nullopt, 20s);
  EXPECT_EQ(out.status, 504);
}

TEST_F(AttemptLoop, DegradesWithTheModelsMessageWhenNothingServes) {
  model("pair").degrade = config::DegradeConfig{"We are busy, try again soon."};
  model("pair").retry.attempts = 2;
  transport.script(kA, {Reply::json(503, error_body("overloaded"))});
  transport.script(kB, {Reply::json(503, error_body("overloaded"))});
  auto out = call("pair");
  EXPECT_EQ(out.status, 200);
  EXPECT_TRUE(out.degraded);
  EXPECT_EQ(sink.header("x-llmgw-degraded"), "true");
  EXPECT_EQ(sink_json()["choices"][0]["message"]["content"], "We are busy, try again soon.");
}

// ---- cancellation --------------------------------------------------------------------------

TEST_F(AttemptLoop, AClientThatHangsUpEndsTheAttemptAndHarmsNoTarget) {
  transport.script(kA, {Reply::json(200, answer("late")).after(3s)});
  transport.script(kB, {Reply::json(200, answer("b"))});
  auto out = call("pair", false, 500ms);
  EXPECT_EQ(out.status, 499);
  EXPECT_EQ(transport.cancelled(), 1u);
  EXPECT_EQ(transport.sent_to(kB), 0u) << "nobody is waiting for an answer any more";
  EXPECT_FALSE(sink.started());
  EXPECT_TRUE(health_of("a").peek(time.now()).routable);
}

TEST_F(AttemptLoop, AnAttemptTheGatewayCancelledEndsTheRequestAndHarmsNoTarget) {
  // e.g. a drain: the failure table says cancellation fails over nowhere and harms nothing.
  transport.script(kA, {Reply::fail(api::FailureClass::cancelled, "cancelled")});
  transport.script(kB, {Reply::json(200, answer("b"))});
  auto out = call("pair");
  EXPECT_EQ(out.status, 499);
  EXPECT_EQ(transport.sent_to(kB), 0u);
  EXPECT_FALSE(sink.started());
  EXPECT_TRUE(health_of("a").peek(time.now()).routable);
}

// ---- panic routing -------------------------------------------------------------------------

TEST_F(AttemptLoop, AfterAnAllDownPeriodTheFirstTargetThatCanServeDoes) {
  auto cool = [](const char* seconds) {
    auto r = Reply::json(429, error_body("slow down"));
    r.headers.emplace_back("retry-after", seconds);
    return r;
  };
  model("pair").retry.attempts = 2;
  transport.script(kA, {cool("60"), Reply::json(503, error_body("still down"))});
  transport.script(kB, {cool("60"), Reply::json(200, answer("b is back"))});
  auto first = call("pair");
  EXPECT_NE(first.status, 200);
  ASSERT_FALSE(health_of("a").peek(time.now()).routable);
  ASSERT_FALSE(health_of("b").peek(time.now()).routable);

  time.advance(1s);  // both still cooling down; b has recovered, a has not
  auto out = call("pair");
  EXPECT_EQ(out.status, 200) << sink.body;
  EXPECT_EQ(out.provider, "b");
  EXPECT_TRUE(health_of("b").peek(time.now()).routable) << "a success is evidence";
}


// ---- live-traffic signals and on_bad_answer ------------------------------------------------

config::SemanticHealthConfig watching(config::OnBadAnswer on_bad) {
  config::SemanticHealthConfig s;
  s.signals = config::LiveSignalsConfig{};
  s.signals->min_answers = 2;
  s.on_bad_answer = on_bad;
  return s;
}

TEST_F(AttemptLoop, RetryElsewhereHoldsABadAnswerBackWhileAnotherTargetTries) {
  cfg->providers[0].health.semantic = watching(config::OnBadAnswer::retry_elsewhere);
  transport.script(kA, {Reply::json(200, answer(""))});
  transport.script(kB, {Reply::json(200, answer("from b"))});
  auto out = call("pair");
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.provider, "b");
  EXPECT_EQ(sink_json()["choices"][0]["message"]["content"], "from b");
  EXPECT_TRUE(health_of("a").peek(time.now()).routable) << "an answer is not an outage";
  auto text = metrics.serialize();
  EXPECT_NE(text.find(R"(llmgw_semantic_signal_total{provider="a",signal="empty"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(llmgw_bad_answer_retries_total{provider="a",signal="empty"} 1)"),
            std::string::npos);
}

TEST_F(AttemptLoop, AHeldBackAnswerIsServedWhenNothingElseDoesBetter) {
  cfg->providers[0].health.semantic = watching(config::OnBadAnswer::retry_elsewhere);
  transport.script(kA, {Reply::json(200, answer("I'm sorry, but I can't help with that."))});
  transport.script(kB, {Reply::json(500, error_body("down"))});
  auto out = call("pair");
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.provider, "a");
  EXPECT_EQ(sink.status, 200);
  EXPECT_EQ(sink.header("x-llmgw-bad-answer"), "refusal");
  EXPECT_EQ(sink.header("x-llmgw-provider"), "a");
  EXPECT_NE(sink.body.find("I'm sorry"), std::string::npos);
  EXPECT_EQ(out.usage.completion_tokens, 2u);
}

TEST_F(AttemptLoop, AHeldBackAnswerBeatsTheNextTargetsClientError) {
  cfg->providers[0].health.semantic = watching(config::OnBadAnswer::retry_elsewhere);
  transport.script(kA, {Reply::json(200, answer(""))});
  transport.script(kB, {Reply::json(400, error_body("this model rejects that parameter"))});
  auto out = call("pair");
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(sink.status, 200);
  EXPECT_EQ(sink.header("x-llmgw-bad-answer"), "empty");
  EXPECT_EQ(sink.header("x-llmgw-provider"), "a");
}

TEST_F(AttemptLoop, ASignalTurnedOffHoldsNothingBack) {
  cfg->providers[0].health.semantic = watching(config::OnBadAnswer::retry_elsewhere);
  cfg->providers[0].health.semantic->signals->refusal = 1;
  transport.script(kA, {Reply::json(200, answer("I'm sorry, but I can't help with that."))});
  transport.script(kB, {Reply::json(200, answer("from b"))});
  auto out = call("pair");
  EXPECT_EQ(out.provider, "a");
  EXPECT_EQ(transport.sent_to(kB), 0u);
}

TEST_F(AttemptLoop, WithoutRetryElsewhereBadAnswersAreServedAndCounted) {
  cfg->providers[0].health.semantic = watching(config::OnBadAnswer::serve);
  transport.script(kA, {Reply::json(200, answer("")), Reply::json(200, answer(""))});
  call("pair");
  EXPECT_EQ(sink.status, 200);
  EXPECT_EQ(transport.sent_to(kB), 0u);
  EXPECT_FALSE(health_of("a").peek(time.now()).degraded);
  call("pair");
  auto verdict = health_of("a").peek(time.now());
  EXPECT_TRUE(verdict.routable);
  EXPECT_TRUE(verdict.degraded) << "2 of 2 answers empty (min_answers 2)";
}

TEST_F(AttemptLoop, StreamedAnswersAreWatchedWithTheirFinishReason) {
  cfg->providers[0].health.semantic = watching(config::OnBadAnswer::retry_elsewhere);
  auto cut = chunk({{"content", "Once upon a"}}, "length");
  transport.script(kA, {Reply::sse({role_chunk(), cut, "[DONE]"}),
                        Reply::sse({role_chunk(), cut, "[DONE]"})});
  call("pair", true);
  call("pair", true);
  EXPECT_EQ(transport.sent_to(kB), 0u) << "a stream is never held back";
  auto text = metrics.serialize();
  EXPECT_NE(text.find(R"(llmgw_semantic_signal_total{provider="a",signal="finish_length"} 2)"),
            std::string::npos)
      << text;
  EXPECT_TRUE(health_of("a").peek(time.now()).degraded);
}

TEST_F(AttemptLoop, AFailingCanaryRollsItselfBackAndTheModelStopsTryingItFirst) {
  config::CanaryConfig canary;
  canary.target = "b";
  canary.percent = 100;
  canary.rollback_on.error_rate = 0.2;
  model("pair").canary = canary;
  std::vector<Reply> failures(10, Reply::json(500, error_body("canary broken")));
  transport.script(kB, failures);
  transport.script(kA, std::vector<Reply>(11, Reply::json(200, answer("from a"))));
  for (int i = 0; i < 10; ++i) {
    auto out = call("pair");
    EXPECT_EQ(out.provider, "a") << "failed over from the canary";
  }
  EXPECT_EQ(transport.sent_to(kB), 10u);
  ASSERT_TRUE(table->model_route("pair")->canary->rolled_back());
  call("pair");
  EXPECT_EQ(transport.sent_to(kB), 10u) << "rolled back: a serves first";
}

TEST_F(AttemptLoop, ACanarysBadAnswersCountWithoutLiveSignalsConfigured) {
  config::CanaryConfig canary;
  canary.target = "a";
  canary.percent = 100;
  canary.rollback_on.semantic_failures = 2;
  model("pair").canary = canary;
  transport.script(kA, {Reply::json(200, answer("")), Reply::json(200, answer(""))});
  call("pair");
  call("pair");
  EXPECT_EQ(sink.status, 200) << "served as it came";
  EXPECT_TRUE(table->model_route("pair")->canary->rolled_back());
}

}  // namespace
}  // namespace llmgw::router
