#include "llmgw/resilience/outlier_detector.hpp"

#include <gtest/gtest.h>

#include "llmgw/common/clock.hpp"

namespace llmgw::resilience {
namespace {

using namespace std::chrono_literals;

// Defaults: 5 consecutive, 50% over >= 20 calls in 30s, eject 30s, at most 300s.
class OutlierDetectorTest : public ::testing::Test {
protected:
  // Fails until ejected; returns how many failures it took.
  int fail_until_ejected() {
    for (int i = 1; i <= 100; ++i) {
      if (od_.on_failure(clock_.now())) {
        return i;
      }
    }
    return -1;
  }
  Duration ejection_length() const {
    return std::chrono::duration_cast<Duration>(od_.ejected_until() - clock_.now());
  }
  void wait_out_ejection() { clock_.advance(od_.ejected_until() - clock_.now()); }

  common::ManualClock clock_;
  OutlierDetector od_{config::PassiveHealthConfig{}};
};

TEST_F(OutlierDetectorTest, NotEjectedInitially) {
  EXPECT_FALSE(od_.ejected(clock_.now()));
  EXPECT_EQ(od_.ejections(), 0u);
  EXPECT_EQ(od_.describe(clock_.now()), "");
}

TEST_F(OutlierDetectorTest, EjectsAfterConsecutiveFailures) {
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(od_.on_failure(clock_.now()));
  }
  EXPECT_FALSE(od_.ejected(clock_.now()));
  EXPECT_TRUE(od_.on_failure(clock_.now()));
  EXPECT_TRUE(od_.ejected(clock_.now()));
  EXPECT_EQ(od_.ejected_until(), clock_.now() + 30s);
  EXPECT_EQ(od_.ejections(), 1u);
  EXPECT_EQ(od_.describe(clock_.now()), "ejected for 30s after 5 consecutive failures");
}

TEST_F(OutlierDetectorTest, SuccessResetsTheConsecutiveCount) {
  for (int i = 0; i < 4; ++i) {
    od_.on_failure(clock_.now());
  }
  od_.on_success(clock_.now());
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(od_.on_failure(clock_.now()));
  }
  EXPECT_FALSE(od_.ejected(clock_.now()));  // 8 of 9 failed, but 9 < min_requests
}

TEST_F(OutlierDetectorTest, EjectsOnFailureRateOnceMinRequestsReached) {
  for (int i = 0; i < 9; ++i) {
    od_.on_success(clock_.now());
    EXPECT_FALSE(od_.on_failure(clock_.now()));  // 50% but fewer than 20 calls
  }
  od_.on_success(clock_.now());
  EXPECT_TRUE(od_.on_failure(clock_.now()));  // 10 of 20
  EXPECT_TRUE(od_.ejected(clock_.now()));
  EXPECT_EQ(od_.describe(clock_.now()), "ejected for 30s after failure rate 50% over 20 calls");
}

TEST_F(OutlierDetectorTest, NoEjectionBelowTheFailureRate) {
  for (int i = 0; i < 30; ++i) {
    od_.on_success(clock_.now());
    od_.on_success(clock_.now());
    EXPECT_FALSE(od_.on_failure(clock_.now()));
  }
  EXPECT_FALSE(od_.ejected(clock_.now()));
}

TEST_F(OutlierDetectorTest, RateUsesOnlyTheWindow) {
  for (int i = 0; i < 9; ++i) {
    od_.on_success(clock_.now());
    od_.on_failure(clock_.now());
  }
  clock_.advance(30s);
  od_.on_success(clock_.now());
  EXPECT_FALSE(od_.on_failure(clock_.now()));  // the old 18 calls have left the window
}

TEST_F(OutlierDetectorTest, EjectionExpires) {
  ASSERT_EQ(fail_until_ejected(), 5);
  clock_.advance(29999ms);
  EXPECT_TRUE(od_.ejected(clock_.now()));
  clock_.advance(1ms);
  EXPECT_FALSE(od_.ejected(clock_.now()));
  EXPECT_EQ(od_.describe(clock_.now()), "");
}

TEST_F(OutlierDetectorTest, FailuresWhileEjectedDoNotExtendOrReeject) {
  ASSERT_EQ(fail_until_ejected(), 5);
  const auto until = od_.ejected_until();
  clock_.advance(10s);
  for (int i = 0; i < 50; ++i) {
    EXPECT_FALSE(od_.on_failure(clock_.now()));
  }
  EXPECT_EQ(od_.ejected_until(), until);
  EXPECT_EQ(od_.ejections(), 1u);
}

TEST_F(OutlierDetectorTest, EvidenceIsClearedWhenTheEjectionEnds) {
  ASSERT_EQ(fail_until_ejected(), 5);
  wait_out_ejection();
  EXPECT_FALSE(od_.on_failure(clock_.now()));  // not the 6th in a row: a fresh start
  EXPECT_FALSE(od_.ejected(clock_.now()));
  EXPECT_EQ(fail_until_ejected(), 4);
}

TEST_F(OutlierDetectorTest, EjectionTimeDoublesUpToTheCap) {
  const std::vector<Duration> expected = {30s, 60s, 120s, 240s, 300s, 300s};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(fail_until_ejected(), 5) << i;
    EXPECT_EQ(ejection_length(), expected[i]) << i;
    wait_out_ejection();
  }
  EXPECT_EQ(od_.ejections(), 6u);
}

