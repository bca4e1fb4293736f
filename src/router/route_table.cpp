#include "llmgw/router/route_table.hpp"

#include "llmgw/tokenizer/library.hpp"

namespace llmgw::router {

std::shared_ptr<const RouteTable> RouteTable::build(std::shared_ptr<const config::Config> config,
                                                    unsigned workers,
                                                    StateRegistries registries,
                                                    std::vector<std::string>* problems) {
  auto table = std::make_shared<RouteTable>();
  table->config_ = std::move(config);
  for (const auto& p : table->config_->providers) {
    ProviderRoute route;
    route.config = &p;
    route.adapter = providers::make_adapter(p.kind);
    route.endpoint = upstream::Endpoint::from(p, workers);
    route.identity = health::HealthRegistry::identity(p);
    route.health = registries.health ? registries.health->attach(p)
                                     : std::make_shared<health::TargetHealth>(p);
    if (!route.adapter && problems) {
      problems->push_back("provider '" + p.name + "': kind '" + std::string(config::to_string(p.kind)) +
                          "' is not supported by this build yet; its targets are skipped");
    }
    table->wants_feedback_ =
        table->wants_feedback_ || (p.health.semantic && p.health.semantic->signals);
    table->providers_.emplace(p.name, std::move(route));
  }
  table->keys_by_digest_.reserve(table->config_->keys.size());
  for (const auto& k : table->config_->keys) {
    table->keys_by_digest_.emplace(k.sha256, &k);
  }
  for (const auto& m : table->config_->models) {
    ModelRoute route;
    route.config = &m;
    route.identity = ModelStateRegistry::identity(m);
    if (registries.models) {
      auto state = registries.models->attach(m);
      route.balancer = std::move(state.balancer);
      route.retry_budget = std::move(state.retry_budget);
      route.canary = std::move(state.canary);
    } else {
      route.balancer = std::make_shared<Balancer>(m.strategy, m.targets.size());
      route.retry_budget = std::make_shared<resilience::RetryBudget>(m.retry.budget);
      if (m.canary) {
        route.canary = std::make_shared<CanaryState>(m.name, *m.canary);
      }
    }
    table->wants_feedback_ = table->wants_feedback_ ||
                             (m.canary && m.canary->rollback_on.feedback_below.has_value());
    route.target_providers.reserve(m.targets.size());
    for (const auto& t : m.targets) {
      auto it = table->providers_.find(t.provider);
      route.target_providers.push_back(it == table->providers_.end() ? nullptr : &it->second);
    }
    table->models_.emplace(m.name, std::move(route));
  }
  bool counts = false;
  for (const auto& m : table->config_->models) {
    for (const auto& t : m.targets) {
      counts = counts || t.context_window.has_value();
    }
  }
  if (counts) {
    std::string where;
    table->tokenizers_ = tokenizer::Library::shared(&where);
    if (!table->tokenizers_ && problems) {
      problems->push_back("no tokenizer data found (searched " + where +
                          "); context fitting estimates 4 bytes a token");
    }
  }
  return table;
}

const config::ModelConfig* RouteTable::model(std::string_view name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : it->second.config;
}

const ModelRoute* RouteTable::model_route(std::string_view name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : &it->second;
}

const ProviderRoute* RouteTable::provider(std::string_view name) const {
  auto it = providers_.find(name);
  return it == providers_.end() ? nullptr : &it->second;
}

const config::KeyConfig* RouteTable::key_by_digest(std::string_view digest) const {
  auto it = keys_by_digest_.find(digest);
  return it == keys_by_digest_.end() ? nullptr : it->second;
}

}  // namespace llmgw::router
