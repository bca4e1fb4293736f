// The in-memory LRU response cache (memory_store.hpp).
#include "llmgw/cache/memory_store.hpp"

namespace llmgw::cache {

MemoryStore::MemoryStore(MemoryLimits limits, const common::Clock& clock)
    : limits_(limits), clock_(clock) {}

std::uint64_t MemoryStore::entry_bytes(std::size_t key, std::size_t answer) {
  // The key (the index holds a view of it), the answer, and a
  // rough figure for the list node, the index slot and the shared_ptr control block.
  return key + answer + 128;
}

boost::asio::awaitable<std::optional<Found>> MemoryStore::get(std::string key) {
  co_return lookup(key);
}

boost::asio::awaitable<void> MemoryStore::put(std::string key, std::string answer,
                                              std::chrono::milliseconds ttl) {
  insert(std::move(key), std::move(answer), ttl);
  co_return;
}

std::optional<Found> MemoryStore::lookup(const std::string& key) {
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  auto found = index_.find(key);
  if (found == index_.end()) {
    return std::nullopt;
  }
  auto it = found->second;
  if (now >= it->keep_until) {
    erase(it);  // too old even to be served stale
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it);
  return Found{it->answer, now >= it->fresh_until};
}

void MemoryStore::insert(std::string key, std::string answer, std::chrono::milliseconds ttl) {
  const auto now = clock_.now();
  const auto bytes = entry_bytes(key.size(), answer.size());
  if (bytes > limits_.max_bytes) {
    return;  // would evict everything and still not fit
  }
  auto shared = std::make_shared<const std::string>(std::move(answer));
  std::lock_guard lock(mu_);
  if (auto found = index_.find(key); found != index_.end()) {
    erase(found->second);
  }
  lru_.push_front(Entry{std::move(key), std::move(shared), now + ttl,
                        now + ttl + limits_.max_stale, bytes});
  index_.emplace(std::string_view(lru_.front().key), lru_.begin());
  bytes_ += bytes;
  evict();
}

void MemoryStore::erase(List::iterator it) {
  bytes_ -= it->bytes;
  index_.erase(std::string_view(it->key));
  lru_.erase(it);
}

void MemoryStore::evict() {
  while (!lru_.empty() && (bytes_ > limits_.max_bytes || lru_.size() > limits_.max_entries)) {
    erase(std::prev(lru_.end()));
  }
}

std::optional<StoreSize> MemoryStore::size() const {
  std::lock_guard lock(mu_);
  return StoreSize{lru_.size(), bytes_};
}

std::uint64_t MemoryStore::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

std::uint64_t MemoryStore::entries() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace llmgw::cache
