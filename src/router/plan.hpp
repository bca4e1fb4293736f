#pragma once
// Pure routing decisions (no I/O): which targets a request may use and in what order, whether a
// failure is retried on the same target, and how long to back off.
#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "llmgw/api/failure.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/router/route_table.hpp"

namespace llmgw::router {

struct PlannedTarget {
  const config::ModelConfig* model = nullptr;  // the model (or fallback model) it belongs to
  const config::TargetConfig* target = nullptr;
  const ProviderRoute* provider = nullptr;
  std::optional<api::Failure> last_failure;
  unsigned tries = 0;
  bool retry_again = false;
};

/// The model's targets in priority order, then each fallback model's targets in order.
/// Targets that cannot serve `op` are left out and explained in `skipped`.
std::vector<PlannedTarget> plan_targets(const RouteTable& table, const config::ModelConfig& model,
                                        providers::Operation op,
                                        std::vector<std::string>& skipped);

/// Whether `retry.on` lists this failure for another try on the same target.
bool retry_allowed(const config::RetryConfig& retry, const api::Failure& f);

/// Exponential backoff with the configured jitter for retry round `round` (0-based).
std::chrono::milliseconds backoff_delay(const config::BackoffConfig& b, unsigned round,
                                        std::mt19937_64& rng);

}  // namespace llmgw::router
