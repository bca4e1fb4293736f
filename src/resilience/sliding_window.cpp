#include "llmgw/resilience/sliding_window.hpp"

#include <algorithm>

namespace llmgw::resilience {

double SlidingCounter::Totals::failure_rate() const {
  if (total() == 0) {
    return 0.0;
  }
  return static_cast<double>(failures) / static_cast<double>(total());
}

// A window shorter than one millisecond per bucket still gets 1 ms buckets, so the epoch
// arithmetic never divides by zero.
SlidingCounter::SlidingCounter(Duration window, unsigned buckets)
    : buckets_(std::max(buckets, 1u)),
      width_(std::max(Duration(1), window / static_cast<Duration::rep>(std::max(buckets, 1u)))) {}

std::int64_t SlidingCounter::epoch_of(TimePoint t) const {
  const std::int64_t ms = std::chrono::floor<Duration>(t.time_since_epoch()).count();
  const std::int64_t w = width_.count();
  // Floor division: a time point before the clock's epoch must not share bucket 0.
  std::int64_t q = ms / w;
  if (ms % w != 0 && ms < 0) {
    --q;
  }
  return q;
}

SlidingCounter::Bucket& SlidingCounter::slot(std::int64_t epoch) {
  const auto n = static_cast<std::int64_t>(buckets_.size());
  return buckets_[static_cast<std::size_t>(((epoch % n) + n) % n)];
}

void SlidingCounter::record(TimePoint now, bool success) {
  latest_ = std::max(latest_, now);
  const std::int64_t e = epoch_of(latest_);
  Bucket& b = slot(e);
  if (b.epoch != e) {
    // The slot still holds a slice that has left the window: reuse it.
    b = Bucket{e, 0, 0};
  }
  if (success) {
    ++b.successes;
  } else {
    ++b.failures;
  }
}

// Counts the buckets of the last buckets_.size() slices ending with the current one. Events in
// the oldest, partly elapsed slice drop out up to one bucket width early; that is the price of
// constant memory and is never an event older than the window being counted.
SlidingCounter::Totals SlidingCounter::totals(TimePoint now) const {
  const std::int64_t e = epoch_of(std::max(latest_, now));
  const auto n = static_cast<std::int64_t>(buckets_.size());
  Totals t;
  for (const Bucket& b : buckets_) {
    if (b.epoch != kEmpty && b.epoch <= e && b.epoch > e - n) {
      t.successes += b.successes;
      t.failures += b.failures;
    }
  }
  return t;
}

void SlidingCounter::reset() {
  std::fill(buckets_.begin(), buckets_.end(), Bucket{});
}

}  // namespace llmgw::resilience
