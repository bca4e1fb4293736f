#include "llmgw/router/balancer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <thread>

namespace llmgw::router {
namespace {

using config::Strategy;

constexpr Strategy kAllStrategies[] = {Strategy::priority,      Strategy::weighted,
                                       Strategy::round_robin,   Strategy::least_latency,
                                       Strategy::least_cost,    Strategy::least_busy};

BalanceCandidate candidate(std::size_t index) {
  BalanceCandidate c;
  c.index = index;
  return c;
}

// Candidates 0..n-1 in config order with the given weights.
std::vector<BalanceCandidate> weighted(std::initializer_list<unsigned> weights) {
  std::vector<BalanceCandidate> out;
  for (unsigned w : weights) {
    auto c = candidate(out.size());
    c.weight = w;
    out.push_back(c);
  }
  return out;
}

bool is_permutation_of(const std::vector<std::size_t>& order,
                       const std::vector<BalanceCandidate>& candidates) {
  std::vector<std::size_t> want;
  for (const auto& c : candidates) {
    want.push_back(c.index);
  }
  return order.size() == want.size() &&
         std::is_permutation(order.begin(), order.end(), want.begin());
}

// How often each index is tried first over `calls` calls.
std::map<std::size_t, int> first_picks(Balancer& b, const std::vector<BalanceCandidate>& cands,
                                       int calls, std::mt19937_64& rng) {
  std::map<std::size_t, int> count;
  for (int i = 0; i < calls; ++i) {
    auto order = b.order(cands, rng);
    EXPECT_TRUE(is_permutation_of(order, cands));
    ++count[order.front()];
  }
  return count;
}

TEST(Balancer, EmptyAndSingleCandidate) {
  std::mt19937_64 rng(1);
  for (Strategy s : kAllStrategies) {
    Balancer b(s, 4);
    EXPECT_EQ(b.strategy(), s);
    EXPECT_TRUE(b.order({}, rng).empty());
    const std::vector<BalanceCandidate> one = {candidate(3)};
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(b.order(one, rng), std::vector<std::size_t>{3}) << config::to_string(s);
    }
  }
}

TEST(Balancer, EveryStrategyReturnsAPermutation) {
  std::mt19937_64 rng(2);
  std::vector<BalanceCandidate> cands;
  // Sparse, non-contiguous indexes beyond target_count exercise the WRR state resize.
  for (std::size_t idx : {1u, 4u, 5u, 9u, 12u}) {
    auto c = candidate(idx);
    c.weight = static_cast<unsigned>(idx % 3 + 1);
    c.inflight = static_cast<std::int64_t>(idx % 4);
    c.ewma_ttft_ms = static_cast<double>(idx % 3) * 100;
    c.cost = static_cast<double>(idx % 2);
    c.region_preferred = idx % 2 == 1;
    cands.push_back(c);
  }
  for (Strategy s : kAllStrategies) {
    Balancer b(s, 2);
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(is_permutation_of(b.order(cands, rng), cands)) << config::to_string(s);
    }
  }
}

TEST(Balancer, PriorityKeepsConfigOrder) {
  std::mt19937_64 rng(3);
  Balancer b(Strategy::priority, 3);
  auto cands = weighted({1, 50, 3});
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(b.order(cands, rng), (std::vector<std::size_t>{0, 1, 2}));
  }
}

TEST(Balancer, WeightedNinetyTenIsExactAndInterleaved) {
  std::mt19937_64 rng(4);
  Balancer b(Strategy::weighted, 2);
  const auto cands = weighted({90, 10});
  std::vector<std::size_t> firsts;
  for (int i = 0; i < 10000; ++i) {
    auto order = b.order(cands, rng);
    ASSERT_TRUE(is_permutation_of(order, cands));
    firsts.push_back(order.front());
  }
  EXPECT_EQ(std::count(firsts.begin(), firsts.end(), 0u), 9000);
  EXPECT_EQ(std::count(firsts.begin(), firsts.end(), 1u), 1000);
  // Smooth: every window of 10 consecutive calls holds exactly one pick of the light target.
  for (std::size_t start = 0; start + 10 <= firsts.size(); ++start) {
    ASSERT_EQ(std::count(firsts.begin() + static_cast<std::ptrdiff_t>(start),
                         firsts.begin() + static_cast<std::ptrdiff_t>(start) + 10, 1u),
              1)
        << "window at " << start;
  }
}

TEST(Balancer, WeightedMatchesNginxSequence) {
  std::mt19937_64 rng(5);
  Balancer b(Strategy::weighted, 3);
  const auto cands = weighted({5, 1, 1});
  std::string seq;
  for (int i = 0; i < 14; ++i) {
    seq += static_cast<char>('a' + b.order(cands, rng).front());
  }
  // nginx's documented example: a a b a c a a, then the cycle repeats.
  EXPECT_EQ(seq, "aabacaaaabacaa");
}

