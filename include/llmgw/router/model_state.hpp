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
#include "llmgw/router/canary.hpp"

namespace llmgw::router {

struct ModelState {
  std::shared_ptr<Balancer> balancer;
  std::shared_ptr<resilience::RetryBudget> retry_budget;
  std::shared_ptr<CanaryState> canary;  // null without models[].canary
};

class ModelStateRegistry {
public:
  /// Where canaries created from now on report rollbacks and resumes.
  void set_event_sink(CanaryEventSink sink);
  /// Every live canary, by model name (admin API, metrics).
  std::vector<std::pair<std::string, std::shared_ptr<CanaryState>>> canaries() const;
  /// The state for this model: the existing one when its identity is unchanged.
  ModelState attach(const config::ModelConfig& model);
  /// Drops the state of models no longer configured as they were (after a reload).
  void retain(const std::vector<std::string>& identities);
  std::size_t size() const;

  /// Name, strategy, targets (provider, model, weight, in order), retry budget ratio and the
  /// canary: the balancer's state is indexed by target, the budget's meaning by its ratio,
  /// and a changed canary is a new canary (judged afresh, not rolled back).
  static std::string identity(const config::ModelConfig& model);

private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, ModelState> by_identity_;
  std::shared_ptr<const CanaryEventSink> canary_events_;
};

}  // namespace llmgw::router
