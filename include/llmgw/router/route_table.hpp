#pragma once
// The routing view of one config snapshot: model names to targets, provider names to their
// adapter and upstream endpoint. Immutable; shared by every worker; replaced whole on reload.
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmgw/config/config.hpp"
#include "llmgw/health/target_health.hpp"
#include "llmgw/providers/adapter.hpp"
#include "llmgw/resilience/retry_budget.hpp"
#include "llmgw/router/balancer.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::router {

struct ProviderRoute {
  const config::ProviderConfig* config = nullptr;
  std::shared_ptr<const providers::ProviderAdapter> adapter;
  upstream::Endpoint endpoint;
  std::shared_ptr<health::TargetHealth> health;  // shared across reloads (HealthRegistry)
  std::string identity;                          // HealthRegistry::identity
};

/// Per-model routing state that lives as long as the snapshot.
struct ModelRoute {
  const config::ModelConfig* config = nullptr;
  std::unique_ptr<Balancer> balancer;
  std::unique_ptr<resilience::RetryBudget> retry_budget;
};

class RouteTable {
public:
  /// Builds the table; `problems` receives what cannot be served (e.g. an adapter kind not
  /// implemented yet). Such providers stay in the table without an adapter and are skipped.
  /// Health state comes from `registry` (kept across reloads); without one (unit tests) each
  /// provider gets fresh state.
  static std::shared_ptr<const RouteTable> build(std::shared_ptr<const config::Config> config,
                                                 unsigned workers,
                                                 health::HealthRegistry* registry = nullptr,
                                                 std::vector<std::string>* problems = nullptr);

  const config::Config& config() const { return *config_; }
  std::shared_ptr<const config::Config> config_ptr() const { return config_; }
  const config::ModelConfig* model(std::string_view name) const;
  const ProviderRoute* provider(std::string_view name) const;
  const ModelRoute* model_route(std::string_view name) const;
  const std::unordered_map<std::string, ProviderRoute>& providers() const { return providers_; }

private:
  std::shared_ptr<const config::Config> config_;
  std::unordered_map<std::string, ModelRoute> models_;
  std::unordered_map<std::string, ProviderRoute> providers_;
};

}  // namespace llmgw::router
