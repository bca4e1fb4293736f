#include "llmgw/router/balancer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmgw::router {

namespace {

using Candidates = std::vector<BalanceCandidate>;

// Latency key: no sample (0), and anything that is not a positive number, sorts first so that
// new or reset targets get explored; mapping NaN here also keeps the comparator a strict weak
// ordering, which std::stable_sort needs.
double latency_key(const BalanceCandidate& c) {
  return c.ewma_ttft_ms > 0 ? c.ewma_ttft_ms : 0.0;
}

// Cost key: an unknown (NaN) price sorts last rather than breaking the sort.
double cost_key(const BalanceCandidate& c) {
  return std::isnan(c.cost) ? std::numeric_limits<double>::infinity() : c.cost;
}

// Power of two random choices: sample two distinct candidates, the one with the lower key goes
// first (ties: lower index); the rest follow by ascending key, ties in config order. P2C rather
// than "global minimum" because every worker sees the same slightly stale figures and would
// otherwise herd onto the same target.
// Without an engine (peek), every candidate is in the draw: the best goes first.
template <typename Key>
void power_of_two(Candidates& group, std::mt19937_64* rng, Key key) {
  const auto by_key = [&](const BalanceCandidate& a, const BalanceCandidate& b) {
    return key(a) < key(b);
  };
  if (group.size() < 2) {
    return;
  }
  if (!rng) {
    std::stable_sort(group.begin(), group.end(), by_key);
    return;
  }
  std::uniform_int_distribution<std::size_t> first(0, group.size() - 1);
  std::uniform_int_distribution<std::size_t> second(0, group.size() - 2);
  const std::size_t i = first(*rng);
  std::size_t j = second(*rng);
  if (j >= i) {
    ++j;  // distinct from i, still uniform over the others
  }
  const auto& a = group[i];
  const auto& b = group[j];
  std::size_t winner = i;
  if (key(b) < key(a) || (!(key(a) < key(b)) && b.index < a.index)) {
    winner = j;
  }
  std::rotate(group.begin(), group.begin() + static_cast<std::ptrdiff_t>(winner),
              group.begin() + static_cast<std::ptrdiff_t>(winner) + 1);
  std::stable_sort(group.begin() + 1, group.end(), by_key);
}

void by_descending_weight(Candidates::iterator begin, Candidates::iterator end) {
  std::stable_sort(begin, end, [](const BalanceCandidate& a, const BalanceCandidate& b) {
    return a.weight > b.weight;
  });
}

}  // namespace

Balancer::Balancer(config::Strategy strategy, std::size_t target_count)
    : strategy_(strategy), current_(target_count, 0) {}

std::vector<std::size_t> Balancer::order(std::span<const BalanceCandidate> candidates,
                                         std::mt19937_64& rng) {
  return arrange(candidates, &rng);
}

std::vector<std::size_t> Balancer::peek(std::span<const BalanceCandidate> candidates) {
  return arrange(candidates, nullptr);
}

std::vector<std::size_t> Balancer::arrange(std::span<const BalanceCandidate> candidates,
                                           std::mt19937_64* rng) {
  const bool advance = rng != nullptr;
  std::vector<std::size_t> out;
  out.reserve(candidates.size());
  if (candidates.empty()) {
    return out;
  }
  if (candidates.size() == 1) {
    // Nothing to choose; skip the lock and leave the WRR/round-robin state untouched.
    out.push_back(candidates.front().index);
    return out;
  }

  Candidates all(candidates.begin(), candidates.end());
  const auto split = std::stable_partition(
      all.begin(), all.end(), [](const BalanceCandidate& c) { return c.region_preferred; });
  // Each region group is ordered on its own by the full strategy, so that failover out of the
  // preferred region is spread the same way as normal traffic.
  Candidates preferred(all.begin(), split);
  Candidates others(split, all.end());

  switch (strategy_) {
    case config::Strategy::priority:
      break;
    case config::Strategy::weighted: {
      // One smooth WRR step per non-empty group. The step only touches the candidates present
      // in this call (as nginx skips down peers); absent ones keep their current weight, which
      // stays bounded, so a returning target neither starves nor bursts.
      std::lock_guard lock(mutex_);
      // A peek steps a copy of the weights.
      std::vector<std::int64_t> scratch;
      if (!advance) {
        scratch = current_;
      }
      auto& current = advance ? current_ : scratch;
      for (Candidates* group : {&preferred, &others}) {
        if (group->size() < 2) {
          continue;
        }
        std::int64_t total = 0;
        std::size_t best = 0;
        for (std::size_t k = 0; k < group->size(); ++k) {
          const auto& c = (*group)[k];
          if (c.index >= current.size()) {
            current.resize(c.index + 1, 0);
          }
          const auto w = static_cast<std::int64_t>(c.weight);
          total += w;
          current[c.index] += w;
          // Strictly greater: ties go to the earlier candidate in config order.
          if (current[c.index] > current[(*group)[best].index]) {
            best = k;
          }
        }
        current[(*group)[best].index] -= total;
        std::rotate(group->begin(), group->begin() + static_cast<std::ptrdiff_t>(best),
                    group->begin() + static_cast<std::ptrdiff_t>(best) + 1);
        by_descending_weight(group->begin() + 1, group->end());
      }
      break;
    }
    case config::Strategy::round_robin: {
      std::uint64_t cursor = 0;
      {
        std::lock_guard lock(mutex_);
        cursor = advance ? next_++ : next_;
      }
      // One cursor step per call, shared by both groups: each group's start rotates evenly.
      for (Candidates* group : {&preferred, &others}) {
        if (group->size() < 2) {
          continue;
        }
        const auto shift = static_cast<std::ptrdiff_t>(cursor % group->size());
        std::rotate(group->begin(), group->begin() + shift, group->end());
      }
      break;
    }
    case config::Strategy::least_busy:
      for (Candidates* group : {&preferred, &others}) {
        power_of_two(*group, rng, [](const BalanceCandidate& c) { return c.inflight; });
      }
      break;
    case config::Strategy::least_latency:
      for (Candidates* group : {&preferred, &others}) {
        power_of_two(*group, rng, latency_key);
      }
      break;
    case config::Strategy::least_cost:
      for (Candidates* group : {&preferred, &others}) {
        std::stable_sort(group->begin(), group->end(),
                         [](const BalanceCandidate& a, const BalanceCandidate& b) {
                           return cost_key(a) < cost_key(b);
                         });
      }
      break;
  }

  for (const auto& c : preferred) {
    out.push_back(c.index);
  }
  for (const auto& c : others) {
    out.push_back(c.index);
  }
  return out;
}

}  // namespace llmgw::router
