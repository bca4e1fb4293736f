#include "llmgw/resilience/ewma.hpp"

#include <algorithm>
#include <cmath>

namespace llmgw::resilience {

EwmaLatency::EwmaLatency(double alpha, Duration half_life)
    : alpha_(std::clamp(alpha, 0.0, 1.0)), half_life_(half_life) {}

// Time going backwards counts as no time passing; a half-life <= 0 disables the decay.
double EwmaLatency::decayed(TimePoint now) const {
  if (!has_ || now <= last_ || half_life_.count() <= 0) {
    return value_;
  }
  const double elapsed = std::chrono::duration<double, std::milli>(now - last_).count();
  return value_ * std::exp2(-elapsed / static_cast<double>(half_life_.count()));
}

// The new sample is blended with the estimate as it stands now (decayed), so a target that sat
// idle is judged mostly on what it does today, not on the outage it had long ago.
void EwmaLatency::observe(double millis, TimePoint now) {
  std::lock_guard lock(mu_);
  if (!has_) {
    value_ = millis;
    has_ = true;
    last_ = now;
    return;
  }
  value_ = alpha_ * millis + (1.0 - alpha_) * decayed(now);
  last_ = std::max(last_, now);
}

double EwmaLatency::value(TimePoint now) const {
  std::lock_guard lock(mu_);
  return has_ ? decayed(now) : 0.0;
}

bool EwmaLatency::has_samples() const {
  std::lock_guard lock(mu_);
  return has_;
}

}  // namespace llmgw::resilience
