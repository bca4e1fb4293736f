#pragma once
// Time and randomness are injected wherever a decision depends on them (breakers, backoff,
// health), so unit tests run in simulated time.
#include <chrono>
#include <cstdint>

namespace llmgw::common {

class Clock {
public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

class SteadyClock final : public Clock {
public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  static SteadyClock& instance() {
    static SteadyClock clock;
    return clock;
  }
};

/// A clock the test moves by hand.
class ManualClock final : public Clock {
public:
  time_point now() const override { return now_; }
  void advance(std::chrono::nanoseconds d) { now_ += d; }

private:
  time_point now_{std::chrono::hours(1)};
};

}  // namespace llmgw::common
