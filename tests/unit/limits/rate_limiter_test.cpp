// Per-key rate limits in simulated time: bucket arithmetic, refusals with the wait, the
// settlement of the token estimate, and fresh buckets when a reload changes the limits.
#include <gtest/gtest.h>

#include "llmgw/limits/rate_limiter.hpp"

namespace llmgw::limits {
namespace {

using namespace std::chrono_literals;

TimePoint t0() { return TimePoint{} + 1h; }

config::KeyConfig key_with(std::optional<std::uint64_t> rpm, std::optional<std::uint64_t> tpm) {
  config::KeyConfig k;
  k.name = "team-a";
  k.rate_limit.rpm = rpm;
  k.rate_limit.tpm = tpm;
  return k;
}

TEST(TokenBucket, RefillsContinuouslyUpToItsCapacity) {
  TokenBucket b(60, t0());  // one a second
  std::chrono::milliseconds wait{0};
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(b.try_take(1, t0(), wait)) << i;
  }
  EXPECT_FALSE(b.try_take(1, t0(), wait));
  EXPECT_EQ(wait, 1000ms);
  EXPECT_FALSE(b.try_take(1, t0() + 999ms, wait));
  EXPECT_TRUE(b.try_take(1, t0() + 1000ms, wait));
  EXPECT_DOUBLE_EQ(b.available(t0() + 1h), 60);  // never above capacity
}

TEST(TokenBucket, MoreThanAFullBucketWaitsForAFullOneAndLeavesADebt) {
  TokenBucket b(100, t0());
  std::chrono::milliseconds wait{0};
  EXPECT_TRUE(b.try_take(250, t0(), wait));  // full: allowed, 150 owed
  EXPECT_FALSE(b.try_take(1, t0() + 60s, wait)) << "the debt is paid first";
  EXPECT_TRUE(b.try_take(1, t0() + 91s, wait));
}

TEST(RateLimiter, RequestsPerMinuteRefuseTheNextWithItsWait) {
  RateLimiter limiter;
  auto key = key_with(3, std::nullopt);
  for (int i = 0; i < 3; ++i) {
    auto a = limiter.admit(key, 10, t0());
    ASSERT_TRUE(a.allowed) << i;
    ASSERT_TRUE(a.requests);
    EXPECT_EQ(a.requests->limit, 3u);
    EXPECT_EQ(a.requests->remaining, static_cast<std::uint64_t>(2 - i));
  }
  auto refused = limiter.admit(key, 10, t0());
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.refused_by, "requests");
  EXPECT_EQ(refused.retry_after, 20000ms);  // 3 a minute: one every 20 s
  EXPECT_FALSE(refused.tokens);
  EXPECT_TRUE(limiter.admit(key, 10, t0() + 20s).allowed);
}

TEST(RateLimiter, ARequestRefusedForTokensSpendsNoRequest) {
  RateLimiter limiter;
  auto key = key_with(10, 1000);
  ASSERT_TRUE(limiter.admit(key, 900, t0()).allowed);
  auto refused = limiter.admit(key, 200, t0());
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.refused_by, "tokens");
  EXPECT_EQ(refused.retry_after, 6000ms);  // 100 missing at 1000 a minute
  EXPECT_EQ(refused.requests->remaining, 9u) << "only the admitted request was taken";
}

TEST(RateLimiter, TheEstimateIsSettledAgainstTheProvidersUsage) {
  RateLimiter limiter;
  auto key = key_with(std::nullopt, 1000);
  ASSERT_TRUE(limiter.admit(key, 100, t0()).allowed);
  limiter.settle(key, 100, 700, t0());  // it cost 700, not 100
  EXPECT_FALSE(limiter.admit(key, 400, t0()).allowed);
  limiter.settle(key, 0, -600, t0());  // (a request that cost nothing gives back)
  EXPECT_TRUE(limiter.admit(key, 400, t0()).allowed);
}

TEST(RateLimiter, KeysAreApartAndChangedLimitsStartFresh) {
  RateLimiter limiter;
  auto a = key_with(1, std::nullopt);
  auto b = a;
  b.name = "team-b";
  ASSERT_TRUE(limiter.admit(a, 0, t0()).allowed);
  EXPECT_FALSE(limiter.admit(a, 0, t0()).allowed);
  EXPECT_TRUE(limiter.admit(b, 0, t0()).allowed);
  a.rate_limit.rpm = 5;  // a reload raised the limit
  EXPECT_TRUE(limiter.admit(a, 0, t0()).allowed);
}

TEST(RateLimiter, ResetTextIsOpenAIsDurationForm) {
  EXPECT_EQ(reset_text(250ms), "250ms");
  EXPECT_EQ(reset_text(12000ms), "12s");
  EXPECT_EQ(reset_text(90500ms), "1m31s");
}

}  // namespace
}  // namespace llmgw::limits