TEST(Balancer, WeightedRestByDescendingWeightThenConfigOrder) {
  std::mt19937_64 rng(6);
  Balancer b(Strategy::weighted, 4);
  const auto cands = weighted({1, 3, 2, 3});
  for (int i = 0; i < 50; ++i) {
    auto order = b.order(cands, rng);
    std::vector<std::size_t> rest(order.begin() + 1, order.end());
    std::vector<std::size_t> want;
    for (std::size_t idx : {1u, 3u, 2u, 0u}) {
      if (idx != order.front()) {
        want.push_back(idx);
      }
    }
    EXPECT_EQ(rest, want);
  }
}

TEST(Balancer, WeightedZeroWeightOnlyGoesFirstWhenAlone) {
  std::mt19937_64 rng(7);
  Balancer b(Strategy::weighted, 2);
  const auto cands = weighted({0, 1});
  auto count = first_picks(b, cands, 100, rng);
  EXPECT_EQ(count[1], 100);
}

TEST(Balancer, WeightedTargetLeavesAndComesBack) {
  std::mt19937_64 rng(8);
  Balancer b(Strategy::weighted, 3);
  const auto all = weighted({3, 2, 1});
  const std::vector<BalanceCandidate> without_b = {all[0], all[2]};

  auto before = first_picks(b, all, 600, rng);
  EXPECT_EQ(before[0], 300);
  EXPECT_EQ(before[1], 200);
  EXPECT_EQ(before[2], 100);

  // Target 1 is unhealthy: the other two share by their weights (3:1), give or take the
  // one-cycle offset of the stale state they inherit.
  auto during = first_picks(b, without_b, 600, rng);
  EXPECT_EQ(during.count(1), 0u);
  EXPECT_NEAR(during[0], 450, 3);
  EXPECT_NEAR(during[2], 150, 3);

  // Back again: no starvation (picked within one cycle) and no burst (shares by weight).
  std::vector<std::size_t> firsts;
  for (int i = 0; i < 600; ++i) {
    firsts.push_back(b.order(all, rng).front());
  }
  const auto first_b = std::find(firsts.begin(), firsts.end(), 1u);
  ASSERT_NE(first_b, firsts.end());
  EXPECT_LT(first_b - firsts.begin(), 6);
  const std::vector<std::size_t> head(firsts.begin(), firsts.begin() + 6);
  EXPECT_LE(std::count(head.begin(), head.end(), 1u), 3) << "burst after returning";
  EXPECT_NEAR(std::count(firsts.begin(), firsts.end(), 0u), 300, 3);
  EXPECT_NEAR(std::count(firsts.begin(), firsts.end(), 1u), 200, 3);
  EXPECT_NEAR(std::count(firsts.begin(), firsts.end(), 2u), 100, 3);
}

TEST(Balancer, WeightedStateStaysBoundedUnderChurn) {
  // Random subsets every call (health flapping); afterwards the full set still converges to
  // exact shares, which would not happen if some current weight had drifted far away.
  std::mt19937_64 rng(9);
  Balancer b(Strategy::weighted, 4);
  const auto all = weighted({4, 3, 2, 1});
  std::bernoulli_distribution present(0.6);
  for (int i = 0; i < 20000; ++i) {
    std::vector<BalanceCandidate> subset;
    for (const auto& c : all) {
      if (present(rng)) {
        subset.push_back(c);
      }
    }
    ASSERT_TRUE(is_permutation_of(b.order(subset, rng), subset));
  }
  auto count = first_picks(b, all, 1000, rng);
  EXPECT_NEAR(count[0], 400, 10);
  EXPECT_NEAR(count[1], 300, 10);
  EXPECT_NEAR(count[2], 200, 10);
  EXPECT_NEAR(count[3], 100, 10);
}

TEST(Balancer, RoundRobinIsUniformAndRotates) {
  std::mt19937_64 rng(10);
  Balancer b(Strategy::round_robin, 4);
  const auto cands = weighted({1, 1, 1, 1});
  EXPECT_EQ(b.order(cands, rng), (std::vector<std::size_t>{0, 1, 2, 3}));
  EXPECT_EQ(b.order(cands, rng), (std::vector<std::size_t>{1, 2, 3, 0}));
  EXPECT_EQ(b.order(cands, rng), (std::vector<std::size_t>{2, 3, 0, 1}));
  EXPECT_EQ(b.order(cands, rng), (std::vector<std::size_t>{3, 0, 1, 2}));
  auto count = first_picks(b, cands, 10000, rng);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(count[i], 2500) << i;
  }
}

