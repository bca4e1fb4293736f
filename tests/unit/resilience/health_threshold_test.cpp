#include "llmgw/resilience/health_threshold.hpp"

#include <gtest/gtest.h>

namespace llmgw::resilience {
namespace {

TEST(HealthThreshold, StartHealthyDecidesTheInitialVerdict) {
  EXPECT_TRUE(HealthThreshold(2, 3).healthy());
  EXPECT_TRUE(HealthThreshold(2, 3, true).healthy());
  EXPECT_FALSE(HealthThreshold(2, 3, false).healthy());
}

TEST(HealthThreshold, UnhealthyAfterFailuresInARow) {
  HealthThreshold h(2, 3);
  EXPECT_FALSE(h.record(false));
  EXPECT_FALSE(h.record(false));
  EXPECT_EQ(h.consecutive_failures(), 2u);
  EXPECT_TRUE(h.healthy());
  EXPECT_TRUE(h.record(false));
  EXPECT_FALSE(h.healthy());
  EXPECT_FALSE(h.record(false));  // no change: already unhealthy
  EXPECT_EQ(h.consecutive_failures(), 4u);
}

TEST(HealthThreshold, APassBreaksTheFailureRun) {
  HealthThreshold h(2, 3);
  h.record(false);
  h.record(false);
  EXPECT_FALSE(h.record(true));
  EXPECT_EQ(h.consecutive_failures(), 0u);
  h.record(false);
  h.record(false);
  EXPECT_TRUE(h.healthy());
}

TEST(HealthThreshold, HealthyAfterPassesInARow) {
  HealthThreshold h(2, 3, false);
  EXPECT_FALSE(h.record(true));
  EXPECT_FALSE(h.record(false));  // breaks the run of passes
  EXPECT_FALSE(h.record(true));
  EXPECT_FALSE(h.healthy());
  EXPECT_TRUE(h.record(true));
  EXPECT_TRUE(h.healthy());
  EXPECT_FALSE(h.record(true));
}

TEST(HealthThreshold, FullCycle) {
  HealthThreshold h(1, 1);
  EXPECT_FALSE(h.record(true));
  EXPECT_TRUE(h.record(false));
  EXPECT_FALSE(h.healthy());
  EXPECT_TRUE(h.record(true));
  EXPECT_TRUE(h.healthy());
}

TEST(HealthThreshold, ZeroThresholdsActLikeOne) {
  HealthThreshold h(0, 0);
  EXPECT_TRUE(h.record(false));
  EXPECT_TRUE(h.record(true));
}

}  // namespace
}  // namespace llmgw::resilience
