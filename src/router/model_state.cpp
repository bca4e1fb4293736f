#include "llmgw/router/model_state.hpp"

#include <unordered_set>

namespace llmgw::router {

std::string ModelStateRegistry::identity(const config::ModelConfig& m) {
  // Every field ends with a separator, so adjacent values cannot run together.
  std::string id = m.name + "|" + std::to_string(static_cast<int>(m.strategy)) + "|" +
                   std::to_string(m.retry.budget) + "|";
  for (const auto& t : m.targets) {
    id += t.provider + "/" + t.model + "/" + std::to_string(t.weight) + "|";
  }
  return id;
}

ModelState ModelStateRegistry::attach(const config::ModelConfig& m) {
  auto id = identity(m);
  std::lock_guard lock(mutex_);
  auto& state = by_identity_[id];
  if (!state.balancer) {
    state.balancer = std::make_shared<Balancer>(m.strategy, m.targets.size());
    state.retry_budget = std::make_shared<resilience::RetryBudget>(m.retry.budget);
  }
  return state;
}

void ModelStateRegistry::retain(const std::vector<std::string>& identities) {
  std::unordered_set<std::string> keep(identities.begin(), identities.end());
  std::lock_guard lock(mutex_);
  std::erase_if(by_identity_, [&](const auto& entry) { return !keep.contains(entry.first); });
}

std::size_t ModelStateRegistry::size() const {
  std::lock_guard lock(mutex_);
  return by_identity_.size();
}

}  // namespace llmgw::router
