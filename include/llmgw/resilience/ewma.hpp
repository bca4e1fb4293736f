#pragma once
// Exponentially weighted moving average of a latency (e.g. time to first token), for
// least_latency routing. Without new samples the value decays toward zero with `half_life`,
// so a target that was slow (or recovered from an outage) gets tried again instead of being
// starved forever. Thread safe (lock-free or a tiny mutex; called once per attempt).
#include <mutex>

#include "llmgw/resilience/sliding_window.hpp"

namespace llmgw::resilience {

class EwmaLatency {
public:
  explicit EwmaLatency(double alpha = 0.3, Duration half_life = std::chrono::seconds(30));
  void observe(double millis, TimePoint now);
  /// Current estimate in ms; 0 when there is no sample yet.
  double value(TimePoint now) const;
  bool has_samples() const;

private:
  double decayed(TimePoint now) const;  // caller holds mu_

  mutable std::mutex mu_;
  double alpha_;
  Duration half_life_;
  double value_ = 0;  // the estimate as of last_, guarded by mu_
  TimePoint last_{};  // guarded by mu_
  bool has_ = false;  // guarded by mu_
};

}  // namespace llmgw::resilience
