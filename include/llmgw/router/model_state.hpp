#pragma once
// Per-model routing state that outlives a config snapshot while the model means the same thing:
// the balancer's cursor and weights (else every reload restarts round robin on the first
// target and resets smooth WRR) and the retry budget's window (else a reload during an outage
// hands out a fresh budget and multiplies the load on a failing upstream). The same idea as
// health::HealthRegistry for providers.
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "llmgw/config/config.hpp"
#include "llmgw/resilience/retry_budget.hpp"
#include "llmgw/router/balancer.hpp"

namespace llmgw::router {

struct ModelState {
  std::shared_ptr<Balancer> balancer;
  std::shared_ptr<resilience::RetryBudget> retry_budget;
};

class ModelStateRegistry {
public:
  /// The state for this model: the existing one when its identity is unchanged.
  ModelState attach(const config::ModelConfig& model);
  /// Drops the state of models no longer configured as they were (after a reload).
  void retain(const std::vector<std::string>& identities);
  std::size_t size() const;

  /// Name, strategy, targets (provider, model, weight, in order) and retry budget ratio:
  /// the balancer's state is indexed by target, the budget's meaning by its ratio.
  static std::string identity(const config::ModelConfig& model);

private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, ModelState> by_identity_;
};

}  // namespace llmgw::router
