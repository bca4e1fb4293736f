#include "llmgw/resilience/retry_budget.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "llmgw/common/clock.hpp"

namespace llmgw::resilience {
namespace {

using namespace std::chrono_literals;

int acquire_all(RetryBudget& b, TimePoint now) {
  int n = 0;
  while (n < 10000 && b.try_acquire(now)) {
    ++n;
  }
  return n;
}

TEST(RetryBudget, FloorAllowsRetriesWithoutTraffic) {
  common::ManualClock clock;
  RetryBudget b(0.2, 10s, 3);
  EXPECT_TRUE(b.try_acquire(clock.now()));
  EXPECT_TRUE(b.try_acquire(clock.now()));
  EXPECT_TRUE(b.try_acquire(clock.now()));
  EXPECT_FALSE(b.try_acquire(clock.now()));
}

TEST(RetryBudget, FloorWinsOverASmallRatio) {
  common::ManualClock clock;
  RetryBudget b(0.2, 10s, 3);
  for (int i = 0; i < 10; ++i) {
    b.on_request(clock.now());  // 20% of 10 = 2 < 3
  }
  EXPECT_EQ(acquire_all(b, clock.now()), 3);
}

TEST(RetryBudget, RatioOfRequestsInTheWindow) {
  common::ManualClock clock;
  RetryBudget b(0.2, 10s, 3);
  for (int i = 0; i < 100; ++i) {
    b.on_request(clock.now());
  }
  EXPECT_EQ(acquire_all(b, clock.now()), 20);
  b.on_request(clock.now());  // 101 * 0.2 = 20.2: still 20
  EXPECT_FALSE(b.try_acquire(clock.now()));
  for (int i = 0; i < 4; ++i) {
    b.on_request(clock.now());  // 105 * 0.2 = 21
  }
  EXPECT_TRUE(b.try_acquire(clock.now()));
  EXPECT_FALSE(b.try_acquire(clock.now()));
}

TEST(RetryBudget, RatioIsFlooredExactly) {
  common::ManualClock clock;
  RetryBudget b(0.29, 10s, 0);
  for (int i = 0; i < 100; ++i) {
    b.on_request(clock.now());
  }
  EXPECT_EQ(acquire_all(b, clock.now()), 29);  // 0.29 * 100 is 28.999... in binary
}

TEST(RetryBudget, RetriesAndRequestsLeaveTheWindow) {
  common::ManualClock clock;
  RetryBudget b(0.5, 10s, 1);
  for (int i = 0; i < 10; ++i) {
    b.on_request(clock.now());
  }
  EXPECT_EQ(acquire_all(b, clock.now()), 5);
  clock.advance(5s);
  EXPECT_FALSE(b.try_acquire(clock.now()));
  clock.advance(5s);
  // Both the retries and the requests they were measured against are gone: the floor remains.
  EXPECT_EQ(acquire_all(b, clock.now()), 1);
}

TEST(RetryBudget, SlidingNotResetting) {
  common::ManualClock clock;
  RetryBudget b(1.0, 10s, 0);
  for (int i = 0; i < 4; ++i) {
    b.on_request(clock.now());
  }
  clock.advance(6s);
  for (int i = 0; i < 4; ++i) {
    b.on_request(clock.now());
  }
  EXPECT_EQ(acquire_all(b, clock.now()), 8);
  clock.advance(4s);  // the first 4 requests leave; the 8 retries are 4s old and stay
  EXPECT_FALSE(b.try_acquire(clock.now()));
  for (int i = 0; i < 5; ++i) {
    b.on_request(clock.now());
  }
  EXPECT_EQ(acquire_all(b, clock.now()), 1);  // 9 requests, 8 retries
}

TEST(RetryBudget, ZeroBudgetNeverRetries) {
  common::ManualClock clock;
  RetryBudget b(0.0, 10s, 0);
  for (int i = 0; i < 100; ++i) {
    b.on_request(clock.now());
  }
  EXPECT_FALSE(b.try_acquire(clock.now()));
}

TEST(RetryBudget, LargeJumpAndTimeBackwards) {
  common::ManualClock clock;
  RetryBudget b(0.2, 10s, 3);
  EXPECT_EQ(acquire_all(b, clock.now()), 3);
  EXPECT_FALSE(b.try_acquire(clock.now() - 1h));
  clock.advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(acquire_all(b, clock.now()), 3);
}

TEST(RetryBudget, ConcurrentAcquiresNeverOverspend) {
  common::ManualClock clock;
  RetryBudget b(0.1, 10s, 3);
  for (int i = 0; i < 1000; ++i) {
    b.on_request(clock.now());
  }
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        b.on_request(clock.now());
        if (b.try_acquire(clock.now())) {
          ++granted;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(granted.load(), 140);  // 10% of the 1400 requests
}

}  // namespace
}  // namespace llmgw::resilience
