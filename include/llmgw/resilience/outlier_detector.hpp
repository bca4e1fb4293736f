#pragma once
// Passive outlier detection on live traffic: a target is ejected after
// `consecutive_failures` failures in a row, or when its failure rate over `window` reaches
// `failure_rate` with at least `min_requests` calls. The n-th ejection in a row lasts
// eject_for * 2^(n-1), capped at max_eject_for; a success after an ejection has expired
// brings the multiplier back down by one step. Not thread safe: the owner serialises access.
#include <string>

#include "llmgw/config/config.hpp"
#include "llmgw/resilience/sliding_window.hpp"

namespace llmgw::resilience {

class OutlierDetector {
public:
  explicit OutlierDetector(const config::PassiveHealthConfig& cfg);

  void on_success(TimePoint now);
  /// Returns true when this failure ejected the target.
  bool on_failure(TimePoint now);
  bool ejected(TimePoint now) const;
  TimePoint ejected_until() const;
  unsigned ejections() const;  // total ejections so far
  /// e.g. "ejected for 60s after 5 consecutive failures"; empty when not ejected.
  std::string describe(TimePoint now) const;
  /// Operator override: eject now (for eject_for * multiplier) / lift the ejection.
  void eject(TimePoint now);
  void restore();

private:
  enum class Reason { consecutive, rate, manual };

  void settle(TimePoint now);  // processes the end of an expired ejection
  Duration ejection_length(unsigned level) const;
  void start_ejection(TimePoint now, Reason why);

  config::PassiveHealthConfig cfg_;
  SlidingCounter window_;
  unsigned consecutive_ = 0;
  // Ejections in a row without a healthy period; the next one lasts eject_for * 2^level_.
  unsigned level_ = 0;
  unsigned ejections_ = 0;
  // An ejection started and its end has not been processed yet (its evidence not cleared).
  bool ejection_open_ = false;
  TimePoint ejected_until_{};
  Duration ejected_for_{0};
  Reason reason_ = Reason::manual;
  unsigned reason_consecutive_ = 0;
  SlidingCounter::Totals reason_totals_{};
};

}  // namespace llmgw::resilience
