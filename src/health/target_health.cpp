#include "llmgw/health/target_health.hpp"

#include <algorithm>
#include <functional>
#include <tuple>

#include "llmgw/common/strings.hpp"

namespace llmgw::health {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr auto kMaxCooldown = std::chrono::minutes(5);
constexpr auto kQuotaCooldown = std::chrono::seconds(60);
constexpr auto kKeyRejectedFor = std::chrono::seconds(60);

std::string seconds_text(milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  return std::to_string(ms) + "ms";
}

}  // namespace

TargetHealth::TargetHealth(const config::ProviderConfig& provider,
                           std::shared_ptr<const HealthEventSink> events)
    : max_inflight(provider.max_connections), provider_(provider.name), events_(std::move(events)) {
  if (provider.health.active) {
    const auto& a = *provider.health.active;
    active_.emplace(a.healthy_after, a.unhealthy_after, true);
  }
  if (provider.health.semantic) {
    const auto& sem = *provider.health.semantic;
    if (!sem.probes.empty()) {
      semantic_.emplace(sem.healthy_after, sem.unhealthy_after, true);
    }
    if (sem.signals) {
      signals_.emplace(*sem.signals);
    }
  }
  if (provider.health.passive) {
    passive_.emplace(*provider.health.passive);
  }
  if (provider.limits.rpm) {
    quota_requests_.emplace(static_cast<double>(*provider.limits.rpm), TimePoint{});
  }
  if (provider.limits.tpm) {
    quota_tokens_.emplace(static_cast<double>(*provider.limits.tpm), TimePoint{});
  }
  if (provider.circuit_breaker) {
    breaker_.emplace(*provider.circuit_breaker);
  }
}

Verdict TargetHealth::evaluate(TimePoint now, bool admit) {
  // Fast path for the usual case, a target with nothing against it: no lock, so planning
  // over many targets and workers sharing a target do not serialise here. A closed breaker
  // admits without counting, so skipping try_acquire changes nothing.
  if (clear_.load(std::memory_order_acquire)) {
    auto limit = max_inflight.load(std::memory_order_relaxed);
    if (limit == 0 || inflight.load(std::memory_order_relaxed) < limit) {
      return {};
    }
  }
  Verdict verdict;
  {
    std::lock_guard lock(mutex_);
    verdict = evaluate_locked(now, admit);
    observe(now);  // an ejection or an open circuit also ends by time alone
  }
  emit();
  return verdict;
}

Verdict TargetHealth::evaluate_locked(TimePoint now, bool admit) {
  std::vector<Hold> holds;
  holds_locked(now, false, holds);
  if (!holds.empty()) {
    auto& h = holds.front();
    Verdict held{false, std::move(h.reason), h.wait, h.hard};
    held.passive_ejection = h.kind == "ejected";
    if (h.kind == "cooldown") {
      // The verdict's reason is all a 503's diagnosis says: it carries the time left itself.
      held.reason += ", " + seconds_text(*h.remaining) + " left";
    }
    return held;
  }
  // A degraded target stays routable; the checks below still apply to it.
  Verdict ok;
  if (signals_ && signals_->action() != config::LiveSignalsConfig::Action::eject) {
    if (auto breach = signals_->breach(now)) {
      ok.degraded = true;
      ok.reason = "degraded: live answers: " + breach->describe();
    }
  }
  if (breaker_) {
    bool open = admit ? !breaker_->try_acquire(now)
                      : breaker_->state(now) == resilience::CircuitState::open;
    if (open) {
      auto h = circuit_hold(now);
      return {false, std::move(h.reason), h.wait, h.hard};
    }
  }
  auto limit = max_inflight.load(std::memory_order_relaxed);
  if (limit > 0 && inflight.load(std::memory_order_relaxed) >= limit) {
    if (admit && breaker_) {
      breaker_->on_abandoned(now);  // give back the probe we just took
    }
    auto h = bulkhead_hold(limit);
    return {false, std::move(h.reason), h.wait, h.hard};
  }
  return ok;
}

