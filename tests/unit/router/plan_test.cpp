#include "router/plan.hpp"

#include <gtest/gtest.h>

#include "llmgw/config/loader.hpp"
#include "llmgw/router/preview.hpp"

namespace llmgw::router {
namespace {

config::ProviderConfig provider(std::string name, config::ProviderKind kind) {
  config::ProviderConfig p;
  p.name = std::move(name);
  p.kind = kind;
  p.base_url = "http://127.0.0.1:1/v1";
  p.url = *common::parse_url(p.base_url);
  return p;
}

config::TargetConfig target(std::string provider, std::string model) {
  config::TargetConfig t;
  t.provider = std::move(provider);
  t.model = std::move(model);
  return t;
}

std::shared_ptr<const RouteTable> table() {
  auto cfg = std::make_shared<config::Config>();
  cfg->providers = {provider("a", config::ProviderKind::openai),
                    provider("b", config::ProviderKind::openai_compatible),
                    provider("claude", config::ProviderKind::anthropic),
                    provider("c", config::ProviderKind::openai)};
  config::ModelConfig smart;
  smart.name = "smart";
  smart.targets = {target("a", "gpt-4o"), target("claude", "claude-x"), target("b", "qwen")};
  // (claude is an anthropic target: it serves chat but not embeddings.)
  smart.fallbacks = {"cheap"};
  config::ModelConfig cheap;
  cheap.name = "cheap";
  cheap.targets = {target("c", "mini")};
  cfg->models = {smart, cheap};
  return RouteTable::build(cfg, 1);
}

PlanInput input_at(resilience::TimePoint now) {
  PlanInput in;
  in.op = providers::Operation::chat;
  in.now = now;
  return in;
}

TEST(PlanTargets, PriorityOrderThenFallbacks) {
  auto t = table();
  std::mt19937_64 rng(1);
  auto plan = plan_targets(*t, *t->model("smart"), input_at(std::chrono::steady_clock::now()), rng);
  ASSERT_EQ(plan.targets.size(), 4u);
  EXPECT_EQ(plan.targets[0].provider->config->name, "a");
  EXPECT_EQ(plan.targets[1].provider->config->name, "claude");
  EXPECT_EQ(plan.targets[2].provider->config->name, "b");
  EXPECT_EQ(plan.targets[3].provider->config->name, "c");
  EXPECT_EQ(plan.targets[3].model->name, "cheap");
  EXPECT_EQ(plan.targets[0].target->model, "gpt-4o");
  EXPECT_TRUE(plan.skipped.empty());
  // A target whose provider cannot do the operation is skipped, and said so.
  auto in = input_at(std::chrono::steady_clock::now());
  in.op = providers::Operation::embeddings;
  auto embed = plan_targets(*t, *t->model("smart"), in, rng);
  ASSERT_EQ(embed.targets.size(), 3u);
  ASSERT_EQ(embed.skipped.size(), 1u);
  EXPECT_EQ(embed.skipped[0], "claude (claude-x): does not offer embeddings");
}

TEST(PlanTargets, DegradedTargetsComeAfterEveryCleanOneWhateverTheStrategy) {
  for (auto strategy : {config::Strategy::priority, config::Strategy::weighted,
                        config::Strategy::round_robin, config::Strategy::least_cost,
                        config::Strategy::least_busy, config::Strategy::least_latency}) {
    auto cfg = std::make_shared<config::Config>();
    cfg->providers = {provider("a", config::ProviderKind::openai),
                      provider("b", config::ProviderKind::openai)};
    config::SemanticHealthConfig watched;
    watched.signals = config::LiveSignalsConfig{};
    watched.signals->min_answers = 1;
    cfg->providers[0].health.semantic = watched;
    config::ModelConfig m;
    m.name = "m";
    m.strategy = strategy;
    m.targets = {target("a", "x"), target("b", "y")};
    m.targets[1].price = config::Price{100, 100};  // b is dearer: least_cost would pick a
    cfg->models = {m};
    auto t = RouteTable::build(cfg, 1);
    auto now = std::chrono::steady_clock::now();
    health::AnswerFacts empty;
    t->provider("a")->health->record_answer(now, empty);
    std::mt19937_64 rng(1);
    for (int i = 0; i < 8; ++i) {
      auto plan = plan_targets(*t, *t->model("m"), input_at(now), rng);
      ASSERT_EQ(plan.targets.size(), 2u);
      EXPECT_EQ(plan.targets[0].provider->config->name, "b") << config::to_string(strategy);
      EXPECT_EQ(plan.targets[1].provider->config->name, "a") << "degraded, still tried";
    }
  }
}

// The admin view's per-model plan: the order a request would try, what serves next, what is
// left out and why, and whether the model itself has a routable target.
TEST(PreviewModels, NextTargetPlanAndFallbacks) {
  auto t = table();
  auto now = std::chrono::steady_clock::now();
  t->provider("a")->health->operator_eject(now);
  auto models = preview_models(*t, now);
  ASSERT_EQ(models.size(), 2u);
  const auto& smart = models[0];
  EXPECT_EQ(smart.name, "smart");
  EXPECT_TRUE(smart.routable);
  ASSERT_EQ(smart.plan.size(), 3u);
  EXPECT_EQ(smart.plan[0].provider, "claude");
  EXPECT_EQ(smart.plan[1].provider, "b");
  EXPECT_EQ(smart.plan[2].provider, "c");
  EXPECT_EQ(smart.plan[2].model, "cheap");
  EXPECT_EQ(smart.fallbacks, std::vector<std::string>{"cheap"});
  ASSERT_EQ(smart.skipped.size(), 1u);
  EXPECT_EQ(smart.skipped[0], "a (gpt-4o): ejected by operator");
  // Nothing of "smart" left: the fallback model's target serves next.
  t->provider("claude")->health->operator_eject(now);
  t->provider("b")->health->operator_eject(now);
  auto none = preview_models(*t, now);
  EXPECT_FALSE(none[0].routable);
  ASSERT_EQ(none[0].plan.size(), 1u);
  EXPECT_EQ(none[0].plan[0].provider, "c");
  EXPECT_TRUE(none[1].routable);
}

TEST(PlanTargets, UnhealthyTargetsAreSkippedWithTheirReason) {
  auto t = table();
  std::mt19937_64 rng(1);
  auto now = std::chrono::steady_clock::now();
  t->provider("a")->health->operator_eject(now);
  t->provider("claude")->health->operator_eject(now);
  api::Failure limited{api::FailureClass::rate_limited, 429, std::chrono::milliseconds(2000),
                       "HTTP 429", ""};
  t->provider("b")->health->on_failure(now, limited);
  auto plan = plan_targets(*t, *t->model("smart"), input_at(now), rng);
  // Nothing of "smart" is routable: its one non-excluded target is tried once (panic), then
  // the fallback model's target.
  ASSERT_EQ(plan.targets.size(), 2u);
  EXPECT_EQ(plan.targets[0].provider->config->name, "b");
  EXPECT_TRUE(plan.targets[0].last_resort);
  EXPECT_EQ(plan.targets[1].provider->config->name, "c");
  EXPECT_FALSE(plan.targets[1].last_resort);
  std::string all;
  for (const auto& s : plan.skipped) {
    all += s + "\n";
  }
  EXPECT_NE(all.find("a (gpt-4o): ejected by operator"), std::string::npos) << all;
  EXPECT_NE(all.find("claude (claude-x): ejected by operator"), std::string::npos) << all;
  EXPECT_EQ(all.find("b (qwen)"), std::string::npos) << "tried, so not skipped: " << all;
  // After the retry-after, b is back.
  auto later = plan_targets(*t, *t->model("smart"), input_at(now + std::chrono::seconds(3)), rng);
  ASSERT_EQ(later.targets.size(), 2u);
  EXPECT_EQ(later.targets[0].provider->config->name, "b");
}

TEST(PlanTargets, PanicRoutingTriesEveryNonExcludedTargetLeastBadFirst) {
  auto t = table();
  std::mt19937_64 rng(1);
  auto now = std::chrono::steady_clock::now();
  auto cool = [&](const char* name, int ms) {
    api::Failure f{api::FailureClass::rate_limited, 429, std::chrono::milliseconds(ms), "HTTP 429",
                   ""};
    t->provider(name)->health->on_failure(now, f);
  };
  cool("a", 5000);
  cool("claude", 7000);
  cool("b", 1000);
  cool("c", 9000);
  auto names = [](const Plan& plan) {
    std::string out;
    for (const auto& p : plan.targets) {
      out += p.provider->config->name + (p.last_resort ? "! " : " ");
    }
    return out;
  };
  // Each model's targets, back soonest first, every one once; the model before its fallbacks.
  auto plan = plan_targets(*t, *t->model("smart"), input_at(now), rng);
  EXPECT_EQ(names(plan), "b! a! claude! c! ");
  EXPECT_TRUE(plan.skipped.empty());
  // An operator ejection (or a rejected key) is never tried this way.
  t->provider("b")->health->operator_eject(now);
  auto plan2 = plan_targets(*t, *t->model("smart"), input_at(now), rng);
  EXPECT_EQ(names(plan2), "a! claude! c! ");
  ASSERT_EQ(plan2.skipped.size(), 1u);
  EXPECT_EQ(plan2.skipped[0], "b (qwen): ejected by operator");
  // A model with one routable target is not in panic: its unroutable ones stay skipped.
  t->provider("a")->health->reinstate(now);
  auto plan3 = plan_targets(*t, *t->model("smart"), input_at(now), rng);
  EXPECT_EQ(names(plan3), "a c! ");
}

TEST(PlanTargets, ReinstateMakesAPanicTargetRoutableAtOnce) {
  auto t = table();
  auto now = std::chrono::steady_clock::now();
  auto& health = *t->provider("a")->health;
  api::Failure f{api::FailureClass::rate_limited, 429, std::chrono::milliseconds(60000),
                 "HTTP 429", ""};
  health.on_failure(now, f);
  EXPECT_FALSE(health.peek(now).routable);
  health.on_success(now, std::nullopt);
  health.reinstate(now);  // what the router does after a panic attempt answered
  EXPECT_TRUE(health.peek(now).routable);
}

TEST(RouteTable, MapsProvidersToEndpoints) {
  auto t = table();
  ASSERT_NE(t->provider("a"), nullptr);
  EXPECT_EQ(t->provider("a")->endpoint.url.port, 1);
  EXPECT_NE(t->provider("claude")->adapter, nullptr);
  EXPECT_EQ(t->model("nope"), nullptr);
}

TEST(RetryAllowed, FollowsRetryOn) {
  config::RetryConfig r;  // default on: connect, timeout, 429, 5xx
  EXPECT_TRUE(retry_allowed(r, {api::FailureClass::connect, 0, {}, "", ""}));
  EXPECT_TRUE(retry_allowed(r, {api::FailureClass::timeout, 0, {}, "", ""}));
  EXPECT_TRUE(retry_allowed(r, {api::FailureClass::rate_limited, 429, {}, "", ""}));
  EXPECT_TRUE(retry_allowed(r, {api::FailureClass::server_error, 503, {}, "", ""}));
  EXPECT_FALSE(retry_allowed(r, {api::FailureClass::conflict, 409, {}, "", ""}));
  r.when = config::parse_retry_conditions({"503"});
  EXPECT_TRUE(retry_allowed(r, {api::FailureClass::server_error, 503, {}, "", ""}));
  EXPECT_FALSE(retry_allowed(r, {api::FailureClass::server_error, 500, {}, "", ""}));
  EXPECT_FALSE(retry_allowed(r, {api::FailureClass::connect, 0, {}, "", ""}));
}

TEST(BackoffDelay, FullJitterStaysWithinExponentialCap) {
  config::BackoffConfig b;
  b.base = std::chrono::milliseconds(100);
  b.max = std::chrono::milliseconds(1000);
  std::mt19937_64 rng(42);
  for (unsigned round = 0; round < 8; ++round) {
    auto cap = std::min<long long>(100LL << round, 1000);
    long long seen_max = 0;
    for (int i = 0; i < 200; ++i) {
      long long d = backoff_delay(b, round, rng).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, cap);
      seen_max = std::max(seen_max, d);
    }
    EXPECT_GT(seen_max, cap / 2) << "jitter should spread over the whole range";
  }
  b.jitter = config::Jitter::none;
  EXPECT_EQ(backoff_delay(b, 2, rng).count(), 400);
}

}  // namespace
}  // namespace llmgw::router

