#pragma once
// Success / failure counts over the last `window`, kept in fixed time buckets so that memory
// and cost per event are constant. Not thread safe: the owner serialises access.
#include <chrono>
#include <cstdint>
#include <limits>
#include <vector>

namespace llmgw::resilience {

using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::milliseconds;

class SlidingCounter {
public:
  struct Totals {
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;
    std::uint64_t total() const { return successes + failures; }
    double failure_rate() const;  // 0 when total() == 0
  };

  explicit SlidingCounter(Duration window, unsigned buckets = 10);

  void record(TimePoint now, bool success);
  /// Counts of events in (now - window, now].
  Totals totals(TimePoint now) const;
  void reset();

private:
  // A bucket holds the events of one `width_`-long slice of time, identified by its epoch
  // (time since the clock's epoch / width_). A slot whose epoch is out of range is stale and is
  // neither counted nor reused without clearing, so idle periods need no sweeping.
  struct Bucket {
    std::int64_t epoch = kEmpty;
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;
  };
  static constexpr std::int64_t kEmpty = std::numeric_limits<std::int64_t>::min();

  std::int64_t epoch_of(TimePoint t) const;
  Bucket& slot(std::int64_t epoch);

  std::vector<Bucket> buckets_;
  Duration width_;
  // Latest time seen: an earlier `now` (callers racing to report) is treated as this one so
  // that time going backwards neither loses events nor resurrects stale buckets.
  TimePoint latest_ = TimePoint::min();
};

}  // namespace llmgw::resilience
