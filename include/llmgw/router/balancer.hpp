#pragma once
// Load-balancing strategies (SPEC models[].strategy). Pure ordering logic, no I/O: given the
// routable targets of one model with their live figures, return the order to try them in.
// One Balancer per model per config snapshot, shared by all workers; thread safe.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <random>
#include <span>
#include <vector>

#include "llmgw/config/config.hpp"

namespace llmgw::router {

struct BalanceCandidate {
  std::size_t index = 0;  // the caller's position of this target (returned in the order)
  unsigned weight = 1;
  std::int64_t inflight = 0;
  double ewma_ttft_ms = 0;  // 0 = no sample yet (treated as promising, so it gets explored)
  double cost = 0;          // estimated price of this request on this target
  bool region_preferred = false;
  bool degraded = false;  // ignored here: the plan puts degraded targets last after ordering
};

class Balancer {
public:
  Balancer(config::Strategy strategy, std::size_t target_count);

  /// The order in which to try `candidates` (the routable targets, in config order). Every
  /// candidate's index appears exactly once. Targets with region_preferred come first, the
  /// strategy orders within each group:
  ///  - priority: config order.
  ///  - weighted: smooth weighted round robin (nginx's algorithm) picks the first; the rest
  ///    follow by descending weight.
  ///  - round_robin: rotates the starting point on every call.
  ///  - least_busy: power of two random choices on in-flight count picks the first; the rest by
  ///    ascending in-flight.
  ///  - least_latency: power of two choices on ewma_ttft_ms (no sample = 0 = best); rest
  ///    ascending.
  ///  - least_cost: ascending cost, ties broken by config order.
  std::vector<std::size_t> order(std::span<const BalanceCandidate> candidates,
                                 std::mt19937_64& rng);
  /// The order the next call of order() would give, without moving the round-robin cursor or
  /// the weights (the admin view asks often and must not steer traffic). Where order() draws
  /// two random candidates (least_busy, least_latency), the best one comes first.
  std::vector<std::size_t> peek(std::span<const BalanceCandidate> candidates);

  config::Strategy strategy() const { return strategy_; }

private:
  // rng null: peek (no state moves, no draw).
  std::vector<std::size_t> arrange(std::span<const BalanceCandidate> candidates,
                                   std::mt19937_64* rng);

  config::Strategy strategy_;
  std::mutex mutex_;                 // smooth WRR and round-robin state
  std::vector<std::int64_t> current_;  // smooth WRR current weights, by candidate index
  std::uint64_t next_ = 0;            // round robin cursor
};

}  // namespace llmgw::router
