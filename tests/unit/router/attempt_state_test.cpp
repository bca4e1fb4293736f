// The attempt loop's decisions on their own: AttemptState takes results and the time and says
// what comes next, with no coroutine, transport or sink. (attempt_loop_test.cpp drives the
// same decisions end to end through Router::call.)
#include "router/attempt_state.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes/config_builders.hpp"

namespace llmgw::router {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Kind = Step::Kind;

using fakes::provider;
using fakes::target;

api::Failure failure(api::FailureClass cls, int status, std::string message,
                     std::optional<std::chrono::milliseconds> retry_after = std::nullopt) {
  return api::Failure{cls, status, retry_after, std::move(message), "{\"error\":{}}"};
}

AttemptResult failed(api::Failure f) {
  AttemptResult r;
  r.failure = std::move(f);
  return r;
}

class AttemptStateTest : public ::testing::Test {
 protected:
  AttemptStateTest() {
    cfg->providers = {provider("a"), provider("b"), provider("c")};
    config::ModelConfig pair;
    pair.name = "pair";
    pair.targets = {target("a"), target("b")};
    pair.retry.backoff.jitter = config::Jitter::none;
    config::ModelConfig solo;
    solo.name = "solo";
    solo.targets = {target("a")};
    solo.fallbacks = {"spare"};
    config::ModelConfig spare;
    spare.name = "spare";
    spare.targets = {target("c")};
    config::ModelConfig windows;
    windows.name = "windows";
    windows.targets = {target("a", 8000), target("b", 8000), target("c", 128000)};
    cfg->models = {pair, solo, spare, windows};
    table = RouteTable::build(cfg, 1);
    body =
        json{{"model", "pair"}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
    request.body = &body;
    request.deadline = now + 60s;
  }

  AttemptState& start(const std::string& model) {
    request.model = model;
    const auto* route = table->model_route(model);
    PlanInput in;
    in.now = now;
    auto plan = plan_targets(*table, *route->config, in, rng);
    state.emplace(*table, *route, std::move(plan), request, rng);
    return *state;
  }

  std::string name_of(const Step& s) const { return s.target->provider->config->name; }

  std::shared_ptr<config::Config> cfg = std::make_shared<config::Config>();
  std::shared_ptr<const RouteTable> table;
  std::mt19937_64 rng{7};
  common::Clock::time_point now{std::chrono::hours(1)};
  json body;
  CallRequest request;
  std::optional<AttemptState> state;
};

TEST_F(AttemptStateTest, EveryTargetOnceThenARetryAfterItsBackoffThenTheDiagnosis) {
  auto& s = start("pair");
  auto first = s.next(now);
  ASSERT_EQ(first.kind, Kind::attempt);
  EXPECT_EQ(name_of(first), "a");
  EXPECT_TRUE(first.retry_reason.empty());
  auto r = failed(failure(api::FailureClass::server_error, 503, "HTTP 503 overloaded"));
  EXPECT_EQ(s.on_result(*first.target, r), Verdict::go_on);

  auto second = s.next(now);
  ASSERT_EQ(second.kind, Kind::attempt);
  EXPECT_EQ(name_of(second), "b");
  EXPECT_EQ(second.retry_reason, "failover");
  r = failed(failure(api::FailureClass::connect, 0, "connection refused"));
  EXPECT_EQ(s.on_result(*second.target, r), Verdict::go_on);

  // Round two: the backoff (base 100 ms, no jitter) before the same target again.
  auto wait = s.next(now);
  ASSERT_EQ(wait.kind, Kind::wait);
  EXPECT_EQ(wait.wait, 100ms);
  auto retry = s.next(now + 100ms);
  ASSERT_EQ(retry.kind, Kind::attempt);
  EXPECT_EQ(name_of(retry), "a");
  EXPECT_EQ(retry.retry_reason, "server_error");
  r = failed(failure(api::FailureClass::server_error, 503, "HTTP 503 overloaded"));
  EXPECT_EQ(s.on_result(*retry.target, r), Verdict::go_on);

  EXPECT_EQ(s.next(now + 200ms).kind, Kind::end) << "retry.attempts (3) are spent";
  EXPECT_EQ(s.attempts(), 3u);
  auto ending = s.conclude(false);
  EXPECT_EQ(ending.kind, Ending::Kind::no_healthy_upstream);
  EXPECT_EQ(ending.message,
            "a (a-model): HTTP 503 overloaded after 2 tries; b (b-model): connection refused");
}

TEST_F(AttemptStateTest, NoWaitIsTakenThatWouldEndPastTheDeadline) {
  auto& s = start("pair");
  auto first = s.next(now);
  auto r = failed(failure(api::FailureClass::rate_limited, 429, "slow down", 90s));
  s.on_result(*first.target, r);
  auto second = s.next(now);
  r = failed(failure(api::FailureClass::rate_limited, 429, "slow down too", 90s));
  s.on_result(*second.target, r);
  EXPECT_EQ(s.next(now).kind, Kind::end) << "a 90 s retry-after does not fit a 60 s deadline";
  EXPECT_EQ(s.attempts(), 2u);
}

TEST_F(AttemptStateTest, TheRetryBudgetStopsRetriesAndTheDiagnosisSaysSo) {
  auto& budget = *table->model_route("pair")->retry_budget;
  while (budget.try_acquire(now)) {
  }
  auto& s = start("pair");
  for (int i = 0; i < 2; ++i) {
    auto step = s.next(now);
    ASSERT_EQ(step.kind, Kind::attempt);
    auto r = failed(failure(api::FailureClass::server_error, 500, "HTTP 500"));
    s.on_result(*step.target, r);
  }
  EXPECT_EQ(s.next(now).kind, Kind::end);
  EXPECT_NE(s.conclude(false).message.find("retry budget exhausted"), std::string::npos);
}

TEST_F(AttemptStateTest, ATargetThatWentDownSincePlanningIsSkippedWithItsReason) {
  auto& s = start("pair");
  auto first = s.next(now);
  table->provider("b")->health->operator_eject(now);
  auto r = failed(failure(api::FailureClass::server_error, 500, "HTTP 500"));
  s.on_result(*first.target, r);
  auto next = s.next(now);
  EXPECT_EQ(next.kind, Kind::wait) << "b is passed over; a's retry comes next";
  auto ending = s.conclude(false);
  EXPECT_NE(ending.message.find("b (b-model): ejected by operator"), std::string::npos)
      << ending.message;
}

TEST_F(AttemptStateTest, AFallbackModelsFirstTargetIsReportedAsAFallback) {
  auto& s = start("solo");
  auto first = s.next(now);
  EXPECT_TRUE(first.fallback_from.empty());
  auto r = failed(failure(api::FailureClass::provider_auth, 401, "bad key"));
  s.on_result(*first.target, r);
  auto second = s.next(now);
  ASSERT_EQ(second.kind, Kind::attempt);
  EXPECT_EQ(name_of(second), "c");
  EXPECT_EQ(second.fallback_from, "solo");
}

TEST_F(AttemptStateTest, AContextLengthErrorRulesOutEveryTargetWithNoLargerWindow) {
  request.context_fallback = true;
  auto& s = start("windows");
  auto first = s.next(now);
  auto r = failed(failure(api::FailureClass::context_length, 400, "too long for 8000"));
  s.on_result(*first.target, r);
  auto second = s.next(now);
  ASSERT_EQ(second.kind, Kind::attempt);
  EXPECT_EQ(name_of(second), "c") << "b's window is no larger than a's";
  r = failed(failure(api::FailureClass::context_length, 400, "too long for 128000"));
  s.on_result(*second.target, r);
  EXPECT_EQ(s.next(now).kind, Kind::end);
  auto ending = s.conclude(false);
  ASSERT_EQ(ending.kind, Ending::Kind::context_length);
  EXPECT_EQ(ending.context_failure->message, "too long for 8000") << "the first one";
}

TEST_F(AttemptStateTest, AnAttemptTheGatewayCancelledEndsTheRequest) {
  auto& s = start("pair");
  auto first = s.next(now);
  auto r = failed(failure(api::FailureClass::cancelled, 0, "cancelled"));
  EXPECT_EQ(s.on_result(*first.target, r), Verdict::ended);
}

TEST_F(AttemptStateTest, AStreamBrokenInAToolCallEndsWithTheStreamFailure) {
  request.op = providers::Operation::chat;
  request.stream = true;
  auto& s = start("pair");
  auto first = s.next(now);
  s.tracker().observe(
      "data: {\"id\":\"c1\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
      "\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"t1\",\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n");
  auto r = failed(failure(api::FailureClass::stall, 200, "stream stalled"));
  r.broke_after_start = true;
  EXPECT_EQ(s.on_result(*first.target, r), Verdict::go_on);
  EXPECT_TRUE(s.continued());
  EXPECT_EQ(s.next(now).kind, Kind::end) << "tool-call arguments cannot be spliced";
  auto ending = s.conclude(true);
  EXPECT_EQ(ending.kind, Ending::Kind::stream_failed);
  EXPECT_NE(ending.message.find("a tool call was in progress"), std::string::npos);
}

}  // namespace
}  // namespace llmgw::router
