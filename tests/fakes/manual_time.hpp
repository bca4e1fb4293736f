#pragma once
// Simulated time for code that takes a common::Clock and a common::Sleeper: the clock moves
// only when the test (or run_simulated) moves it, and a sleeper wakes when the clock passes
// its due time. A 30 s backoff costs a test nothing, and every ordering is deterministic.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "llmgw/common/clock.hpp"
#include "llmgw/common/timer.hpp"

namespace llmgw::fakes {

class ManualTime final : public common::Clock, public common::Sleeper {
public:
  time_point now() const override { return now_; }

  boost::asio::awaitable<bool> sleep_for(std::chrono::nanoseconds duration) override {
    if (duration <= std::chrono::nanoseconds::zero()) {
      co_return true;
    }
    // A real timer that never expires by itself: advance() cancels it when the simulated time
    // is due, and per-operation cancellation (a lost race) cancels it too; `fired` tells which.
    auto waiter = std::make_shared<Waiter>(co_await boost::asio::this_coro::executor,
                                           now_ + duration);
    waiters_.push_back(waiter);
    co_await waiter->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    std::erase(waiters_, waiter);
    co_return waiter->fired;
  }

  /// Moves the clock by `d`, waking every sleeper due by then.
  void advance(std::chrono::nanoseconds d) {
    now_ += d;
    wake_due();
  }

  /// Moves the clock to the earliest pending wake-up and wakes it (and any due at the same
  /// time). False when nobody sleeps.
  bool advance_to_next() {
    std::optional<time_point> next;
    for (const auto& w : waiters_) {
      if (!w->fired && (!next || w->due < *next)) {
        next = w->due;
      }
    }
    if (!next) {
      return false;
    }
    now_ = std::max(now_, *next);
    wake_due();
    return true;
  }

  std::size_t sleepers() const { return waiters_.size(); }

private:
  struct Waiter {
    Waiter(boost::asio::any_io_executor ex, time_point d)
        : timer(ex, boost::asio::steady_timer::time_point::max()), due(d) {}
    boost::asio::steady_timer timer;
    time_point due;
    bool fired = false;
  };

  void wake_due() {
    for (const auto& w : waiters_) {
      if (!w->fired && w->due <= now_) {
        w->fired = true;
        w->timer.cancel();
      }
    }
  }

  time_point now_{std::chrono::hours(1)};
  std::vector<std::shared_ptr<Waiter>> waiters_;
};

/// Runs `op` on `ctx` to completion in simulated time: runs everything that is ready, and when
/// nothing is, jumps the clock to the next sleeper. Throws when the operation can make no
/// progress at all (a hang no timer will end) or after `limit` of simulated time.
/// With `cancel_after`, the operation is cancelled (as the server cancels a request whose
/// client hung up) once that much simulated time has passed.
template <class T>
T run_simulated(boost::asio::io_context& ctx, ManualTime& time, boost::asio::awaitable<T> op,
                std::optional<std::chrono::nanoseconds> cancel_after = std::nullopt,
                std::chrono::nanoseconds limit = std::chrono::hours(1)) {
  std::optional<T> result;
  std::exception_ptr error;
  // Shared with the canceller, which may still sleep after the operation finished (a later
  // run on the same clock could wake it): it emits only while the operation runs.
  struct Cancel {
    boost::asio::cancellation_signal signal;
    bool finished = false;
  };
  auto cancel = std::make_shared<Cancel>();
  boost::asio::co_spawn(ctx, std::move(op),
                        boost::asio::bind_cancellation_slot(
                            cancel->signal.slot(), [&, cancel](std::exception_ptr e, T value) {
                              cancel->finished = true;
                              if (e) {
                                error = e;
                              } else {
                                result.emplace(std::move(value));
                              }
                            }));
  if (cancel_after) {
    auto canceller = [](ManualTime& t, std::shared_ptr<Cancel> c,
                        std::chrono::nanoseconds after) -> boost::asio::awaitable<void> {
      co_await t.sleep_for(after);
      if (!c->finished) {
        c->signal.emit(boost::asio::cancellation_type::terminal);
      }
    };
    boost::asio::co_spawn(ctx, canceller(time, cancel, *cancel_after), boost::asio::detached);
  }
  auto start = time.now();
  for (;;) {
    ctx.restart();
    ctx.poll();
    if (result || error) {
      break;
    }
    if (time.now() - start > limit) {
      throw std::runtime_error("simulated time limit reached");
    }
    if (!time.advance_to_next()) {
      throw std::runtime_error("stuck: nothing ready and nobody sleeping");
    }
  }
  if (error) {
    std::rethrow_exception(error);
  }
  return std::move(*result);
}

}  // namespace llmgw::fakes
