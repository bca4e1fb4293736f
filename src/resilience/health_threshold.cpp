#include "llmgw/resilience/health_threshold.hpp"

#include <algorithm>
#include <limits>

namespace llmgw::resilience {

// A threshold of 0 means the same as 1 (one result decides); validation requires >= 1.
HealthThreshold::HealthThreshold(unsigned healthy_after, unsigned unhealthy_after,
                                 bool start_healthy)
    : healthy_after_(std::max(healthy_after, 1u)),
      unhealthy_after_(std::max(unhealthy_after, 1u)),
      healthy_(start_healthy) {}

bool HealthThreshold::record(bool passed) {
  constexpr unsigned kMax = std::numeric_limits<unsigned>::max();
  if (passed) {
    failures_ = 0;
    passes_ = std::min(passes_, kMax - 1) + 1;
    if (!healthy_ && passes_ >= healthy_after_) {
      healthy_ = true;
      return true;
    }
    return false;
  }
  passes_ = 0;
  failures_ = std::min(failures_, kMax - 1) + 1;
  if (healthy_ && failures_ >= unhealthy_after_) {
    healthy_ = false;
    return true;
  }
  return false;
}

bool HealthThreshold::healthy() const {
  return healthy_;
}

unsigned HealthThreshold::consecutive_failures() const {
  return failures_;
}

}  // namespace llmgw::resilience