void TargetHealth::holds_locked(TimePoint now, bool all, std::vector<Hold>& out) {
  auto hold = [&](std::string_view kind, std::string reason, milliseconds wait, bool hard,
                  std::optional<milliseconds> remaining) {
    out.push_back(Hold{kind, std::move(reason), wait, hard, remaining});
    return !all;  // true: stop here
  };
  auto left = [now](TimePoint until) { return duration_cast<milliseconds>(until - now); };
  if (operator_ejected_ &&
      hold("operator", "ejected by operator", milliseconds::max(), true, std::nullopt)) {
    return;
  }
  if (key_rejected_ && now < key_rejected_until_ &&
      hold("key_rejected", "provider rejected the gateway's API key: " + last_error_,
           left(key_rejected_until_), true, left(key_rejected_until_))) {
    return;
  }
  if (active_ && !active_->healthy() &&
      hold("active", "active health check failing (" + active_detail_ + ")", milliseconds(1000),
           false, std::nullopt)) {
    return;
  }
  if (semantic_ && !semantic_->healthy() &&
      hold("semantic", "semantic probes failing (" + semantic_detail_ + ")",
           milliseconds(1000), false, std::nullopt)) {
    return;
  }
  if (signals_ && signals_->action() == config::LiveSignalsConfig::Action::eject) {
    if (auto breach = signals_->breach(now);
        breach && hold("signals", "live answers: " + breach->describe(), milliseconds(1000),
                       false, std::nullopt)) {
      return;
    }
  }
  if (passive_ && passive_->ejected(now) &&
      hold("ejected", passive_->describe(now), left(passive_->ejected_until()), false,
           left(passive_->ejected_until()))) {
    return;
  }
  if (now < cooldown_until_) {
    hold("cooldown", cooldown_reason_, left(cooldown_until_), false, left(cooldown_until_));
  }
}

Hold TargetHealth::circuit_hold(TimePoint now) {
  auto until = breaker_->open_until();
  std::optional<milliseconds> remaining;
  if (breaker_->state(now) == resilience::CircuitState::open && until > now) {
    remaining = duration_cast<milliseconds>(until - now);
  }
  return Hold{"circuit_open", breaker_->describe(now), milliseconds(1000), false, remaining};
}

Hold TargetHealth::bulkhead_hold(unsigned limit) {
  // Hard: a full bulkhead is never bypassed as a "last resort" (that is what it protects).
  return Hold{"bulkhead", "at max_connections (" + std::to_string(limit) + " in flight)",
              milliseconds(0), true, std::nullopt};
}

Verdict TargetHealth::try_admit(TimePoint now) { return evaluate(now, true); }

TargetHealth::Quota TargetHealth::take_quota(double tokens, TimePoint now) {
  std::lock_guard lock(quota_mutex_);
  Quota q;
  std::chrono::milliseconds wait{0};
  // Tokens first: a request refused for tokens spends no request.
  if (quota_tokens_ && !quota_tokens_->try_take(tokens, now, wait)) {
    return {false, "tokens", wait};
  }
  if (quota_requests_ && !quota_requests_->try_take(1, now, wait)) {
    if (quota_tokens_) {
      quota_tokens_->adjust(-tokens, now);
    }
    return {false, "requests", wait};
  }
  return q;
}

void TargetHealth::settle_quota(double estimated, double actual, TimePoint now) {
  std::lock_guard lock(quota_mutex_);
  if (quota_tokens_ && estimated != actual) {
    quota_tokens_->adjust(actual - estimated, now);
  }
}
Verdict TargetHealth::peek(TimePoint now) { return evaluate(now, false); }

void TargetHealth::on_success(TimePoint now, std::optional<double> ttft_ms) {
  if (ttft_ms) {
    ttft_.observe(*ttft_ms, now);
  }
  {
    std::lock_guard lock(mutex_);
    recent_.record(now, true);
    key_rejected_ = false;
    if (passive_) {
      passive_->on_success(now);
    }
    if (breaker_) {
      breaker_->on_success(now);
    }
    observe(now);
  }
  emit();
}

