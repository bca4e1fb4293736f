#pragma once
// Per-target circuit breaker: closed -> open when the failure rate over `window` reaches
// `open_after_failure_rate` with at least `min_requests` calls; open -> half-open after
// `open_for`; half-open admits `half_open_probes` requests: all succeed -> closed, any fails ->
// open again. It decides; it does not log. Not thread safe: the owner serialises access.
#include <string>

#include "llmgw/config/config.hpp"
#include "llmgw/resilience/sliding_window.hpp"

namespace llmgw::resilience {

enum class CircuitState { closed = 0, half_open = 1, open = 2 };  // values = the metric's
const char* to_string(CircuitState s);

class CircuitBreaker {
public:
  explicit CircuitBreaker(const config::CircuitBreakerConfig& cfg);

  /// May a request go to the target now? In half-open, at most half_open_probes requests are
  /// admitted until their outcomes are reported. Every admitted request must be reported with
  /// on_success or on_failure (or on_abandoned when it ended without a verdict, e.g. the client
  /// went away), so half-open probes are not leaked.
  bool try_acquire(TimePoint now);
  void on_success(TimePoint now);
  void on_failure(TimePoint now);
  void on_abandoned(TimePoint now);

  /// open becomes half_open here once open_for has passed.
  CircuitState state(TimePoint now);
  /// e.g. "circuit open (6 of 10 recent calls failed)"; empty when closed.
  std::string describe(TimePoint now);
  /// Operator override (admin API): force open for open_for, or close and clear.
  void force_open(TimePoint now);
  void reset();
  /// When an open circuit turns half-open (meaningful while open): the status page's countdown.
  TimePoint open_until() const { return open_until_; }

  /// Counts in the failure-rate window (for /admin/upstreams and tests).
  SlidingCounter::Totals window_totals(TimePoint now) const;
  /// Half-open probes admitted whose outcome has not been reported yet.
  unsigned probes_in_flight() const;

private:
  enum class OpenReason { tripped, probe_failed, forced };

  void advance(TimePoint now);  // open -> half_open once open_for has passed
  void open(TimePoint now, OpenReason why);
  unsigned probe_limit() const;

  config::CircuitBreakerConfig cfg_;
  SlidingCounter window_;
  CircuitState state_ = CircuitState::closed;
  TimePoint open_until_{};
  OpenReason open_reason_ = OpenReason::tripped;
  SlidingCounter::Totals tripped_with_{};  // the window when it tripped, for describe()
  unsigned probes_in_flight_ = 0;
  unsigned probe_successes_ = 0;
};

}  // namespace llmgw::resilience
