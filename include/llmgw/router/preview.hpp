#pragma once
// What each model would do with a request now, for the admin view (status page and
// /admin/upstreams): the targets a chat request would try, in order (its fallback models'
// included), which one serves next, and why the others are left out. The same planning as a
// request's, reading health without admitting and balancers without moving them.
#include <string>
#include <vector>

#include "llmgw/config/config.hpp"
#include "llmgw/resilience/sliding_window.hpp"
#include "llmgw/router/route_table.hpp"

namespace llmgw::router {

struct PlanStep {
  std::string model;         // the model (or fallback model) the target belongs to
  std::string provider;
  std::string target_model;  // the model name sent to the provider
  bool last_resort = false;  // not routable: tried once because nothing of its model is
};

struct ModelPreview {
  std::string name;
  config::Strategy strategy = config::Strategy::priority;
  std::vector<PlanStep> plan;        // the order of tries; front() serves the next request
  std::vector<std::string> skipped;  // "provider (model): why", targets left out of the plan
  std::vector<std::string> fallbacks;
  bool routable = false;  // some target of the model itself is routable
};

/// Every configured model, in config order.
std::vector<ModelPreview> preview_models(const RouteTable& table, resilience::TimePoint now);

}  // namespace llmgw::router