namespace llmgw::router {
namespace {

TEST(PlanTargets, EjectionCapKeepsPartOfTheModelRoutable) {
  auto cfg = std::make_shared<config::Config>();
  for (const char* name : {"x", "y", "z", "w"}) {
    auto p = provider(name, config::ProviderKind::openai);
    p.health.passive = config::PassiveHealthConfig{};
    p.health.passive->consecutive_failures = 1;
    p.health.passive->eject_for = std::chrono::seconds(10);
    p.health.passive->max_ejected_percent = 50;
    cfg->providers.push_back(p);
  }
  config::ModelConfig m;
  m.name = "m";
  m.targets = {target("x", "a"), target("y", "b"), target("z", "c"), target("w", "d")};
  cfg->models = {m};
  auto t = RouteTable::build(cfg, 1);
  auto now = std::chrono::steady_clock::now();
  api::Failure boom{api::FailureClass::server_error, 503, std::nullopt, "HTTP 503", ""};
  // Ejected at different times: y is back first, then z, then x.
  t->provider("x")->health->on_failure(now, boom);
  t->provider("z")->health->on_failure(now - std::chrono::seconds(3), boom);
  t->provider("y")->health->on_failure(now - std::chrono::seconds(6), boom);
  std::mt19937_64 rng(1);
  auto plan = plan_targets(*t, *t->model("m"), input_at(now), rng);
  // 3 of 4 ejected, cap 50% = 2: the one back soonest (y) is routable again, behind w.
  ASSERT_EQ(plan.targets.size(), 2u);
  EXPECT_EQ(plan.targets[0].provider->config->name, "w");
  EXPECT_EQ(plan.targets[1].provider->config->name, "y");
  EXPECT_TRUE(plan.targets[1].last_resort);
  EXPECT_EQ(plan.skipped.size(), 2u);
}

}  // namespace
}  // namespace llmgw::router
