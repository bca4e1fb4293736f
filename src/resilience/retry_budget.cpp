#include "llmgw/resilience/retry_budget.hpp"

#include <algorithm>
#include <cmath>

namespace llmgw::resilience {

RetryBudget::RetryBudget(double ratio, Duration window, unsigned min_retries)
    : ratio_(std::max(ratio, 0.0)),
      min_retries_(min_retries),
      requests_(window),
      retries_(window) {}

void RetryBudget::on_request(TimePoint now) {
  std::lock_guard lock(mu_);
  requests_.record(now, true);
}

bool RetryBudget::try_acquire(TimePoint now) {
  std::lock_guard lock(mu_);
  const auto requests = static_cast<double>(requests_.totals(now).total());
  // The epsilon keeps 0.29 * 100 (= 28.999999999999996 in binary) from flooring to 28.
  const auto by_ratio = static_cast<std::uint64_t>(std::floor(ratio_ * requests + 1e-9));
  const std::uint64_t allowed = std::max<std::uint64_t>(min_retries_, by_ratio);
  if (retries_.totals(now).total() >= allowed) {
    return false;
  }
  retries_.record(now, true);
  return true;
}

}  // namespace llmgw::resilience
