#pragma once
// The recent requests that user feedback (POST /v1/feedback) may rate: request id → the
// provider that served it, the client-visible model and the key that asked. Bounded (the
// oldest are forgotten first) and shared by every worker. Only requests whose rating would
// change something are remembered (their provider watches its answers, or their model has a
// canary judged by feedback), so the index costs nothing where feedback means nothing.
#include <array>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace llmgw::feedback {

struct RecentRequest {
  std::string provider;
  std::string model;  // client-visible
  std::string key;    // the key's name; empty when auth is off
};

class RecentRequests {
public:
  static constexpr std::size_t kDefaultCapacity = 65'536;
  explicit RecentRequests(std::size_t capacity = kDefaultCapacity);

  /// Remembers a served request; a repeated id replaces the earlier one.
  void remember(std::string_view request_id, RecentRequest request);
  std::optional<RecentRequest> find(std::string_view request_id) const;
  std::size_t size() const;

private:
  // Sharded by id hash so workers seldom wait for each other.
  static constexpr std::size_t kShards = 16;
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, RecentRequest> by_id;
    std::deque<std::string> order;  // oldest first
  };
  Shard& shard_of(std::string_view id) const;

  std::size_t per_shard_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace llmgw::feedback
