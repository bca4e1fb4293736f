#include "router/plan.hpp"

#include <algorithm>
#include <limits>

#include <random>

namespace llmgw::router {



// Whether `retry.on` lists this failure for another try on the same target.
bool retry_allowed(const config::RetryConfig& retry, const api::Failure& f) {
  const auto& when = retry.when;
  switch (f.cls) {
    case api::FailureClass::connect:
    case api::FailureClass::tls:
      if (when.connect) {
        return true;
      }
      break;
    case api::FailureClass::timeout:
    case api::FailureClass::stall:
      if (when.timeout) {
        return true;
      }
      break;
    default:
      break;
  }
  if ((f.status >= 500 && when.status_5xx) || (f.status == 429 && when.status_429) ||
      (f.status >= 400 && f.status < 500 && when.status_4xx)) {
    return true;
  }
  return f.status != 0 &&
         std::find(when.statuses.begin(), when.statuses.end(), f.status) != when.statuses.end();
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
  for (const auto* m : models) {
    const auto* mroute = table.model_route(m->name);
    CanaryState* canary = mroute ? mroute->canary.get() : nullptr;
    std::vector<PlannedTarget> routable;
    std::vector<BalanceCandidate> candidates;
    bool any_degraded = false;
    // Passively ejected targets, for the cap on how much of a model may be ejected at once.
    struct Ejected {
      PlannedTarget target;
      std::chrono::milliseconds wait;
      std::string skipped_entry;
    };
    std::vector<Ejected> ejected;
    // Unroutable but not excluded (ejected, cooling down, circuit open, active check failing):
    // the panic set, tried when nothing of this model is routable.
    struct Panic {
      PlannedTarget target;
      std::chrono::milliseconds wait;
      std::string skipped_entry;
    };
    std::vector<Panic> panic;
    std::size_t eligible = 0;
    double max_ejected_percent = 100;
    // Only least_latency reads the estimate, and reading it takes the target's lock.
    const bool wants_latency =
        m->strategy == config::Strategy::least_latency || in.hint == RouteHint::fastest;
    auto add_candidate = [&](const PlannedTarget& planned, bool is_degraded = false) {
      const auto& t = *planned.target;
      const auto* p = planned.provider;
      BalanceCandidate c;
      c.index = routable.size();
      c.weight = t.weight;
      c.inflight = p->health ? p->health->inflight.load(std::memory_order_relaxed) : 0;
      c.ewma_ttft_ms = wants_latency && p->health ? p->health->ewma_ttft_ms(in.now) : 0;
      c.cost = estimated_cost(t, in);
      c.degraded = is_degraded;
      any_degraded = any_degraded || is_degraded;
      c.region_preferred =
          !in.preferred_region.empty() && p->config->region == in.preferred_region;
      candidates.push_back(c);
      routable.push_back(planned);
    };
    routable.reserve(m->targets.size());
    candidates.reserve(m->targets.size());
    for (std::size_t ti = 0; ti < m->targets.size(); ++ti) {
      const auto& t = m->targets[ti];
      const auto* p = mroute ? mroute->target_providers[ti] : table.provider(t.provider);
      // Built only for a target that is skipped: planning costs no allocation per target.
      auto label = [&t] { return t.provider + " (" + t.model + ")"; };
      if (!p || !p->adapter) {
        plan.skipped.push_back(label() + ": provider kind not supported by this build");
        continue;
      }
      if (!p->adapter->supports(in.op)) {
        plan.skipped.push_back(label() + ": does not offer " +
                               std::string(providers::to_string(in.op)));
        continue;
      }
      if (in.body) {
        if (auto why = p->adapter->unsupported(in.op, *in.body, *p->config, t)) {
          plan.skipped.push_back(label() + ": " + *why);
          plan.unsupported.push_back(*why);
          continue;
        }
      }
      PlannedTarget planned{m, &t, p, std::nullopt, 0, false, false, {},
                            canary && t.provider == canary->target() ? canary : nullptr};
      ++eligible;
      if (p->config->health.passive) {
        max_ejected_percent = std::min(max_ejected_percent, p->config->health.passive->max_ejected_percent);
      }
      if (p->health) {
        auto verdict = p->health->peek(in.now);
        if (!verdict.routable) {
          plan.skipped.push_back(label() + ": " + verdict.reason);
          if (verdict.passive_ejection) {
            ejected.push_back(Ejected{planned, verdict.wait, plan.skipped.back()});
          }
          if (!verdict.hard) {
            panic.push_back(Panic{planned, verdict.wait, plan.skipped.back()});
          }
          continue;
        }
        if (verdict.degraded) {
          add_candidate(planned, true);
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
        std::erase_if(panic, [&](const Panic& x) { return x.target.target == planned.target; });
      }
    }
    if (routable.empty()) {
      // Panic routing (Envoy's panic threshold, taken to its end): nothing here is routable, so
      // the health verdicts are stale or everything really is down — either way, one try on
      // each target that is not excluded, least bad (soonest back) first, beats failing. Then
      // the fallback models. Operator ejections, rejected keys and full bulkheads are never
      // used this way.
      std::stable_sort(panic.begin(), panic.end(),
                       [](const Panic& a, const Panic& b) { return a.wait < b.wait; });
      for (auto& x : panic) {
        x.target.last_resort = true;
        plan.targets.push_back(x.target);
        std::erase(plan.skipped, x.skipped_entry);  // it is tried: no longer "skipped"
      }
      continue;
    }
    std::vector<std::size_t> order;
    if (mroute && mroute->balancer) {
      order = in.peek ? mroute->balancer->peek(candidates)
                      : mroute->balancer->order(candidates, rng);
    } else {
      for (std::size_t i = 0; i < routable.size(); ++i) {
        order.push_back(i);
      }
    }
    if (in.hint == RouteHint::cheapest) {
      // The client asked: cheapest first whatever the strategy (ties keep its order).
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return candidates[a].cost < candidates[b].cost;
      });
    } else if (in.hint == RouteHint::fastest) {
      // Fastest first by recent time to first token; a target with no sample yet goes after
      // those with one (a hint is a request for known speed, not for exploration).
      auto ttft = [&](std::size_t i) {
        const double v = candidates[i].ewma_ttft_ms;
        return v > 0 ? v : std::numeric_limits<double>::infinity();
      };
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t a, std::size_t b) { return ttft(a) < ttft(b); });
    }
    if (canary) {
      // The canary's share tries it first; the rest (and everything once it rolled back) try
      // it after the other targets, so it still serves when they cannot.
      const double draw = in.peek ? 50.0 : std::uniform_real_distribution<double>(0, 100)(rng);
      const bool first = canary->picks(draw);
      std::stable_partition(order.begin(), order.end(), [&](std::size_t i) {
        return (routable[i].canary != nullptr) == first;
      });
    }
    // Degraded targets (their live answers look bad) after every clean one, whatever the
    // strategy: they serve only when the clean ones cannot.
    // (Only when there is one: stable_partition allocates.)
    if (any_degraded) {
      std::stable_partition(order.begin(), order.end(),
                            [&](std::size_t i) { return !candidates[i].degraded; });
    }
    plan.targets.reserve(plan.targets.size() + order.size());
    for (auto i : order) {
      plan.targets.push_back(routable[i]);
    }
  }
  return plan;
}

}  // namespace llmgw::router
