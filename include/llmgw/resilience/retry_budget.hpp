#pragma once
// Retries may be at most `ratio` x requests over a sliding window, plus a small floor so that
// low traffic can still retry (Envoy: 20% and at least 3). Keeps an outage from multiplying
// load. Thread safe (one budget per model is shared by every worker).
#include <mutex>

#include "llmgw/resilience/sliding_window.hpp"

namespace llmgw::resilience {

class RetryBudget {
public:
  RetryBudget(double ratio, Duration window = std::chrono::seconds(10), unsigned min_retries = 3);

  void on_request(TimePoint now);
  /// Takes one retry from the budget if there is room; false = do not retry.
  bool try_acquire(TimePoint now);

private:
  std::mutex mu_;
  double ratio_;
  unsigned min_retries_;
  SlidingCounter requests_;  // guarded by mu_
  SlidingCounter retries_;   // guarded by mu_
};

}  // namespace llmgw::resilience
