#include "router/plan.hpp"

#include <random>

namespace llmgw::router {



// Whether `retry.on` lists this failure for another try on the same target.
bool retry_allowed(const config::RetryConfig& retry, const api::Failure& f) {
  for (const auto& cond : retry.on) {
    switch (f.cls) {
      case api::FailureClass::connect:
      case api::FailureClass::tls:
        if (cond == "connect") {
          return true;
        }
        break;
      case api::FailureClass::timeout:
      case api::FailureClass::stall:
        if (cond == "timeout") {
          return true;
        }
        break;
      default:
        break;
    }
    if (f.status >= 500 && cond == "5xx") {
      return true;
    }
    if (f.status == 429 && cond == "429") {
      return true;
    }
    if (f.status >= 400 && f.status < 500 && cond == "4xx") {
      return true;
    }
    if (f.status != 0 && cond == std::to_string(f.status)) {
      return true;
    }
  }
  return false;
}

// Full jitter (AWS architecture blog): uniform in [0, min(max, base * 2^round)].
std::chrono::milliseconds backoff_delay(const config::BackoffConfig& b, unsigned round,
                                        std::mt19937_64& rng) {
  auto cap = b.base.count() * (1LL << std::min(round, 20u));
  cap = std::min<long long>(cap, b.max.count());
  if (cap <= 0) {
    return std::chrono::milliseconds(0);
  }
  switch (b.jitter) {
    case config::Jitter::none: return std::chrono::milliseconds(cap);
    case config::Jitter::equal:
      return std::chrono::milliseconds(cap / 2 +
                                       std::uniform_int_distribution<long long>(0, cap / 2)(rng));
    case config::Jitter::full: break;
  }
  return std::chrono::milliseconds(std::uniform_int_distribution<long long>(0, cap)(rng));
}

std::vector<PlannedTarget> plan_targets(const RouteTable& table, const config::ModelConfig& model,
                                        providers::Operation op,
                                        std::vector<std::string>& skipped) {
  std::vector<PlannedTarget> plan;
  std::vector<const config::ModelConfig*> models{&model};
  for (const auto& name : model.fallbacks) {
    if (const auto* fb = table.model(name)) {
      models.push_back(fb);
    }
  }
  for (const auto* m : models) {
    for (const auto& t : m->targets) {
      const auto* p = table.provider(t.provider);
      if (!p || !p->adapter) {
        skipped.push_back(t.provider + ": provider kind not supported by this build");
        continue;
      }
      if (!p->adapter->supports(op)) {
        skipped.push_back(t.provider + ": does not offer " + std::string(providers::to_string(op)));
        continue;
      }
      plan.push_back(PlannedTarget{m, &t, p, std::nullopt, 0, false});
    }
  }
  return plan;
}


}  // namespace llmgw::router
