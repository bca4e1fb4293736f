#include "router/attempt_state.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace llmgw::router {
namespace {

std::string quota_reason(const health::TargetHealth::Quota& q) {
  const auto ms = q.wait.count();
  return "at the provider's limit (" + std::string(q.kind) + " per minute; room in " +
         std::to_string((ms + 999) / 1000) + " s)";
}

}  // namespace
namespace {

using TimePoint = common::Clock::time_point;

// The first model in the chain (the model, then its fallbacks) that has a degrade message.
const config::DegradeConfig* find_degrade(const RouteTable& table, const config::ModelConfig& m) {
  if (m.degrade) {
    return &*m.degrade;
  }
  for (const auto& name : m.fallbacks) {
    if (const auto* fb = table.model(name); fb && fb->degrade) {
      return &*fb->degrade;
    }
  }
  return nullptr;
}

// Picks the hedge partner for an attempt on `p` (models[].hedge): the next untried target of
// another provider that is routable now, started once `p` is slower than its usual latency
// (after: pNN of its recent header latencies, or a fixed duration).
HedgePlan plan_hedge(const config::ModelConfig& model, std::vector<PlannedTarget>& targets,
                     const PlannedTarget& p, unsigned round, const StreamTracker& tracker,
                     TimePoint now) {
  HedgePlan plan;
  if (!model.hedge || model.hedge->max == 0 || round > 0 || tracker.has_identity()) {
    return plan;
  }
  std::optional<double> delay_ms;
  if (model.hedge->after_quantile) {
    if (p.provider->health) {
      delay_ms = p.provider->health->header_latency_quantile(*model.hedge->after_quantile);
    }
  } else if (model.hedge->after_delay) {
    delay_ms = static_cast<double>(model.hedge->after_delay->count());
  }
  if (!delay_ms) {
    return plan;  // no latency history yet: nothing to call "slower than usual"
  }
  bool after_p = false;
  for (auto& q : targets) {
    if (&q == &p) {
      after_p = true;
      continue;
    }
    if (!after_p || q.provider == p.provider || q.tries > 0 || q.last_resort) {
      continue;
    }
    if (q.provider->health && !q.provider->health->peek(now).routable) {
      continue;
    }
    // A provider with its own quota (providers[].limits) is not raced: a hedge would spend
    // its quota behind the limit's back.
    if (q.provider->health && q.provider->health->has_quota()) {
      continue;
    }
    plan.partner = &q;
    plan.after = std::chrono::milliseconds(static_cast<long long>(std::max(1.0, *delay_ms)));
    break;
  }
  return plan;
}

}  // namespace

AttemptState::AttemptState(const RouteTable& table, const ModelRoute& model, Plan plan,
                           const CallRequest& request, std::mt19937_64& rng)
    : table_(table),
      model_(model),
      request_(request),
      rng_(rng),
      plan_(std::move(plan)),
      max_attempts_(std::max<std::size_t>(model.config->retry.attempts, plan_.targets.size())),
      previous_model_(model.config->name) {}

