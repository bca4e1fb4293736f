#include "llmgw/router/preview.hpp"

#include <random>

#include "router/plan.hpp"

namespace llmgw::router {

std::vector<ModelPreview> preview_models(const RouteTable& table, resilience::TimePoint now) {
  std::vector<ModelPreview> out;
  PlanInput input;
  input.now = now;
  input.peek = true;
  std::mt19937_64 unused_rng;  // a peek draws nothing
  for (const auto& m : table.config().models) {
    auto plan = plan_targets(table, m, input, unused_rng);
    ModelPreview view;
    view.name = m.name;
    view.strategy = m.strategy;
    view.fallbacks = m.fallbacks;
    view.skipped = std::move(plan.skipped);
    for (const auto& t : plan.targets) {
      view.plan.push_back(PlanStep{t.model->name, t.target->provider, t.target->model,
                                   t.last_resort});
      view.routable = view.routable || (t.model == &m && !t.last_resort);
    }
    out.push_back(std::move(view));
  }
  return out;
}

}  // namespace llmgw::router
