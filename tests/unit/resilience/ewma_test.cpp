#include "llmgw/resilience/ewma.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "llmgw/common/clock.hpp"

namespace llmgw::resilience {
namespace {

using namespace std::chrono_literals;

TEST(EwmaLatency, NoSamplesMeansZero) {
  common::ManualClock clock;
  EwmaLatency e;
  EXPECT_FALSE(e.has_samples());
  EXPECT_DOUBLE_EQ(e.value(clock.now()), 0.0);
}

TEST(EwmaLatency, FirstSampleSetsTheValue) {
  common::ManualClock clock;
  EwmaLatency e(0.3);
  e.observe(250, clock.now());
  EXPECT_TRUE(e.has_samples());
  EXPECT_DOUBLE_EQ(e.value(clock.now()), 250.0);
}

TEST(EwmaLatency, Smoothing) {
  common::ManualClock clock;
  EwmaLatency e(0.3);
  e.observe(100, clock.now());
  e.observe(200, clock.now());
  EXPECT_DOUBLE_EQ(e.value(clock.now()), 0.3 * 200 + 0.7 * 100);
  e.observe(200, clock.now());
  EXPECT_DOUBLE_EQ(e.value(clock.now()), 0.3 * 200 + 0.7 * 130);
}

TEST(EwmaLatency, DecaysWithHalfLifeWithoutMutating) {
  common::ManualClock clock;
  EwmaLatency e(0.3, 30s);
  const auto t0 = clock.now();
  e.observe(100, t0);
  EXPECT_DOUBLE_EQ(e.value(t0 + 30s), 50.0);
  EXPECT_DOUBLE_EQ(e.value(t0 + 60s), 25.0);
  EXPECT_NEAR(e.value(t0 + 15s), 100.0 / std::sqrt(2.0), 1e-9);
  EXPECT_DOUBLE_EQ(e.value(t0), 100.0);  // reading did not change the stored estimate
}

TEST(EwmaLatency, SampleAfterIdleBlendsWithTheDecayedEstimate) {
  common::ManualClock clock;
  EwmaLatency e(0.3, 30s);
  e.observe(100, clock.now());
  clock.advance(30s);
  e.observe(200, clock.now());
  EXPECT_DOUBLE_EQ(e.value(clock.now()), 0.3 * 200 + 0.7 * 50);
  clock.advance(30s);
  EXPECT_DOUBLE_EQ(e.value(clock.now()), (0.3 * 200 + 0.7 * 50) / 2);
}

TEST(EwmaLatency, TimeGoingBackwardsDoesNotGrowTheValue) {
  common::ManualClock clock;
  EwmaLatency e(0.5, 30s);
  e.observe(100, clock.now());
  EXPECT_DOUBLE_EQ(e.value(clock.now() - 1h), 100.0);
  e.observe(300, clock.now() - 1h);
  EXPECT_DOUBLE_EQ(e.value(clock.now()), 200.0);
  clock.advance(30s);  // decay is measured from the latest sample time
  EXPECT_DOUBLE_EQ(e.value(clock.now()), 100.0);
}

TEST(EwmaLatency, LargeJumpDecaysToZeroFinitely) {
  common::ManualClock clock;
  EwmaLatency e;
  e.observe(1e6, clock.now());
  clock.advance(std::chrono::hours(24 * 365 * 100));
  const double v = e.value(clock.now());
  EXPECT_TRUE(std::isfinite(v));
  EXPECT_GE(v, 0.0);
  EXPECT_LT(v, 1e-6);
  EXPECT_TRUE(e.has_samples());
}

TEST(EwmaLatency, ZeroHalfLifeDoesNotDecay) {
  common::ManualClock clock;
  EwmaLatency e(0.3, Duration(0));
  e.observe(100, clock.now());
  clock.advance(1h);
  EXPECT_DOUBLE_EQ(e.value(clock.now()), 100.0);
}

TEST(EwmaLatency, ConcurrentUseStaysInRange) {
  common::ManualClock clock;
  EwmaLatency e;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        e.observe(100 + t, clock.now());
        const double v = e.value(clock.now());
        EXPECT_GE(v, 100.0);
        EXPECT_LE(v, 103.0);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
}

}  // namespace
}  // namespace llmgw::resilience