void TargetHealth::on_failure(TimePoint now, const api::Failure& failure) {
  {
    std::lock_guard lock(mutex_);
    record_failure(now, failure);
    observe(now);
  }
  emit();
}

void TargetHealth::record_failure(TimePoint now, const api::Failure& failure) {
  auto policy = api::failure_policy(failure.cls);
  if (policy.client_fault) {
    // Not the target's fault: it answered correctly. Release a half-open probe, nothing more.
    if (breaker_) {
      breaker_->on_abandoned(now);
    }
    return;
  }
  last_error_ = failure.message;
  last_error_at_ = now;
  has_last_error_ = true;
  recent_.record(now, false);
  const bool asked_to_wait = failure.retry_after && failure.retry_after->count() > 0;
  if (asked_to_wait && policy.cooldown != api::Cooldown::none) {
    auto d = std::min<milliseconds>(*failure.retry_after, kMaxCooldown);
    if (now + d > cooldown_until_) {
      cooldown_until_ = now + d;
      cooldown_reason_ = "cooling down after HTTP " + std::to_string(failure.status) +
                         " with retry-after " + seconds_text(d);
    }
  } else if (policy.cooldown == api::Cooldown::quota) {
    cooldown_until_ = std::max(cooldown_until_, now + kQuotaCooldown);
    cooldown_reason_ = "quota exhausted (HTTP 429 insufficient_quota)";
  }
  if (policy.cooldown == api::Cooldown::key_rejected) {
    key_rejected_ = true;
    key_rejected_until_ = now + kKeyRejectedFor;
  }
  if (policy.harms_target) {
    if (passive_) {
      passive_->on_failure(now);
    }
    if (breaker_) {
      breaker_->on_failure(now);
    }
  } else if (breaker_) {
    breaker_->on_abandoned(now);  // e.g. a 429: busy, not broken
  }
}

void TargetHealth::on_abandoned(TimePoint now) {
  std::lock_guard lock(mutex_);
  if (breaker_) {
    breaker_->on_abandoned(now);
  }
}

void TargetHealth::reinstate(TimePoint now) {
  {
    std::lock_guard lock(mutex_);
    cooldown_until_ = {};
    if (passive_ && passive_->ejected(now)) {
      passive_->restore();  // keeps the growth level: a flapping target still earns longer ones
    }
    if (breaker_ && breaker_->state(now) != resilience::CircuitState::closed) {
      breaker_->reset();
    }
    observe(now);
  }
  emit();
}

void TargetHealth::set_active(bool passed, const std::string& detail) {
  record_check(active_, active_detail_, "active check: ", passed, detail);
}

void TargetHealth::set_semantic(bool passed, const std::string& detail) {
  record_check(semantic_, semantic_detail_, "semantic probe: ", passed, detail);
}

void TargetHealth::record_check(std::optional<resilience::HealthThreshold>& check,
                                std::string& last_detail, std::string_view label, bool passed,
                                const std::string& detail) {
  {
    std::lock_guard lock(mutex_);
    if (!check) {
      return;
    }
    check->record(passed);
    const resilience::TimePoint now{std::chrono::steady_clock::now()};
    if (!passed) {
      last_detail = detail;
      last_error_ = std::string(label) + detail;
      last_error_at_ = now;
      has_last_error_ = true;
    }
    observe(now);
  }
  emit();
}

SignalSet TargetHealth::record_answer(TimePoint now, const AnswerFacts& facts) {
  if (!signals_) {
    return {};
  }
  SignalSet shown;
  {
    std::lock_guard lock(mutex_);
    shown = signals_->record(now, facts);
    observe(now);
  }
  emit();
  return shown;
}

void TargetHealth::record_feedback(TimePoint now, double score) {
  if (!signals_) {
    return;
  }
  {
    std::lock_guard lock(mutex_);
    signals_->record_feedback(now, score);
    observe(now);
  }
  emit();
}

void TargetHealth::operator_eject(TimePoint now) {
  {
    std::lock_guard lock(mutex_);
    operator_ejected_ = true;
    observe(now);
  }
  emit();
}

