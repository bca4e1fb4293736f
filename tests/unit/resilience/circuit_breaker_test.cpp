#include "llmgw/resilience/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include "llmgw/common/clock.hpp"

namespace llmgw::resilience {
namespace {

using namespace std::chrono_literals;

config::CircuitBreakerConfig small_config() {
  config::CircuitBreakerConfig cfg;
  cfg.open_after_failure_rate = 0.5;
  cfg.min_requests = 4;
  cfg.window = 10s;
  cfg.open_for = 30s;
  cfg.half_open_probes = 2;
  return cfg;
}

// Trips the breaker with 2 successes and 2 failures (rate 0.5 over exactly min_requests).
void trip(CircuitBreaker& cb, TimePoint now) {
  cb.on_success(now);
  cb.on_success(now);
  cb.on_failure(now);
  cb.on_failure(now);
}

class CircuitBreakerTest : public ::testing::Test {
protected:
  common::ManualClock clock_;
  CircuitBreaker cb_{small_config()};
};

TEST_F(CircuitBreakerTest, StartsClosed) {
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::closed);
  EXPECT_TRUE(cb_.try_acquire(clock_.now()));
  EXPECT_EQ(cb_.describe(clock_.now()), "");
}

TEST_F(CircuitBreakerTest, MinRequestsGatesOpening) {
  for (int i = 0; i < 3; ++i) {
    cb_.on_failure(clock_.now());
  }
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::closed);  // 3 of 3 failed, but 3 < 4 calls
  cb_.on_failure(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::open);
  EXPECT_EQ(cb_.describe(clock_.now()), "circuit open (4 of 4 recent calls failed)");
}

TEST_F(CircuitBreakerTest, OpensAtTheFailureRate) {
  cb_.on_success(clock_.now());
  cb_.on_success(clock_.now());
  cb_.on_failure(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::closed);
  cb_.on_failure(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::open);
  EXPECT_FALSE(cb_.try_acquire(clock_.now()));
  EXPECT_EQ(cb_.describe(clock_.now()), "circuit open (2 of 4 recent calls failed)");
}

TEST_F(CircuitBreakerTest, StaysClosedBelowTheFailureRate) {
  for (int i = 0; i < 10; ++i) {
    cb_.on_success(clock_.now());
    cb_.on_success(clock_.now());
    cb_.on_failure(clock_.now());
  }
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::closed);
  EXPECT_EQ(cb_.window_totals(clock_.now()).total(), 30u);
}

TEST_F(CircuitBreakerTest, FailuresOutsideTheWindowDoNotCount) {
  for (int i = 0; i < 3; ++i) {
    cb_.on_failure(clock_.now());
  }
  clock_.advance(10s);
  cb_.on_failure(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::closed);
  EXPECT_EQ(cb_.window_totals(clock_.now()).failures, 1u);
}

TEST_F(CircuitBreakerTest, OpenRejectsUntilOpenForPasses) {
  trip(cb_, clock_.now());
  clock_.advance(29999ms);
  EXPECT_FALSE(cb_.try_acquire(clock_.now()));
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::open);
  clock_.advance(1ms);
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::half_open);
  EXPECT_TRUE(cb_.try_acquire(clock_.now()));
}

TEST_F(CircuitBreakerTest, HalfOpenAdmitsOnlyTheProbeLimit) {
  trip(cb_, clock_.now());
  clock_.advance(30s);
  EXPECT_TRUE(cb_.try_acquire(clock_.now()));
  EXPECT_EQ(cb_.describe(clock_.now()), "circuit half-open (1 of 2 probes in flight)");
  EXPECT_TRUE(cb_.try_acquire(clock_.now()));
  EXPECT_FALSE(cb_.try_acquire(clock_.now()));
  EXPECT_FALSE(cb_.try_acquire(clock_.now()));
  EXPECT_EQ(cb_.probes_in_flight(), 2u);
  EXPECT_EQ(cb_.describe(clock_.now()), "circuit half-open (2 of 2 probes in flight)");
}

TEST_F(CircuitBreakerTest, AbandonedProbeFreesItsSlotWithoutAVerdict) {
  trip(cb_, clock_.now());
  clock_.advance(30s);
  ASSERT_TRUE(cb_.try_acquire(clock_.now()));
  ASSERT_TRUE(cb_.try_acquire(clock_.now()));
  cb_.on_abandoned(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::half_open);
  EXPECT_EQ(cb_.probes_in_flight(), 1u);
  EXPECT_TRUE(cb_.try_acquire(clock_.now()));
  EXPECT_FALSE(cb_.try_acquire(clock_.now()));
  // An abandon with nothing in flight must not underflow the count.
  cb_.on_abandoned(clock_.now());
  cb_.on_abandoned(clock_.now());
  cb_.on_abandoned(clock_.now());
  EXPECT_EQ(cb_.probes_in_flight(), 0u);
}

TEST_F(CircuitBreakerTest, HalfOpenClosesWhenEveryProbeSucceeds) {
  trip(cb_, clock_.now());
  clock_.advance(30s);
  ASSERT_TRUE(cb_.try_acquire(clock_.now()));
  ASSERT_TRUE(cb_.try_acquire(clock_.now()));
  cb_.on_success(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::half_open);
  // The success freed a slot: another probe may go while the second is pending.
  EXPECT_TRUE(cb_.try_acquire(clock_.now()));
  cb_.on_success(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::closed);
  EXPECT_EQ(cb_.describe(clock_.now()), "");
  EXPECT_EQ(cb_.window_totals(clock_.now()).total(), 0u);  // window reset on closing
  EXPECT_TRUE(cb_.try_acquire(clock_.now()));
}

