#pragma once
// The schedule spread shared by the health checkers (active checks, semantic probes).
#include <algorithm>
#include <chrono>
#include <random>

namespace llmgw::health {

/// `base` ±10%, at least 1 ms: many providers (or many gateways) do not check in lockstep.
inline std::chrono::milliseconds jittered(std::chrono::milliseconds base, std::mt19937_64& rng) {
  auto spread = std::max<long long>(1, base.count() / 10);
  std::uniform_int_distribution<long long> d(-spread, spread);
  return std::chrono::milliseconds(std::max<long long>(1, base.count() + d(rng)));
}

}  // namespace llmgw::health
