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

namespace {

// A rough price of this request on a target, for least_cost: input from the body size (about
// 4 bytes a token), output from max_tokens (or a typical answer).
double estimated_cost(const config::TargetConfig& t, const PlanInput& in) {
  double input_tokens = static_cast<double>(in.body_bytes) / 4.0;
  double output_tokens = in.max_output_tokens > 0 ? static_cast<double>(in.max_output_tokens) : 256.0;
  return (input_tokens * t.price.input_per_mtok + output_tokens * t.price.output_per_mtok) / 1e6;
}

}  // namespace

Plan plan_targets(const RouteTable& table, const config::ModelConfig& model,
                  const PlanInput& in, std::mt19937_64& rng) {
  Plan plan;
  std::vector<const config::ModelConfig*> models{&model};
  for (const auto& name : model.fallbacks) {
    if (const auto* fb = table.model(name)) {
      models.push_back(fb);
    }
  }
  std::optional<PlannedTarget> least_bad;
  std::chrono::milliseconds least_bad_wait = std::chrono::milliseconds::max();
  for (const auto* m : models) {
    const auto* mroute = table.model_route(m->name);
    std::vector<PlannedTarget> routable;
    std::vector<BalanceCandidate> candidates;
    // Passively ejected targets, for the cap on how much of a model may be ejected at once.
    struct Ejected {
      PlannedTarget target;
      std::chrono::milliseconds wait;
      std::string skipped_entry;
    };
    std::vector<Ejected> ejected;
    std::size_t eligible = 0;
    double max_ejected_percent = 100;
    auto add_candidate = [&](const PlannedTarget& planned) {
      const auto& t = *planned.target;
      const auto* p = planned.provider;
      BalanceCandidate c;
      c.index = routable.size();
      c.weight = t.weight;
      c.inflight = p->health ? p->health->inflight.load(std::memory_order_relaxed) : 0;
      c.ewma_ttft_ms = p->health ? p->health->ewma_ttft_ms(in.now) : 0;
      c.cost = estimated_cost(t, in);
      c.region_preferred =
          !in.preferred_region.empty() && p->config->region == in.preferred_region;
      candidates.push_back(c);
      routable.push_back(planned);
    };
    for (const auto& t : m->targets) {
      const auto* p = table.provider(t.provider);
      auto label = t.provider + " (" + t.model + ")";
      if (!p || !p->adapter) {
        plan.skipped.push_back(label + ": provider kind not supported by this build");
        continue;
      }
      if (!p->adapter->supports(in.op)) {
        plan.skipped.push_back(label + ": does not offer " +
                               std::string(providers::to_string(in.op)));
        continue;
      }
      if (in.body) {
        if (auto why = p->adapter->unsupported(in.op, *in.body, *p->config, t)) {
          plan.skipped.push_back(label + ": " + *why);
          plan.unsupported.push_back(*why);
          continue;
        }
      }
      PlannedTarget planned{m, &t, p, std::nullopt, 0, false, false, {}};
      ++eligible;
      if (p->config->health.passive) {
        max_ejected_percent = std::min(max_ejected_percent, p->config->health.passive->max_ejected_percent);
      }
      if (p->health) {
        auto verdict = p->health->peek(in.now);
        if (!verdict.routable) {
          plan.skipped.push_back(label + ": " + verdict.reason);
          if (verdict.passive_ejection) {
            ejected.push_back(Ejected{planned, verdict.wait, plan.skipped.back()});
          }
          if (!verdict.hard && verdict.wait < least_bad_wait) {
            least_bad_wait = verdict.wait;
            least_bad = planned;
          }
          continue;
        }
      }
      add_candidate(planned);
    }
    // Outlier detection may eject at most max_ejected_percent of a model's targets: past the
    // cap, the ejected targets that are back soonest count as routable again (Envoy's
    // max_ejection_percent), so detection cannot take a whole model down by itself.
    auto cap = static_cast<std::size_t>(static_cast<double>(eligible) * max_ejected_percent / 100.0);
    if (ejected.size() > cap) {
      std::sort(ejected.begin(), ejected.end(),
                [](const Ejected& a, const Ejected& b) { return a.wait < b.wait; });
      for (std::size_t i = 0; i < ejected.size() - cap; ++i) {
        auto planned = ejected[i].target;
        planned.last_resort = true;  // admitted past its ejection: skip the health gate
        add_candidate(planned);
        std::erase(plan.skipped, ejected[i].skipped_entry);
      }
    }
    if (routable.empty()) {
      continue;
    }
    std::vector<std::size_t> order;
    if (mroute && mroute->balancer) {
      order = mroute->balancer->order(candidates, rng);
    } else {
      for (std::size_t i = 0; i < routable.size(); ++i) {
        order.push_back(i);
      }
    }
    for (auto i : order) {
      plan.targets.push_back(routable[i]);
    }
  }
  if (plan.targets.empty() && least_bad) {
    // It is tried, so it is no longer "skipped" in the diagnosis.
    auto label = least_bad->target->provider + " (" + least_bad->target->model + "): ";
    std::erase_if(plan.skipped, [&](const std::string& s) { return s.starts_with(label); });
    // Everything is ejected, open or cooling down: rather than fail outright, try the target
    // that would be back soonest (Envoy's panic threshold idea). Operator ejections and
    // rejected provider keys are never used this way.
    least_bad->last_resort = true;
    plan.targets.push_back(*least_bad);
  }
  return plan;
}

}  // namespace llmgw::router
