#include "llmgw/router/model_state.hpp"

#include <gtest/gtest.h>

#include "fakes/config_builders.hpp"
#include "llmgw/router/route_table.hpp"

namespace llmgw::router {
namespace {

std::shared_ptr<config::Config> config_with(std::vector<std::string> targets) {
  auto cfg = std::make_shared<config::Config>();
  config::ModelConfig m;
  m.name = "rr";
  m.strategy = config::Strategy::round_robin;
  for (const auto& t : targets) {
    cfg->providers.push_back(fakes::provider(t, config::ProviderKind::openai));
    m.targets.push_back(fakes::target(t));
  }
  cfg->models = {m};
  return cfg;
}

std::size_t first_pick(const RouteTable& table) {
  std::vector<BalanceCandidate> candidates(table.model("rr")->targets.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    candidates[i].index = i;
  }
  std::mt19937_64 rng(1);
  return table.model_route("rr")->balancer->order(candidates, rng).front();
}

TEST(ModelStateRegistry, ARoundRobinCursorSurvivesAReloadThatKeepsTheModel) {
  health::HealthRegistry health;
  ModelStateRegistry models;
  auto before = RouteTable::build(config_with({"a", "b", "c"}), 1, {&health, &models});
  EXPECT_EQ(first_pick(*before), 0u);
  EXPECT_EQ(first_pick(*before), 1u);
  auto after = RouteTable::build(config_with({"a", "b", "c"}), 1, {&health, &models});
  EXPECT_EQ(first_pick(*after), 2u) << "the rotation goes on where it was";
  EXPECT_EQ(after->model_route("rr")->retry_budget, before->model_route("rr")->retry_budget);
}

TEST(ModelStateRegistry, AChangedTargetListStartsFreshAndRetainDropsTheOld) {
  health::HealthRegistry health;
  ModelStateRegistry models;
  auto before = RouteTable::build(config_with({"a", "b"}), 1, {&health, &models});
  first_pick(*before);
  auto after = RouteTable::build(config_with({"a", "b", "c"}), 1, {&health, &models});
  EXPECT_EQ(first_pick(*after), 0u) << "target indexes changed meaning: fresh state";
  EXPECT_NE(after->model_route("rr")->retry_budget, before->model_route("rr")->retry_budget);
  EXPECT_EQ(models.size(), 2u);
  models.retain({after->model_route("rr")->identity});
  EXPECT_EQ(models.size(), 1u);
}

TEST(ModelStateRegistry, WithoutRegistriesEveryBuildIsFresh) {
  auto cfg = config_with({"a", "b"});
  auto one = RouteTable::build(cfg, 1);
  first_pick(*one);
  auto two = RouteTable::build(cfg, 1);
  EXPECT_EQ(first_pick(*two), 0u);
}

}  // namespace
}  // namespace llmgw::router
