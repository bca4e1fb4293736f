// A model's canary: its share, and the rollback on the first breach of rollback_on, by itself
// (CanaryState), in the plan, and through the attempt loop's records.
#include "llmgw/router/canary.hpp"

#include <gtest/gtest.h>

#include "fakes/config_builders.hpp"
#include "llmgw/common/clock.hpp"
#include "router/plan.hpp"

namespace llmgw::router {
namespace {

using namespace std::chrono_literals;

config::CanaryConfig canary_config(double percent) {
  config::CanaryConfig c;
  c.target = "b";
  c.percent = percent;
  return c;
}

TEST(Canary, TakesItsShareUntilItRollsBack) {
  config::CanaryConfig c = canary_config(5);
  c.rollback_on.error_rate = 0.2;
  CanaryState canary("chat", c);
  EXPECT_TRUE(canary.picks(4.99));
  EXPECT_FALSE(canary.picks(5.0));
  common::ManualClock clock;
  for (int i = 0; i < 9; ++i) {
    canary.on_result(clock.now(), false);
  }
  EXPECT_FALSE(canary.rolled_back()) << "fewer than 10 requests judge nothing";
  canary.on_result(clock.now(), true);
  EXPECT_TRUE(canary.rolled_back());
  EXPECT_FALSE(canary.picks(0.0)) << "its share is 0";
  auto snap = canary.snapshot(clock.now());
  EXPECT_EQ(snap.reason, "error rate 0.90 over the last 5m, above 0.20");
}

TEST(Canary, RollsBackOnBadAnswersAndFeedbackAndSaysSoOnce) {
  common::ManualClock clock;
  std::vector<std::string> events;
  auto sink = std::make_shared<const CanaryEventSink>([&](const CanaryEvent& e) {
    events.push_back(std::string(e.rolled_back ? "rolled_back: " : "resumed: ") + e.reason);
  });
  config::CanaryConfig c = canary_config(10);
  c.rollback_on.semantic_failures = 2;
  c.rollback_on.feedback_below = 0;
  CanaryState canary("chat", c, sink);
  canary.on_bad_answer(clock.now());
  EXPECT_FALSE(canary.rolled_back());
  canary.on_bad_answer(clock.now());
  EXPECT_TRUE(canary.rolled_back());
  canary.on_bad_answer(clock.now());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0],
            "rolled_back: 2 answers with a bad-answer signal over the last 5m "
            "(semantic_failures: 2)");
  // The operator resumes it: judged afresh.
  canary.resume();
  EXPECT_FALSE(canary.rolled_back());
  EXPECT_EQ(events.back(), "resumed: resumed by operator");
  EXPECT_EQ(canary.snapshot(clock.now()).bad_answers, 0u);
  for (int i = 0; i < 4; ++i) {
    canary.on_feedback(clock.now(), -1);
  }
  EXPECT_FALSE(canary.rolled_back()) << "fewer than 5 ratings";
  canary.on_feedback(clock.now(), 1);
  EXPECT_TRUE(canary.rolled_back());
  EXPECT_NE(events.back().find("mean user feedback -0.60, below 0.00 (5 ratings)"),
            std::string::npos)
      << events.back();
}

TEST(Canary, AWindowOfGoodTrafficForgetsOldFailures) {
  common::ManualClock clock;
  config::CanaryConfig c = canary_config(10);
  c.rollback_on.semantic_failures = 2;
  CanaryState canary("chat", c);
  canary.on_bad_answer(clock.now());
  clock.advance(6min);
  canary.on_bad_answer(clock.now());
  EXPECT_FALSE(canary.rolled_back()) << "one bad answer in any 5 minutes";
}

std::shared_ptr<const RouteTable> canary_table(double percent) {
  auto cfg = std::make_shared<config::Config>();
  cfg->providers = {fakes::provider("a", config::ProviderKind::openai_compatible, 1),
                    fakes::provider("b", config::ProviderKind::openai_compatible, 2)};
  config::ModelConfig m;
  m.name = "chat";
  m.targets = {fakes::target("a"), fakes::target("b")};
  m.canary = canary_config(percent);
  m.canary->rollback_on.error_rate = 0.5;
  cfg->models = {m};
  return RouteTable::build(cfg, 1);
}

std::string first(const RouteTable& t, std::mt19937_64& rng) {
  PlanInput in;
  in.now = std::chrono::steady_clock::now();
  auto plan = plan_targets(t, *t.model("chat"), in, rng);
  EXPECT_EQ(plan.targets.size(), 2u) << "the canary is always in the plan";
  return plan.targets.front().provider->config->name;
}

TEST(CanaryPlan, TheShareTriesTheCanaryFirstTheRestLast) {
  std::mt19937_64 rng(7);
  auto all = canary_table(100);
  auto none = canary_table(0);
  auto some = canary_table(25);
  int canary_first = 0;
  for (int i = 0; i < 400; ++i) {
    EXPECT_EQ(first(*all, rng), "b");
    EXPECT_EQ(first(*none, rng), "a");
    canary_first += first(*some, rng) == "b" ? 1 : 0;
  }
  EXPECT_GT(canary_first, 60);
  EXPECT_LT(canary_first, 140);
  // Rolled back: last, whatever its share.
  auto now = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    all->model_route("chat")->canary->on_result(now, false);
  }
  ASSERT_TRUE(all->model_route("chat")->canary->rolled_back());
  EXPECT_EQ(first(*all, rng), "a");
}

}  // namespace
}  // namespace llmgw::router