void TargetHealth::operator_restore() {
  {
    std::lock_guard lock(mutex_);
    operator_ejected_ = false;
    key_rejected_ = false;
    cooldown_until_ = {};
    if (passive_) {
      passive_->restore();
    }
    if (breaker_) {
      breaker_->reset();
    }
    observe(resilience::TimePoint{std::chrono::steady_clock::now()});
  }
  emit();
}

bool TargetHealth::clear_locked(TimePoint now) {
  return !operator_ejected_ && !(key_rejected_ && now < key_rejected_until_) &&
         (!active_ || active_->healthy()) && (!semantic_ || semantic_->healthy()) &&
         // Watched answers never make a target clear: a breach may also begin by time alone
         // (clean answers leaving the window), which the lock-free path would not see.
         !signals_ &&
         (!passive_ || !passive_->ejected(now)) &&
         now >= cooldown_until_ &&
         (!breaker_ || breaker_->state(now) == resilience::CircuitState::closed);
}

void TargetHealth::observe(TimePoint now) {
  // Every change of state passes here under the lock. Nothing turns a clear target unclear
  // by time alone (ejections, cool-downs and open circuits only end by time; live signals,
  // which can, keep a target off the fast path), so the flag is never stale in the dangerous
  // direction. Written only on change: it is read per request.
  bool clear = clear_locked(now);
  if (clear != clear_.load(std::memory_order_relaxed)) {
    clear_.store(clear, std::memory_order_release);
  }
  if (!events_) {
    return;
  }
  auto queue = [&](std::string_view kind, std::string reason, bool degraded) {
    queued_.push_back(HealthEvent{provider_, kind, std::move(reason), degraded});
    has_queued_.store(true, std::memory_order_release);
  };
  if (operator_ejected_ != seen_operator_ejected_) {
    seen_operator_ejected_ = operator_ejected_;
    queue(operator_ejected_ ? "operator_ejected" : "operator_restored",
          operator_ejected_ ? "ejected by operator" : "restored by operator", operator_ejected_);
  }
  bool key_rejected = key_rejected_ && now < key_rejected_until_;
  if (key_rejected != seen_key_rejected_) {
    seen_key_rejected_ = key_rejected;
    queue(key_rejected ? "key_rejected" : "key_accepted",
          key_rejected ? last_error_ : "the provider key works again", key_rejected);
  }
  if (active_ && active_->healthy() != seen_active_ok_) {
    seen_active_ok_ = active_->healthy();
    queue(seen_active_ok_ ? "active_passing" : "active_failing",
          seen_active_ok_ ? "active check passes again" : active_detail_, !seen_active_ok_);
  }
  if (semantic_ && semantic_->healthy() != seen_semantic_ok_) {
    seen_semantic_ok_ = semantic_->healthy();
    queue(seen_semantic_ok_ ? "semantic_passing" : "semantic_failing",
          seen_semantic_ok_ ? "semantic probes pass again" : semantic_detail_, !seen_semantic_ok_);
  }
  if (signals_) {
    auto breach = signals_->breach(now);
    if (breach.has_value() == seen_signals_ok_) {
      seen_signals_ok_ = !breach;
      const bool ejects = signals_->action() == config::LiveSignalsConfig::Action::eject;
      if (breach) {
        queue(ejects ? "signals_ejected" : "signals_degraded", breach->describe(), true);
      } else {
        queue("signals_recovered", "live answers look right again", false);
      }
    }
  }
  if (passive_) {
    bool ejected = passive_->ejected(now);
    if (ejected != seen_ejected_) {
      seen_ejected_ = ejected;
      queue(ejected ? "ejected" : "ejection_ended",
            ejected ? passive_->describe(now) : "back in rotation", ejected);
    }
  }
  bool cooling = now < cooldown_until_;
  if (cooling != seen_cooling_) {
    seen_cooling_ = cooling;
    queue(cooling ? "cooldown" : "cooldown_ended", cooling ? cooldown_reason_ : "cool-down over",
          cooling);
  }
  if (breaker_) {
    auto state = breaker_->state(now);
    if (state != seen_circuit_) {
      seen_circuit_ = state;
      switch (state) {
        case resilience::CircuitState::open:
          queue("circuit_open", breaker_->describe(now), true);
          break;
        case resilience::CircuitState::half_open:
          queue("circuit_half_open", "probing with half-open requests", false);
          break;
        case resilience::CircuitState::closed:
          queue("circuit_closed", "probes succeeded", false);
          break;
      }
    }
  }
}

