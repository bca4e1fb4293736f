#pragma once
// Where the response cache keeps its answers. The cache stage (src/cache/cache_stage.cpp) knows
// only this interface: the in-memory LRU (memory_store.hpp) is one implementation, the
// Redis-backed one shared by several gateway instances (redis_store.hpp) another.
//
// An entry is a canonical answer (an OpenAI chat.completion, text_completion or embeddings
// body, as the router hands it to the faces) under the sha256 of its normalised request
// (key.hpp). Freshness is the store's business, on its own clock: an entry is fresh for its
// ttl, then stale (kept for serve_stale_on_outage, never served otherwise) until `max_stale`
// or eviction drop it.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace llmgw::cache {

struct Found {
  std::shared_ptr<const std::string> answer;  // the canonical body, shared (never copied)
  bool stale = false;                         // its ttl has passed
};

/// What a store holds, for the gauges.
struct StoreSize {
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;
};

class CacheStore {
public:
  virtual ~CacheStore() = default;
  /// "memory", "redis": for logs and metric labels.
  virtual std::string_view kind() const = 0;
  /// The entry under `key`, fresh or stale; nullopt when there is none (or the store failed:
  /// a cache that cannot answer is a miss, never an error of the request).
  virtual boost::asio::awaitable<std::optional<Found>> get(std::string key) = 0;
  /// Stores `answer` under `key`, fresh for `ttl`. Failures are the store's to log.
  virtual boost::asio::awaitable<void> put(std::string key, std::string answer,
                                           std::chrono::milliseconds ttl) = 0;
  /// What it holds; nullopt when it cannot say cheaply (Redis: other instances write too).
  virtual std::optional<StoreSize> size() const { return std::nullopt; }
};

}  // namespace llmgw::cache