// The admin view peeks at the next order: it must not steer traffic itself.
TEST(Balancer, PeekShowsTheNextOrderWithoutMovingTheState) {
  std::mt19937_64 rng(8);
  for (auto s : {Strategy::round_robin, Strategy::weighted}) {
    Balancer b(s, 3);
    const auto cands = weighted({3, 2, 1});
    for (int i = 0; i < 12; ++i) {
      auto peeked = b.peek(cands);
      ASSERT_EQ(b.peek(cands), peeked) << "a peek moved the state";
      ASSERT_EQ(b.order(cands, rng), peeked) << "call " << i;
    }
  }
  // Where order() draws two random candidates, the peek names the best one.
  Balancer busy(Strategy::least_busy, 3);
  auto cands = weighted({1, 1, 1});
  cands[0].inflight = 5;
  cands[1].inflight = 0;
  cands[2].inflight = 2;
  EXPECT_EQ(busy.peek(cands), (std::vector<std::size_t>{1, 2, 0}));
}

TEST(Balancer, LeastBusyIdleFirstWithTwoCandidates) {
  std::mt19937_64 rng(11);
  Balancer b(Strategy::least_busy, 2);
  auto cands = weighted({1, 1});
  cands[0].inflight = 100;
  cands[1].inflight = 0;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_EQ(b.order(cands, rng), (std::vector<std::size_t>{1, 0}));
  }
}

TEST(Balancer, LeastBusyTwoChoicesDistribution) {
  std::mt19937_64 rng(12);
  Balancer b(Strategy::least_busy, 4);
  auto cands = weighted({1, 1, 1, 1});
  const std::int64_t inflight[] = {30, 0, 20, 10};
  for (std::size_t i = 0; i < 4; ++i) {
    cands[i].inflight = inflight[i];
  }
  std::map<std::size_t, int> count;
  for (int i = 0; i < 10000; ++i) {
    auto order = b.order(cands, rng);
    ASSERT_TRUE(is_permutation_of(order, cands));
    ++count[order.front()];
    // The rest ascend by in-flight.
    for (std::size_t k = 2; k < order.size(); ++k) {
      ASSERT_LE(cands[order[k - 1]].inflight, cands[order[k]].inflight);
    }
  }
  // Of the 6 equally likely pairs, the idle target wins the 3 it is in, the busiest none;
  // 10 wins 2 and 20 wins 1.
  EXPECT_EQ(count[0], 0);
  EXPECT_NEAR(count[1], 5000, 300);
  EXPECT_NEAR(count[3], 3333, 300);
  EXPECT_NEAR(count[2], 1667, 300);
}

TEST(Balancer, LeastBusyTiesGoToLowerIndex) {
  std::mt19937_64 rng(13);
  Balancer b(Strategy::least_busy, 2);
  auto cands = weighted({1, 1});
  cands[0].inflight = 5;
  cands[1].inflight = 5;
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(b.order(cands, rng), (std::vector<std::size_t>{0, 1}));
  }
}

TEST(Balancer, LeastLatencyExploresUnknownTargets) {
  std::mt19937_64 rng(14);
  Balancer b(Strategy::least_latency, 3);
  auto cands = weighted({1, 1, 1});
  cands[0].ewma_ttft_ms = 80;
  cands[1].ewma_ttft_ms = 0;  // no sample yet
  cands[2].ewma_ttft_ms = 200;
  std::map<std::size_t, int> count;
  for (int i = 0; i < 10000; ++i) {
    auto order = b.order(cands, rng);
    ++count[order.front()];
    // The rest ascend by latency, unknown counting as best.
    if (order.front() != 1) {
      ASSERT_EQ(order[1], 1u);
    }
  }
  EXPECT_EQ(count[2], 0);  // slowest never wins a pair
  EXPECT_NEAR(count[1], 6667, 300);
  EXPECT_NEAR(count[0], 3333, 300);

  // Two candidates: the unknown one always goes first.
  const std::vector<BalanceCandidate> pair = {cands[0], cands[1]};
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(b.order(pair, rng), (std::vector<std::size_t>{1, 0}));
  }
}

TEST(Balancer, LeastLatencyNanIsTreatedAsUnknown) {
  std::mt19937_64 rng(15);
  Balancer b(Strategy::least_latency, 2);
  auto cands = weighted({1, 1});
  cands[0].ewma_ttft_ms = 50;
  cands[1].ewma_ttft_ms = std::numeric_limits<double>::quiet_NaN();
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(b.order(cands, rng), (std::vector<std::size_t>{1, 0}));
  }
}

