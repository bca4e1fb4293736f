#pragma once
// Everything the gateway knows about one provider endpoint's health, shared by all workers:
// the active check verdict, passive outlier detection, the circuit breaker, a retry-after
// cool-down, an operator override and live figures (in flight, TTFT EWMA, last error).
// It combines the resilience module's pure pieces and answers one question for the router:
// may a request go there now, and if not, why. Thread safe.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmgw/api/failure.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/health/live_signals.hpp"
#include "llmgw/limits/rate_limiter.hpp"
#include "llmgw/resilience/circuit_breaker.hpp"
#include "llmgw/resilience/ewma.hpp"
#include "llmgw/resilience/health_threshold.hpp"
#include "llmgw/resilience/outlier_detector.hpp"
#include "llmgw/resilience/sliding_window.hpp"

namespace llmgw::health {

using resilience::TimePoint;

struct Verdict {
  bool routable = true;
  std::string reason;  // why not, e.g. "circuit open (6 of 10 recent calls failed)"
  // When not routable: how "bad" it is, for routing to the least bad target when nothing is
  // routable (lower is better): the time until it would be routable again.
  std::chrono::milliseconds wait{0};
  bool hard = false;  // operator ejection or provider key rejected: never a last resort
  bool passive_ejection = false;  // ejected by outlier detection (subject to the ejection cap)
  // Routable, but its live answers show a bad sign (signals action: degrade): every strategy
  // tries it after the clean targets. `reason` says which sign.
  bool degraded = false;
};

/// A change in a target's health, for the daemon log and the metrics: emitted once per
/// transition (not per request), with the reason.
struct HealthEvent {
  std::string provider;
  std::string_view kind;  // ejected, ejection_ended, circuit_open, circuit_half_open,
                          // circuit_closed, cooldown, cooldown_ended, active_failing,
                          // active_passing, semantic_failing, semantic_passing,
                          // signals_degraded, signals_ejected, signals_recovered,
                          // key_rejected, key_accepted, operator_ejected,
                          // operator_restored, reinstated
  std::string reason;
  bool degraded = false;  // a step away from routable (ejected, circuit_open, ...)
};
using HealthEventSink = std::function<void(const HealthEvent&)>;

/// One thing that stands against a target now (it is not routable while any is held).
struct Hold {
  std::string_view kind;  // operator, key_rejected, active, semantic, signals, ejected,
                          // cooldown, circuit_open, bulkhead
  std::string reason;
  // What routing waits for (ordering the panic set) and whether the hold excludes a target
  // even as a last resort.
  std::chrono::milliseconds wait{0};
  bool hard = false;
  // Time left when the hold ends by time alone (ejection, cool-down, open circuit, rejected
  // key): the status page's countdown. Empty when it ends by a check passing.
  std::optional<std::chrono::milliseconds> remaining;
};

/// What the admin API and metrics show for a target.
struct HealthSnapshot {
  std::string provider;
  bool routable = true;
  std::string reason;
  std::vector<Hold> holds;  // every reason it is not routable, in the order the verdict checks
  std::optional<bool> active_healthy;   // nullopt when no active check is configured
  std::optional<bool> passive_healthy;  // nullopt when passive detection is off
  std::optional<bool> semantic_healthy;  // nullopt when no semantic probes are configured
  std::string semantic_last_failure;    // the last failing probe round (probe, rule, excerpt)
  struct Signals {
    std::uint64_t answers = 0;  // in the window
    std::array<double, kSignalCount> shares{};
    std::string breach;  // the signal over its threshold, empty when none
    bool ejects = false;  // action: eject (else degrade)
    double baseline_tokens_per_second = 0;
    std::uint64_t ratings = 0;  // user feedback in the window
    double mean_feedback = 0;
  };
  std::optional<Signals> signals;  // nullopt when live signals are off
  resilience::CircuitState circuit = resilience::CircuitState::closed;
  bool circuit_enabled = false;
  bool operator_ejected = false;
  bool provider_key_rejected = false;
  std::int64_t inflight = 0;
  double ewma_ttft_ms = 0;
  bool ttft_sampled = false;  // false: no time to first token measured yet (the EWMA is no data)
  double error_rate = 0;  // over the last minute
  std::uint64_t recent_calls = 0;
  std::uint64_t ejections = 0;
  std::string last_error;
  std::optional<std::chrono::milliseconds> last_error_age;  // empty: no error yet
  std::int64_t cooldown_ms = 0;  // remaining retry-after cool-down
};

class TargetHealth {
public:
  explicit TargetHealth(const config::ProviderConfig& provider,
                        std::shared_ptr<const HealthEventSink> events = nullptr);

  const std::string& provider() const { return provider_; }

  /// May a request go to this target now? Admits half-open probes, so every admitted request
  /// must be followed by on_success / on_failure / on_abandoned.
  Verdict try_admit(TimePoint now);
  /// Same question without admitting anything (readiness, admin, planning).
  Verdict peek(TimePoint now);

  void on_success(TimePoint now, std::optional<double> ttft_ms);
  void on_failure(TimePoint now, const api::Failure& failure);
  void on_abandoned(TimePoint now);
  /// A panic (last-resort) attempt succeeded: the target works, whatever its ejection,
  /// cool-down or open circuit said, so it is routable again at once. The active check keeps
  /// its own verdict and hard exclusions stay.
  void reinstate(TimePoint now);

