#pragma once
// The in-memory response cache: an LRU bounded by bytes and by entries, on an injected clock
// (unit tests move a ManualClock). Shared by every worker: one mutex, held for a map lookup and
// a list splice (no I/O, no allocation of the answer: entries are shared, never copied).
#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>

#include "llmgw/cache/store.hpp"
#include "llmgw/common/clock.hpp"

namespace llmgw::cache {

struct MemoryLimits {
  std::uint64_t max_bytes = 64ull << 20;
  std::uint64_t max_entries = 100000;
  std::chrono::milliseconds max_stale{std::chrono::hours(24)};
};

class MemoryStore final : public CacheStore {
public:
  explicit MemoryStore(MemoryLimits limits,
                       const common::Clock& clock = common::SteadyClock::instance());

  std::string_view kind() const override { return "memory"; }
  boost::asio::awaitable<std::optional<Found>> get(std::string key) override;
  boost::asio::awaitable<void> put(std::string key, std::string answer,
                                   std::chrono::milliseconds ttl) override;

  /// The same, synchronous (what get/put do; for tests and for callers off a coroutine).
  std::optional<Found> lookup(const std::string& key);
  void insert(std::string key, std::string answer, std::chrono::milliseconds ttl);

  std::optional<StoreSize> size() const override;
  std::uint64_t bytes() const;
  std::uint64_t entries() const;
  /// What one entry counts against max_bytes: its key, its answer and the bookkeeping.
  static std::uint64_t entry_bytes(std::size_t key, std::size_t answer);

private:
  struct Entry {
    std::string key;
    std::shared_ptr<const std::string> answer;
    common::Clock::time_point fresh_until;
    common::Clock::time_point keep_until;  // fresh_until + max_stale
    std::uint64_t bytes = 0;
  };
  using List = std::list<Entry>;  // most recently used first

  void erase(List::iterator it);  // with mu_ held
  void evict();                   // with mu_ held

  MemoryLimits limits_;
  const common::Clock& clock_;
  mutable std::mutex mu_;
  List lru_;
  std::unordered_map<std::string_view, List::iterator> index_;  // views into Entry::key
  std::uint64_t bytes_ = 0;
};

}  // namespace llmgw::cache
