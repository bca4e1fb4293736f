#include "llmgw/resilience/sliding_window.hpp"

#include <gtest/gtest.h>

#include "llmgw/common/clock.hpp"

namespace llmgw::resilience {
namespace {

using namespace std::chrono_literals;

TEST(SlidingCounter, CountsSuccessesAndFailures) {
  common::ManualClock clock;
  SlidingCounter c(10s);
  c.record(clock.now(), true);
  c.record(clock.now(), false);
  c.record(clock.now(), false);
  const auto t = c.totals(clock.now());
  EXPECT_EQ(t.successes, 1u);
  EXPECT_EQ(t.failures, 2u);
  EXPECT_EQ(t.total(), 3u);
  EXPECT_DOUBLE_EQ(t.failure_rate(), 2.0 / 3.0);
}

TEST(SlidingCounter, EmptyFailureRateIsZero) {
  common::ManualClock clock;
  SlidingCounter c(10s);
  EXPECT_EQ(c.totals(clock.now()).total(), 0u);
  EXPECT_DOUBLE_EQ(c.totals(clock.now()).failure_rate(), 0.0);
}

TEST(SlidingCounter, EventsLeaveTheWindow) {
  common::ManualClock clock;
  SlidingCounter c(10s, 10);
  c.record(clock.now(), false);
  clock.advance(5s);
  c.record(clock.now(), true);
  clock.advance(4999ms);
  EXPECT_EQ(c.totals(clock.now()).total(), 2u);
  clock.advance(1ms);  // the first event is now exactly `window` old: out
  EXPECT_EQ(c.totals(clock.now()).failures, 0u);
  EXPECT_EQ(c.totals(clock.now()).successes, 1u);
  clock.advance(5s);
  EXPECT_EQ(c.totals(clock.now()).total(), 0u);
}

TEST(SlidingCounter, StaleBucketsAreNotCountedAfterLongIdle) {
  common::ManualClock clock;
  SlidingCounter c(10s, 10);
  for (int i = 0; i < 5; ++i) {
    c.record(clock.now(), false);
  }
  clock.advance(std::chrono::hours(1));
  EXPECT_EQ(c.totals(clock.now()).total(), 0u);  // no record() in between
  c.record(clock.now(), true);
  EXPECT_EQ(c.totals(clock.now()).total(), 1u);
}

TEST(SlidingCounter, ReusedSlotIsClearedFirst) {
  common::ManualClock clock;
  SlidingCounter c(10s, 10);
  c.record(clock.now(), false);
  clock.advance(10s);  // same slot of the ring, one full turn later
  c.record(clock.now(), true);
  const auto t = c.totals(clock.now());
  EXPECT_EQ(t.failures, 0u);
  EXPECT_EQ(t.successes, 1u);
}

TEST(SlidingCounter, TimeStandingStill) {
  common::ManualClock clock;
  SlidingCounter c(10s);
  for (int i = 0; i < 1000; ++i) {
    c.record(clock.now(), i % 2 == 0);
  }
  EXPECT_EQ(c.totals(clock.now()).total(), 1000u);
  EXPECT_DOUBLE_EQ(c.totals(clock.now()).failure_rate(), 0.5);
}

TEST(SlidingCounter, TimeGoingBackwardsKeepsEvents) {
  common::ManualClock clock;
  SlidingCounter c(10s);
  const auto later = clock.now() + 20s;
  c.record(later, false);
  c.record(clock.now(), true);  // older than the latest seen: counted as of `later`
  EXPECT_EQ(c.totals(later).total(), 2u);
  EXPECT_EQ(c.totals(clock.now()).total(), 2u);
  EXPECT_EQ(c.totals(TimePoint{}).total(), 2u);
  EXPECT_EQ(c.totals(later + 10s).total(), 0u);
}

TEST(SlidingCounter, LargeJumpAndEpochEdges) {
  common::ManualClock clock;
  SlidingCounter c(10s);
  c.record(TimePoint{}, false);
  EXPECT_EQ(c.totals(TimePoint{}).total(), 1u);
  clock.advance(std::chrono::hours(24 * 365 * 100));
  EXPECT_EQ(c.totals(clock.now()).total(), 0u);
  c.record(clock.now(), true);
  EXPECT_EQ(c.totals(clock.now()).total(), 1u);
}

TEST(SlidingCounter, ResetClears) {
  common::ManualClock clock;
  SlidingCounter c(10s);
  c.record(clock.now(), false);
  c.reset();
  EXPECT_EQ(c.totals(clock.now()).total(), 0u);
  c.record(clock.now(), false);
  EXPECT_EQ(c.totals(clock.now()).total(), 1u);
}

TEST(SlidingCounter, DegenerateShapesDoNotCrash) {
  common::ManualClock clock;
  SlidingCounter tiny(Duration(3), 10);  // narrower than one millisecond per bucket
  tiny.record(clock.now(), false);
  EXPECT_EQ(tiny.totals(clock.now()).total(), 1u);
  SlidingCounter none(Duration(0), 0);
  none.record(clock.now(), true);
  EXPECT_EQ(none.totals(clock.now()).total(), 1u);
  clock.advance(1s);
  EXPECT_EQ(none.totals(clock.now()).total(), 0u);
}

}  // namespace
}  // namespace llmgw::resilience