TEST_F(OutlierDetectorTest, DescribeShowsTheGrownLength) {
  fail_until_ejected();
  wait_out_ejection();
  fail_until_ejected();
  EXPECT_EQ(od_.describe(clock_.now()), "ejected for 60s after 5 consecutive failures");
}

TEST_F(OutlierDetectorTest, SuccessAfterExpiryDecaysOneStepNeverBelowTheFirst) {
  fail_until_ejected();  // 30s
  wait_out_ejection();
  fail_until_ejected();  // 60s
  wait_out_ejection();
  od_.on_success(clock_.now());  // one step down: the next is 60s, not 120s
  fail_until_ejected();
  EXPECT_EQ(ejection_length(), 60s);
  wait_out_ejection();
  for (int i = 0; i < 10; ++i) {
    od_.on_success(clock_.now());
  }
  fail_until_ejected();
  EXPECT_EQ(ejection_length(), 30s);
}

TEST_F(OutlierDetectorTest, SuccessWhileEjectedDoesNotDecay) {
  fail_until_ejected();
  od_.on_success(clock_.now());  // a late reply from before the ejection
  EXPECT_TRUE(od_.ejected(clock_.now()));
  wait_out_ejection();
  fail_until_ejected();
  EXPECT_EQ(ejection_length(), 60s);
}

TEST_F(OutlierDetectorTest, ManualEjectAndRestore) {
  od_.eject(clock_.now());
  EXPECT_TRUE(od_.ejected(clock_.now()));
  EXPECT_EQ(ejection_length(), 30s);
  EXPECT_EQ(od_.ejections(), 1u);
  EXPECT_EQ(od_.describe(clock_.now()), "ejected for 30s by operator");
  od_.restore();
  EXPECT_FALSE(od_.ejected(clock_.now()));
  EXPECT_EQ(od_.describe(clock_.now()), "");
  // The operator's ejection did not grow the next one.
  EXPECT_EQ(fail_until_ejected(), 5);
  EXPECT_EQ(ejection_length(), 30s);
}

TEST_F(OutlierDetectorTest, RestoreClearsEvidence) {
  for (int i = 0; i < 4; ++i) {
    od_.on_failure(clock_.now());
  }
  ASSERT_TRUE(od_.on_failure(clock_.now()));
  od_.restore();
  EXPECT_FALSE(od_.on_failure(clock_.now()));
  EXPECT_FALSE(od_.ejected(clock_.now()));
}

TEST_F(OutlierDetectorTest, ManualEjectUsesTheCurrentMultiplier) {
  fail_until_ejected();  // 30s, the next one would be 60s
  od_.restore();
  od_.eject(clock_.now());
  EXPECT_EQ(ejection_length(), 60s);
}

TEST_F(OutlierDetectorTest, ManualEjectWhileEjectedNeverShortensNorCounts) {
  fail_until_ejected();  // 30s
  const auto until = od_.ejected_until();
  od_.eject(clock_.now());  // now + 60s (the grown multiplier) is later: extended
  EXPECT_EQ(ejection_length(), 60s);
  EXPECT_EQ(od_.ejections(), 1u);
  EXPECT_GT(od_.ejected_until(), until);
}

TEST_F(OutlierDetectorTest, TimeStandingStill) {
  EXPECT_EQ(fail_until_ejected(), 5);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(od_.ejected(clock_.now()));
  }
}

TEST_F(OutlierDetectorTest, LargeJumpEndsTheEjection) {
  fail_until_ejected();
  clock_.advance(std::chrono::hours(24 * 365));
  EXPECT_FALSE(od_.ejected(clock_.now()));
  EXPECT_FALSE(od_.on_failure(clock_.now()));
}

TEST(OutlierDetector, CapBelowTheDoubling) {
  config::PassiveHealthConfig cfg;
  cfg.consecutive_failures = 1;
  cfg.eject_for = 30s;
  cfg.max_eject_for = 45s;
  common::ManualClock clock;
  OutlierDetector od(cfg);
  ASSERT_TRUE(od.on_failure(clock.now()));
  EXPECT_EQ(od.ejected_until() - clock.now(), 30s);
  clock.advance(30s);
  ASSERT_TRUE(od.on_failure(clock.now()));
  EXPECT_EQ(od.ejected_until() - clock.now(), 45s);
  clock.advance(45s);
  // At the cap one success is enough to come back to the first length.
  od.on_success(clock.now());
  ASSERT_TRUE(od.on_failure(clock.now()));
  EXPECT_EQ(od.ejected_until() - clock.now(), 30s);
}

TEST(OutlierDetector, FractionalPercentAndSubSecondLength) {
  config::PassiveHealthConfig cfg;
  cfg.consecutive_failures = 100;
  cfg.min_requests = 3;
  cfg.failure_rate = 0.6;
  cfg.eject_for = 1500ms;
  common::ManualClock clock;
  OutlierDetector od(cfg);
  od.on_success(clock.now());
  od.on_failure(clock.now());
  ASSERT_TRUE(od.on_failure(clock.now()));
  EXPECT_EQ(od.describe(clock.now()), "ejected for 1500ms after failure rate 67% over 3 calls");
}

}  // namespace
}  // namespace llmgw::resilience
