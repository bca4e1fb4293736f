#pragma once
// Waiting, injected like the clock (common/clock.hpp): the daemon waits on the steady clock,
// tests on a manual one (tests/fakes/manual_time.hpp), so a 30 s backoff costs a unit test
// nothing and every decision that depends on time runs in simulated time.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace llmgw::common {

class Sleeper {
public:
  virtual ~Sleeper() = default;
  /// True when the time passed; false when the wait was cancelled (per-operation
  /// cancellation, e.g. the losing side of a race).
  virtual boost::asio::awaitable<bool> sleep_for(std::chrono::nanoseconds duration) = 0;
};

class SteadySleeper final : public Sleeper {
public:
  boost::asio::awaitable<bool> sleep_for(std::chrono::nanoseconds duration) override {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, duration);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return !ec;
  }
  static SteadySleeper& instance() {
    static SteadySleeper sleeper;
    return sleeper;
  }
};

}  // namespace llmgw::common