void TargetHealth::emit() {
  if (!has_queued_.load(std::memory_order_acquire)) {
    return;
  }
  std::vector<HealthEvent> events;
  {
    std::lock_guard lock(mutex_);
    events.swap(queued_);
    has_queued_.store(false, std::memory_order_relaxed);
  }
  for (const auto& e : events) {
    (*events_)(e);
  }
}

namespace {
constexpr std::size_t kLatencySamples = 128;
constexpr std::size_t kMinLatencySamples = 10;
}  // namespace

void TargetHealth::record_header_latency(double millis) {
  std::lock_guard lock(latency_mutex_);
  if (latencies_.size() < kLatencySamples) {
    latencies_.push_back(millis);
  } else {
    latencies_[latency_next_] = millis;
    latency_next_ = (latency_next_ + 1) % kLatencySamples;
  }
}

std::optional<double> TargetHealth::header_latency_quantile(double q) const {
  std::vector<double> copy;
  {
    std::lock_guard lock(latency_mutex_);
    if (latencies_.size() < kMinLatencySamples) {
      return std::nullopt;
    }
    copy = latencies_;
  }
  auto k = static_cast<std::size_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(copy.size() - 1));
  std::nth_element(copy.begin(), copy.begin() + static_cast<std::ptrdiff_t>(k), copy.end());
  return copy[k];
}

HealthSnapshot TargetHealth::snapshot(TimePoint now) {
  auto verdict = peek(now);
  HealthSnapshot s;
  s.provider = provider_;
  s.routable = verdict.routable;
  s.reason = verdict.reason;
  s.inflight = inflight.load(std::memory_order_relaxed);
  s.ewma_ttft_ms = ttft_.value(now);
  s.ttft_sampled = ttft_.has_samples();
  std::lock_guard lock(mutex_);
  holds_locked(now, true, s.holds);
  if (breaker_ && breaker_->state(now) == resilience::CircuitState::open) {
    s.holds.push_back(circuit_hold(now));
  }
  if (auto limit = max_inflight.load(std::memory_order_relaxed);
      limit > 0 && s.inflight >= static_cast<std::int64_t>(limit)) {
    s.holds.push_back(bulkhead_hold(limit));
  }
  if (active_) {
    s.active_healthy = active_->healthy();
  }
  if (semantic_) {
    s.semantic_healthy = semantic_->healthy();
    s.semantic_last_failure = semantic_detail_;
  }
  if (signals_) {
    HealthSnapshot::Signals sig;
    sig.answers = signals_->answers(now);
    sig.shares = signals_->shares(now);
    if (auto breach = signals_->breach(now)) {
      sig.breach = breach->describe();
    }
    sig.ejects = signals_->action() == config::LiveSignalsConfig::Action::eject;
    sig.baseline_tokens_per_second = signals_->baseline_tokens_per_second();
    std::tie(sig.ratings, sig.mean_feedback) = signals_->feedback(now);
    s.signals = std::move(sig);
  }
  if (passive_) {
    s.passive_healthy = !passive_->ejected(now);
    s.ejections = passive_->ejections();
  }
  if (breaker_) {
    s.circuit_enabled = true;
    s.circuit = breaker_->state(now);
  }
  s.operator_ejected = operator_ejected_;
  s.provider_key_rejected = key_rejected_ && now < key_rejected_until_;
  auto totals = recent_.totals(now);
  s.recent_calls = totals.total();
  s.error_rate = totals.failure_rate();
  s.last_error = last_error_;
  if (has_last_error_) {
    s.last_error_age = std::max(milliseconds(0), duration_cast<milliseconds>(now - last_error_at_));
  }
  s.cooldown_ms =
      now < cooldown_until_ ? duration_cast<milliseconds>(cooldown_until_ - now).count() : 0;
  return s;
}

