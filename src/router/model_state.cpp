#include "llmgw/router/model_state.hpp"

#include <algorithm>
#include <unordered_set>

namespace llmgw::router {

std::string ModelStateRegistry::identity(const config::ModelConfig& m) {
  // Every field ends with a separator, so adjacent values cannot run together.
  std::string id = m.name + "|" + std::to_string(static_cast<int>(m.strategy)) + "|" +
                   std::to_string(m.retry.budget) + "|";
  for (const auto& t : m.targets) {
    id += t.provider + "/" + t.model + "/" + std::to_string(t.weight) + "|";
  }
  if (const auto& c = m.canary) {
    auto opt = [](const auto& v) { return v ? std::to_string(*v) : std::string("-"); };
    id += "canary/" + std::to_string(c->percent) + "/" + opt(c->rollback_on.error_rate) + "/" +
          opt(c->rollback_on.semantic_failures) + "/" + opt(c->rollback_on.feedback_below) +
          "/" + c->target + "|";
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
    if (m.canary) {
      state.canary = std::make_shared<CanaryState>(m.name, *m.canary, canary_events_);
    }
  }
  return state;
}

void ModelStateRegistry::set_event_sink(CanaryEventSink sink) {
  std::lock_guard lock(mutex_);
  canary_events_ = std::make_shared<const CanaryEventSink>(std::move(sink));
}

std::vector<std::pair<std::string, std::shared_ptr<CanaryState>>> ModelStateRegistry::canaries()
    const {
  std::vector<std::pair<std::string, std::shared_ptr<CanaryState>>> out;
  std::lock_guard lock(mutex_);
  for (const auto& [_, state] : by_identity_) {
    if (state.canary) {
      out.emplace_back(state.canary->model(), state.canary);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
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
