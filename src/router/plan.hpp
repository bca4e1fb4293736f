#pragma once
// Pure routing decisions (no I/O): which targets a request may use and in what order, whether a
// failure is retried on the same target, and how long to back off.
#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "llmgw/api/failure.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/resilience/sliding_window.hpp"
#include "llmgw/router/route_table.hpp"
#include "llmgw/router/router.hpp"

namespace llmgw::router {

struct PlannedTarget {
  const config::ModelConfig* model = nullptr;  // the model (or fallback model) it belongs to
  const config::TargetConfig* target = nullptr;
  const ProviderRoute* provider = nullptr;
  std::optional<api::Failure> last_failure;
  unsigned tries = 0;
  bool retry_again = false;
  bool last_resort = false;  // not routable, tried once because nothing of its model is
  std::string skip_reason;   // set when it became unroutable after planning
  CanaryState* canary = nullptr;  // the model's canary, when this target is it
  double quota_tokens = 0;  // what the current attempt took from the provider's quota
};

struct PlanInput {
  providers::Operation op = providers::Operation::chat;
  resilience::TimePoint now{};
  std::size_t body_bytes = 0;          // for least_cost estimates
  std::uint64_t max_output_tokens = 0;  // 0 = unknown
  std::string preferred_region;        // empty = none
  RouteHint hint = RouteHint::none;    // x-llmgw-route-hint
  const nlohmann::json* body = nullptr;  // the client's request, for adapters' unsupported()
  // The admin view's plan: the balancer's next order without moving its state, and the
  // likelier side of a canary's draw.
  bool peek = false;
};

struct Plan {
  std::vector<PlannedTarget> targets;  // in the order to try them
  std::vector<std::string> skipped;    // "provider (model): why", for the diagnosis
  std::vector<std::string> unsupported;  // adapters' explanations of what they cannot serve
};

/// The routable targets of the model ordered by its strategy, then each fallback model's
/// routable targets ordered by that model's strategy. Unroutable targets (health, breaker,
/// cool-down, unsupported) are explained in `skipped`. A model with no routable target
/// contributes its panic set instead: every target that is not excluded (operator ejection,
/// rejected key, full bulkhead), least bad (soonest back) first, marked last_resort (one try
/// each, no health gate).
Plan plan_targets(const RouteTable& table, const config::ModelConfig& model,
                  const PlanInput& input, std::mt19937_64& rng);

/// Whether `retry.on` lists this failure for another try on the same target.
bool retry_allowed(const config::RetryConfig& retry, const api::Failure& f);

/// Exponential backoff with the configured jitter for retry round `round` (0-based).
std::chrono::milliseconds backoff_delay(const config::BackoffConfig& b, unsigned round,
                                        std::mt19937_64& rng);

}  // namespace llmgw::router