Step AttemptState::next(TimePoint now) {
  auto& targets = plan_.targets;
  const auto& model = *model_.config;
  while (!stopped_) {
    if (index_ >= targets.size()) {
      end_round();
      continue;
    }
    if (attempts_ >= max_attempts_ || now >= request_.deadline) {
      index_ = targets.size();
      continue;
    }
    auto& p = targets[index_];
    if (round_ == 0 && p.tries > 0) {
      ++index_;  // already done for this request (a hedge partner, or ruled out)
      continue;
    }
    if (round_ > 0 && !waited_) {
      if (!p.retry_again) {
        ++index_;
        continue;
      }
      // Another try on a target that already failed: only within the retry budget, so an
      // outage cannot multiply the load on it.
      if (model_.retry_budget && !model_.retry_budget->try_acquire(now)) {
        budget_exhausted_ = true;
        stopped_ = true;
        break;
      }
      auto delay = backoff_delay(model.retry.backoff, round_ - 1, rng_);
      if (p.last_failure && p.last_failure->retry_after) {
        // Every other target had its turn in round 0: waiting out the provider's own
        // retry-after is now the best option left.
        delay = std::max(delay, *p.last_failure->retry_after);
      }
      if (now + delay >= request_.deadline) {
        ++index_;
        continue;
      }
      waited_ = true;
      Step wait;
      wait.kind = Step::Kind::wait;
      wait.wait = delay;
      return wait;
    }
    waited_ = false;
    if (auto* health = p.provider->health.get(); health && !p.last_resort) {
      // Re-checked at the moment of sending: a retry-after cool-down, an ejection or an open
      // circuit from another request moves this one on instead of waiting.
      auto verdict = health->try_admit(now);
      if (!verdict.routable) {
        p.skip_reason = verdict.reason;
        p.retry_again = false;
        ++index_;
        continue;
      }
      // The provider's own quota (providers[].limits): at its limit the target is passed
      // over like a cooling one, before the provider has to say 429.
      if (health->has_quota()) {
        const double tokens = std::ceil(static_cast<double>(request_.body_bytes) / 4.0) +
                              static_cast<double>(request_.max_output_tokens);
        auto quota = health->take_quota(tokens, now);
        if (!quota.ok) {
          health->on_abandoned(now);  // a half-open probe it may have admitted
          p.skip_reason = quota_reason(quota);
          p.retry_again = false;
          ++index_;
          continue;
        }
        p.quota_tokens = tokens;
      }
    }
    Step step;
    step.kind = Step::Kind::attempt;
    step.target = &p;
    if (attempts_ > 0) {
      step.retry_reason =
          p.last_failure ? api::to_string(p.last_failure->cls) : std::string_view("failover");
    }
    if (p.model->name != previous_model_ && p.tries == 0) {
      step.fallback_from = previous_model_;
      previous_model_ = p.model->name;
    }
    ++attempts_;
    ++p.tries;
    attempted_ = &p;
    tried_in_round_ = true;
    step.hedge = plan_hedge(model, targets, p, round_, tracker_, now);
    ++index_;
    return step;
  }
  return Step{};
}

void AttemptState::end_round() {
  if ((continued_ && !continuable()) || !tried_in_round_) {
    stopped_ = true;
    return;
  }
  ++round_;
  index_ = 0;
  tried_in_round_ = false;
  if (attempts_ >= max_attempts_ || budget_exhausted_) {
    stopped_ = true;
  }
}

Verdict AttemptState::on_result(PlannedTarget& attempted, AttemptResult& result) {
  // The outcome is the hedge partner's when it decided the attempt: it has had its try for
  // this request, and a failure is its own.
  const bool partner = result.served_by && result.served_by != &attempted;
  PlannedTarget& p = partner ? own(result.served_by) : attempted;
  if (partner) {
    ++p.tries;
  }
  if (result.finished) {
    return Verdict::served;
  }
  const auto policy = api::failure_policy(result.failure.cls);
  if (policy.fail_over == api::FailOver::nowhere && !policy.client_fault) {
    return Verdict::ended;  // the gateway itself gave up on the request (cancelled)
  }
  // A panic (last-resort) target gets one try: the next one may be the one that works.
  p.retry_again = !p.last_resort && policy.retry_same_target &&
                  retry_allowed(model_.config->retry, result.failure);
  if (policy.fail_over == api::FailOver::larger_context) {
    // context.overflow: fallback_larger — only a target with a larger context window can
    // help; the others are not tried for this request.
    auto window = p.target->context_window.value_or(0);
    for (auto& q : plan_.targets) {
      // context.overflow: reject — no other target is tried either.
      const bool smaller = q.target->context_window.value_or(0) <= window;
      if (&q != &p && q.tries == 0 && (smaller || request_.context_reject)) {
        q.skip_reason =
            !smaller ? std::string("context.overflow is reject")
                     : "context window " + std::to_string(q.target->context_window.value_or(0)) +
                           " is not larger than the " + std::to_string(window) +
                           " the request overflowed";
        q.tries = 1;  // marks it done for this request
        q.retry_again = false;
      }
    }
    if (!context_failure_) {
      context_failure_ = result.failure;
    }
  }
  if (result.broke_after_start || tracker_.has_identity()) {
    // Part of the answer is with the client: continue on another target (later ones in the
    // plan first; this one only in a retry round), unless a tool call was under way (its
    // arguments cannot be spliced) or the answer had finished.
    continued_ = true;
    if (!continuable()) {
      stopped_ = true;
    }
  }
  p.last_failure = std::move(result.failure);
  return Verdict::go_on;
}