  /// Active check results, from the checker.
  void set_active(bool passed, const std::string& detail);
  /// Semantic probe rounds, from the prober: `detail` says which probe and rule failed.
  void set_semantic(bool passed, const std::string& detail);
  /// Whether live answers are watched (health.semantic.signals); fixed for the object's life.
  bool watches_answers() const { return signals_.has_value(); }
  /// One served answer, from the router: the signs of a bad answer it showed.
  SignalSet record_answer(TimePoint now, const AnswerFacts& facts);
  /// A user's rating (-1..1) of an answer this target served (POST /v1/feedback).
  void record_feedback(TimePoint now, double score);
  void operator_eject(TimePoint now);
  void operator_restore();

  HealthSnapshot snapshot(TimePoint now);
  double ewma_ttft_ms(TimePoint now) const { return ttft_.value(now); }

  /// Time to the response header of successful attempts, for hedging ("the target's usual
  /// latency"): the q-quantile (0..1) of the last samples; nullopt until there are enough.
  void record_header_latency(double millis);
  std::optional<double> header_latency_quantile(double q) const;

  /// providers[].limits, the provider's own quota, on this instance: takes one request and
  /// `tokens` (an estimate) when there is room. When there is none the router moves the request
  /// on, as for a cool-down: the target is skipped, not failed.
  struct Quota {
    bool ok = true;
    std::string_view kind;  // "requests" or "tokens" when there is no room
    std::chrono::milliseconds wait{0};
  };
  bool has_quota() const { return quota_requests_ || quota_tokens_; }
  Quota take_quota(double tokens, TimePoint now);
  /// After the attempt: `actual` tokens (the provider's usage; 0 when it failed) replace the
  /// `estimated` ones.
  void settle_quota(double estimated, double actual, TimePoint now);

  /// Requests in flight (the bulkhead and least_busy read it).
  std::atomic<std::int64_t> inflight{0};
  std::atomic<unsigned> max_inflight{0};  // 0 = unlimited; a reload may change it

private:
  Verdict evaluate(TimePoint now, bool admit);
  Verdict evaluate_locked(TimePoint now, bool admit);
  // The holds that do not depend on admitting (all but a half-open breaker's probe and the
  // bulkhead), in verdict order; `all` false stops at the first.
  void holds_locked(TimePoint now, bool all, std::vector<Hold>& out);
  Hold circuit_hold(TimePoint now);
  static Hold bulkhead_hold(unsigned limit);
  void record_failure(TimePoint now, const api::Failure& failure);
  // A periodic check's result (active or semantic): its threshold, its last failure's detail.
  void record_check(std::optional<resilience::HealthThreshold>& check, std::string& last_detail,
                    std::string_view label, bool passed, const std::string& detail);
  // Compares the state with what was last reported and queues an event per change. Called
  // under mutex_; the events go out after it is released (emit).
  void observe(TimePoint now);
  void emit();
  bool clear_locked(TimePoint now);

  std::string provider_;
  // Nothing stands against the target (see observe): try_admit and peek need no lock.
  std::atomic<bool> clear_{false};
  std::mutex mutex_;
  std::optional<resilience::HealthThreshold> active_;
  std::string active_detail_;
  std::optional<resilience::HealthThreshold> semantic_;
  std::string semantic_detail_;
  std::optional<LiveSignals> signals_;
  std::optional<resilience::OutlierDetector> passive_;
  std::optional<resilience::CircuitBreaker> breaker_;
  resilience::SlidingCounter recent_{std::chrono::seconds(60), 12};
  resilience::EwmaLatency ttft_;
  TimePoint cooldown_until_{};
  std::string cooldown_reason_;
  bool operator_ejected_ = false;
  bool key_rejected_ = false;
  TimePoint key_rejected_until_{};
  std::string last_error_;
  TimePoint last_error_at_{};
  bool has_last_error_ = false;
  std::mutex quota_mutex_;
  std::optional<limits::TokenBucket> quota_requests_;
  std::optional<limits::TokenBucket> quota_tokens_;
  mutable std::mutex latency_mutex_;
  std::vector<double> latencies_;  // ring of the last kLatencySamples header latencies
  std::size_t latency_next_ = 0;
  // Health events: the state last reported, and the events waiting to be emitted.
  std::shared_ptr<const HealthEventSink> events_;
  std::vector<HealthEvent> queued_;
  std::atomic<bool> has_queued_{false};
  bool seen_ejected_ = false;
  resilience::CircuitState seen_circuit_ = resilience::CircuitState::closed;
  bool seen_cooling_ = false;
  bool seen_active_ok_ = true;
  bool seen_semantic_ok_ = true;
  bool seen_signals_ok_ = true;
  bool seen_key_rejected_ = false;
  bool seen_operator_ejected_ = false;
};

/// The health of every provider endpoint, kept across config reloads for endpoints whose
/// identity (URL, TLS settings) and health settings did not change. Thread safe.
class HealthRegistry {
public:
  /// Where targets created from now on report their health events.
  void set_event_sink(HealthEventSink sink);
  /// The state for this provider: the existing one when its identity is unchanged.
  std::shared_ptr<TargetHealth> attach(const config::ProviderConfig& provider);
  /// Drops state of providers no longer configured (call after a successful reload).
  void retain(const std::vector<std::string>& identities);
  std::vector<std::shared_ptr<TargetHealth>> all() const;
  std::shared_ptr<TargetHealth> find(std::string_view provider) const;

  static std::string identity(const config::ProviderConfig& provider);

private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<TargetHealth>> by_identity_;
  std::shared_ptr<const HealthEventSink> events_;
};

}  // namespace llmgw::health