TEST_F(CircuitBreakerTest, ClosedAfterRecoveryNeedsFreshEvidenceToReopen) {
  trip(cb_, clock_.now());
  clock_.advance(30s);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(cb_.try_acquire(clock_.now()));
    cb_.on_success(clock_.now());
  }
  ASSERT_EQ(cb_.state(clock_.now()), CircuitState::closed);
  cb_.on_failure(clock_.now());  // with the old failures this would be 3 of 5
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::closed);
}

TEST_F(CircuitBreakerTest, HalfOpenFailureReopensForOpenFor) {
  trip(cb_, clock_.now());
  clock_.advance(30s);
  ASSERT_TRUE(cb_.try_acquire(clock_.now()));
  ASSERT_TRUE(cb_.try_acquire(clock_.now()));
  cb_.on_success(clock_.now());
  clock_.advance(1s);
  cb_.on_failure(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::open);
  EXPECT_FALSE(cb_.try_acquire(clock_.now()));
  EXPECT_EQ(cb_.describe(clock_.now()), "circuit open (a half-open probe failed)");
  EXPECT_EQ(cb_.probes_in_flight(), 0u);
  clock_.advance(29999ms);
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::open);
  clock_.advance(1ms);
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::half_open);
  // Earlier probe successes do not carry over into the new half-open period.
  ASSERT_TRUE(cb_.try_acquire(clock_.now()));
  cb_.on_success(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::half_open);
}

TEST_F(CircuitBreakerTest, LateOutcomesWhileOpenAreIgnored) {
  trip(cb_, clock_.now());
  cb_.on_success(clock_.now());
  cb_.on_failure(clock_.now());
  cb_.on_abandoned(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::open);
  clock_.advance(30s);
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::half_open);
  EXPECT_EQ(cb_.probes_in_flight(), 0u);
}

TEST_F(CircuitBreakerTest, ForceOpen) {
  cb_.force_open(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::open);
  EXPECT_FALSE(cb_.try_acquire(clock_.now()));
  EXPECT_EQ(cb_.describe(clock_.now()), "circuit open (forced by operator)");
  clock_.advance(30s);
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::half_open);
}

TEST_F(CircuitBreakerTest, ForceOpenWhileHalfOpenRestartsOpenFor) {
  trip(cb_, clock_.now());
  clock_.advance(30s);
  ASSERT_TRUE(cb_.try_acquire(clock_.now()));
  cb_.force_open(clock_.now());
  EXPECT_EQ(cb_.probes_in_flight(), 0u);
  clock_.advance(29s);
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::open);
}

TEST_F(CircuitBreakerTest, ResetClosesAndClears) {
  trip(cb_, clock_.now());
  cb_.reset();
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::closed);
  EXPECT_TRUE(cb_.try_acquire(clock_.now()));
  EXPECT_EQ(cb_.window_totals(clock_.now()).total(), 0u);
  cb_.on_failure(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::closed);

  cb_.force_open(clock_.now());
  clock_.advance(30s);
  ASSERT_TRUE(cb_.try_acquire(clock_.now()));
  cb_.reset();
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::closed);
  EXPECT_EQ(cb_.probes_in_flight(), 0u);
}

TEST_F(CircuitBreakerTest, TimeStandingStillKeepsItOpen) {
  trip(cb_, clock_.now());
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(cb_.try_acquire(clock_.now()));
  }
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::open);
}

TEST_F(CircuitBreakerTest, LargeJumps) {
  trip(cb_, clock_.now());
  clock_.advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::half_open);
  cb_.reset();
  for (int i = 0; i < 3; ++i) {
    cb_.on_failure(clock_.now());
  }
  clock_.advance(std::chrono::hours(24 * 365));
  cb_.on_failure(clock_.now());
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::closed);
}

TEST_F(CircuitBreakerTest, TimeGoingBackwardsDoesNotReopenOrCrash) {
  trip(cb_, clock_.now());
  const auto earlier = clock_.now() - 1h;
  EXPECT_FALSE(cb_.try_acquire(earlier));
  EXPECT_EQ(cb_.state(earlier), CircuitState::open);
  clock_.advance(30s);
  EXPECT_EQ(cb_.state(clock_.now()), CircuitState::half_open);
  EXPECT_EQ(cb_.state(earlier), CircuitState::half_open);  // no way back to open
}

TEST(CircuitBreaker, ZeroProbesStillRecovers) {
  auto cfg = small_config();
  cfg.half_open_probes = 0;
  common::ManualClock clock;
  CircuitBreaker cb(cfg);
  cb.force_open(clock.now());
  clock.advance(30s);
  ASSERT_TRUE(cb.try_acquire(clock.now()));
  EXPECT_FALSE(cb.try_acquire(clock.now()));
  cb.on_success(clock.now());
  EXPECT_EQ(cb.state(clock.now()), CircuitState::closed);
}

TEST(CircuitState, NamesAndMetricValues) {
  EXPECT_STREQ(to_string(CircuitState::closed), "closed");
  EXPECT_STREQ(to_string(CircuitState::half_open), "half_open");
  EXPECT_STREQ(to_string(CircuitState::open), "open");
  EXPECT_EQ(static_cast<int>(CircuitState::closed), 0);
  EXPECT_EQ(static_cast<int>(CircuitState::half_open), 1);
  EXPECT_EQ(static_cast<int>(CircuitState::open), 2);
}

}  // namespace
}  // namespace llmgw::resilience