void AttemptState::on_race_loss(const PlannedTarget& racer, api::Failure failure) {
  auto& q = own(&racer);
  if (&q != attempted_) {
    ++q.tries;  // the hedge partner: its try was not counted when the attempt began
  }
  q.retry_again = false;
  q.last_failure = std::move(failure);
}

// The plan's own (mutable) entry for a target the driver holds by const pointer.
PlannedTarget& AttemptState::own(const PlannedTarget* target) {
  for (auto& q : plan_.targets) {
    if (&q == target) {
      return q;
    }
  }
  throw std::logic_error("not a target of this plan");
}

// Whether a stream the client has part of may go on on another target: not once it finished,
// not in the middle of a tool call, and for legacy completions only when the prompt can be
// extended.
bool AttemptState::continuable() const {
  if (tracker_.tool_call_started() || tracker_.finished()) {
    return false;
  }
  return request_.op != providers::Operation::completions || can_extend_prompt(*request_.body);
}

std::string AttemptState::diagnosis() const {
  std::string diagnosis;
  for (const auto& p : plan_.targets) {
    if (!diagnosis.empty()) {
      diagnosis += "; ";
    }
    diagnosis += p.provider->config->name + " (" + p.target->model + "): ";
    if (p.last_failure) {
      diagnosis += p.last_failure->message;
      if (p.tries > 1) {
        diagnosis += " after " + std::to_string(p.tries) + " tries";
      }
    } else if (!p.skip_reason.empty()) {
      diagnosis += p.skip_reason;
    } else {
      diagnosis += "not tried (attempt limit or deadline reached)";
    }
    if (p.last_resort) {
      diagnosis += " (tried as a last resort)";
    }
  }
  for (const auto& s : plan_.skipped) {
    diagnosis += (diagnosis.empty() ? "" : "; ") + s;
  }
  if (budget_exhausted_) {
    diagnosis += (diagnosis.empty() ? "" : "; ") + std::string("retry budget exhausted");
  }
  if (diagnosis.empty()) {
    diagnosis = "model '" + request_.model + "' has no targets";
  }
  return diagnosis;
}

Ending AttemptState::conclude(bool stream_started) const {
  Ending ending;
  if (stream_started) {
    // The client has part of a streamed answer and no target could continue it: the stream
    // ends with an error event its SDK raises, never a silent truncation.
    std::string why =
        tracker_.tool_call_started() ? "a tool call was in progress and cannot be continued"
        : request_.op == providers::Operation::completions && !can_extend_prompt(*request_.body)
            ? "a prompt that is not a single string cannot be continued"
            : "no target could continue it";
    ending.kind = Ending::Kind::stream_failed;
    ending.message = "The upstream stream failed and " + why + ": " + diagnosis();
    return ending;
  }
  if (context_failure_) {
    // No target with a larger window could take it: the provider's own context-length error
    // tells the client what to cut.
    ending.kind = Ending::Kind::context_length;
    ending.context_failure = &*context_failure_;
    return ending;
  }
  // Nothing could serve. The last resort before an error: the degrade message.
  if (const auto* degrade = find_degrade(table_, *model_.config);
      degrade && request_.op != providers::Operation::embeddings) {
    ending.kind = Ending::Kind::degrade;
    ending.degrade = degrade;
    return ending;
  }
  bool all_timeouts = !plan_.targets.empty();
  for (const auto& p : plan_.targets) {
    all_timeouts = all_timeouts && p.last_failure &&
                   api::failure_policy(p.last_failure->cls).ingress_status == 504;
  }
  ending.kind = all_timeouts ? Ending::Kind::upstream_timeout : Ending::Kind::no_healthy_upstream;
  ending.message = all_timeouts ? "Upstream timed out: " + diagnosis() : diagnosis();
  return ending;
}

}  // namespace llmgw::router