std::string HealthRegistry::identity(const config::ProviderConfig& p) {
  // State is kept across reloads only when nothing that defines "this endpoint, judged this
  // way" changed: address, TLS trust, credentials and health settings.
  std::string id = p.name + "|" + p.base_url + "|" + p.ca_file + "|" + (p.tls_verify ? "v" : "n") +
                   "|" + common::sha256_hex(p.api_key).substr(0, 16) + "|q" +
                   std::to_string(p.limits.rpm.value_or(0)) + "/" +
                   std::to_string(p.limits.tpm.value_or(0));
  // Every field is followed by a separator: run together, "1" "23" and "12" "3" (healthy_after,
  // unhealthy_after) or a path ending in digits and an interval would give the same identity.
  auto d = [](config::Duration x) { return std::to_string(x.count()) + "/"; };
  auto n = [](auto x) { return std::to_string(x) + "/"; };
  if (const auto& a = p.health.active) {
    // unhealthy_interval too: the checker keeps the settings it started with, so a changed
    // value only applies through a new identity (a fresh checker).
    id += "|a" + n(static_cast<int>(a->kind)) + d(a->interval) + d(a->unhealthy_interval) +
          d(a->timeout) + n(a->healthy_after) + n(a->unhealthy_after) + n(a->expected_status) +
          a->path;  // last: a path may itself contain "/"
  }
  if (const auto& sem = p.health.semantic) {
    id += "|s" + d(sem->interval) + n(sem->healthy_after) + n(sem->unhealthy_after) +
          n(sem->max_usd_per_day.value_or(-1)) + n(sem->probes.size());
    for (const auto& probe : sem->probes) {
      id += probe + "/";
    }
    if (const auto& g = sem->signals) {
      id += "|g" + d(g->window) + n(g->min_answers) + n(static_cast<int>(g->action)) +
            n(g->empty) + n(g->repetition) + n(g->invalid_json) + n(g->finish_length) +
            n(g->content_filter) + n(g->refusal) + n(g->slow_tokens) + n(g->slow_below) +
            n(g->feedback_below) + n(g->min_feedback);
    }
    id += "|m" + sem->model;  // last, like the path above
  }
  if (const auto& ps = p.health.passive) {
    id += "|p" + n(ps->consecutive_failures) + n(ps->failure_rate) + n(ps->min_requests) +
          d(ps->window) + d(ps->eject_for) + d(ps->max_eject_for);
  }
  if (const auto& b = p.circuit_breaker) {
    id += "|b" + n(b->open_after_failure_rate) + n(b->min_requests) + d(b->window) +
          d(b->open_for) + n(b->half_open_probes);
  }
  return id;
}

void HealthRegistry::set_event_sink(HealthEventSink sink) {
  std::lock_guard lock(mutex_);
  events_ = std::make_shared<const HealthEventSink>(std::move(sink));
}

std::shared_ptr<TargetHealth> HealthRegistry::attach(const config::ProviderConfig& provider) {
  auto id = identity(provider);
  std::lock_guard lock(mutex_);
  auto& slot = by_identity_[id];
  if (!slot) {
    slot = std::make_shared<TargetHealth>(provider, events_);
  }
  slot->max_inflight = provider.max_connections;
  return slot;
}

void HealthRegistry::retain(const std::vector<std::string>& identities) {
  std::lock_guard lock(mutex_);
  for (auto it = by_identity_.begin(); it != by_identity_.end();) {
    if (std::find(identities.begin(), identities.end(), it->first) == identities.end()) {
      it = by_identity_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<std::shared_ptr<TargetHealth>> HealthRegistry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<TargetHealth>> out;
  for (const auto& [_, t] : by_identity_) {
    out.push_back(t);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->provider() < b->provider(); });
  return out;
}

std::shared_ptr<TargetHealth> HealthRegistry::find(std::string_view provider) const {
  std::lock_guard lock(mutex_);
  for (const auto& [_, t] : by_identity_) {
    if (t->provider() == provider) {
      return t;
    }
  }
  return nullptr;
}

}  // namespace llmgw::health