TEST(Balancer, LeastCostAscendingTiesInConfigOrder) {
  std::mt19937_64 rng(16);
  Balancer b(Strategy::least_cost, 5);
  auto cands = weighted({1, 1, 1, 1, 1});
  const double cost[] = {0.5, 0.1, 0.5, 0.0, std::numeric_limits<double>::quiet_NaN()};
  for (std::size_t i = 0; i < 5; ++i) {
    cands[i].cost = cost[i];
  }
  for (int i = 0; i < 100; ++i) {
    // Unknown (NaN) cost goes last.
    ASSERT_EQ(b.order(cands, rng), (std::vector<std::size_t>{3, 1, 0, 2, 4}));
  }
}

TEST(Balancer, RegionPreferredFirstForEveryStrategy) {
  for (Strategy s : kAllStrategies) {
    std::mt19937_64 rng(17);
    Balancer b(s, 5);
    auto cands = weighted({5, 1, 3, 1, 2});
    for (std::size_t i = 0; i < cands.size(); ++i) {
      cands[i].inflight = static_cast<std::int64_t>(10 - i);
      cands[i].ewma_ttft_ms = static_cast<double>(100 - i);
      cands[i].cost = static_cast<double>(10 - i);
    }
    cands[1].region_preferred = true;
    cands[3].region_preferred = true;
    std::map<std::size_t, int> firsts;
    for (int i = 0; i < 1000; ++i) {
      auto order = b.order(cands, rng);
      ASSERT_TRUE(is_permutation_of(order, cands)) << config::to_string(s);
      ASSERT_TRUE(cands[order[0]].region_preferred) << config::to_string(s);
      ASSERT_TRUE(cands[order[1]].region_preferred) << config::to_string(s);
      ++firsts[order[0]];
    }
    if (s == Strategy::priority) {
      EXPECT_EQ(firsts[1], 1000);
    } else if (s == Strategy::weighted || s == Strategy::round_robin) {
      // Equal weights (1, 1) within the preferred group: alternate.
      EXPECT_EQ(firsts[1], 500) << config::to_string(s);
      EXPECT_EQ(firsts[3], 500) << config::to_string(s);
    } else {
      // Target 3 is less busy, faster and cheaper than target 1.
      EXPECT_EQ(firsts[3], 1000) << config::to_string(s);
    }
  }
}

TEST(Balancer, RegionGroupsAreOrderedByStrategyInternally) {
  std::mt19937_64 rng(18);
  Balancer b(Strategy::least_cost, 4);
  auto cands = weighted({1, 1, 1, 1});
  const double cost[] = {4, 3, 2, 1};
  for (std::size_t i = 0; i < 4; ++i) {
    cands[i].cost = cost[i];
  }
  cands[0].region_preferred = true;
  cands[2].region_preferred = true;
  EXPECT_EQ(b.order(cands, rng), (std::vector<std::size_t>{2, 0, 3, 1}));
}

TEST(Balancer, ConcurrentCallsReturnPermutations) {
  for (Strategy s : kAllStrategies) {
    Balancer b(s, 3);
    auto cands = weighted({90, 10, 5});
    cands[0].inflight = 3;
    cands[1].ewma_ttft_ms = 20;
    cands[2].cost = 0.5;
    bool ok[2] = {true, true};
    auto work = [&](int t) {
      std::mt19937_64 rng(100 + static_cast<unsigned>(t));  // one generator per worker
      for (int i = 0; i < 5000; ++i) {
        auto order = b.order(cands, rng);
        if (!is_permutation_of(order, cands)) {
          ok[t] = false;  // gtest assertions are not meant for worker threads
          return;
        }
      }
    };
    std::thread t0(work, 0);
    std::thread t1(work, 1);
    t0.join();
    t1.join();
    EXPECT_TRUE(ok[0] && ok[1]) << config::to_string(s);
  }
}

TEST(Balancer, ConcurrentWeightedSharesStayExact) {
  // The WRR steps are serialised, so the combined picks are exact whatever the interleaving.
  Balancer b(Strategy::weighted, 2);
  const auto cands = weighted({90, 10});
  int counts[2][2] = {{0, 0}, {0, 0}};
  auto work = [&](int t) {
    std::mt19937_64 rng(200 + static_cast<unsigned>(t));
    for (int i = 0; i < 5000; ++i) {
      ++counts[t][b.order(cands, rng).front()];
    }
  };
  std::thread t0(work, 0);
  std::thread t1(work, 1);
  t0.join();
  t1.join();
  EXPECT_EQ(counts[0][0] + counts[1][0], 9000);
  EXPECT_EQ(counts[0][1] + counts[1][1], 1000);
}

}  // namespace
}  // namespace llmgw::router
