// sessions.store: memory. One process's sessions in a hash map with an LRU list: a session
// expires `ttl` after its last use, and when the count or the bytes pass their caps the least
// recently used go first. Every operation is a short critical section; nothing waits.
#include <atomic>
#include <chrono>
#include <list>
#include <mutex>
#include <unordered_map>

#include "llmgw/session/store.hpp"
#include "session/locks.hpp"

namespace llmgw::session {
namespace {

namespace asio = boost::asio;

std::size_t bytes_of(const Session& s) {
  std::size_t n = s.summary.size() + 64;
  for (const auto& m : s.messages) {
    n += m.size() + 32;
  }
  return n;
}

class MemoryStore final : public SessionStore {
public:
  MemoryStore(MemoryStoreOptions options, WallClock clock) : opt_(options), clock_(clock) {}

  std::string_view kind() const override { return "memory"; }

  asio::awaitable<StoreResult<std::optional<Session>>> load(std::string id) override {
    std::optional<Session> found;
    {
      std::lock_guard lock(mu_);
      if (auto* e = live(id)) {
        found = e->session;
      }
    }
    co_return found;
  }

  asio::awaitable<StoreResult<bool>> append(std::string id, Append change) override {
    std::lock_guard lock(mu_);
    const auto now = clock_();
    auto* e = live(id);
    if (!e) {
      lru_.push_front(id);
      auto [it, inserted] = map_.try_emplace(id);
      (void)inserted;
      e = &it->second;
      e->lru = lru_.begin();
      e->session.meta.owner = change.meta.owner;
      e->session.meta.created_ms = change.meta.created_ms ? change.meta.created_ms : now;
    }
    bytes_ -= e->bytes;
    auto& s = e->session;
    const auto drop = std::min(change.drop_first, s.messages.size());
    s.messages.erase(s.messages.begin(), s.messages.begin() + static_cast<std::ptrdiff_t>(drop));
    for (auto& m : change.messages) {
      s.messages.push_back(std::move(m));
    }
    if (change.summary) {
      s.summary = std::move(*change.summary);
    }
    auto owner = std::move(s.meta.owner);
    auto created = s.meta.created_ms;
    s.meta = std::move(change.meta);
    s.meta.owner = std::move(owner);
    s.meta.created_ms = created;
    s.meta.last_used_ms = now;
    e->expires_ms = now + opt_.ttl.count();
    e->bytes = bytes_of(s);
    bytes_ += e->bytes;
    lru_.splice(lru_.begin(), lru_, e->lru);
    evict();
    co_return true;
  }

  asio::awaitable<StoreResult<bool>> remove(std::string id) override {
    std::lock_guard lock(mu_);
    auto* e = live(id);
    if (e) {
      erase(map_.find(id));
    }
    co_return e != nullptr;
  }

  asio::awaitable<StoreResult<std::unique_ptr<Lease>>> acquire(
      std::string id, std::chrono::milliseconds wait) override {
    auto lease = co_await locks_.acquire(std::move(id), wait);
    co_return std::move(lease);
  }

  std::uint64_t active() const override {
    std::lock_guard lock(mu_);
    return map_.size();
  }

private:
  struct Entry {
    Session session;
    std::int64_t expires_ms = 0;
    std::size_t bytes = 0;
    std::list<std::string>::iterator lru;
  };
  using Map = std::unordered_map<std::string, Entry>;

  // The live entry (touched as most recently used), or null; an expired one is dropped.
  Entry* live(const std::string& id) {
    auto it = map_.find(id);
    if (it == map_.end()) {
      return nullptr;
    }
    if (it->second.expires_ms <= clock_()) {
      erase(it);
      return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return &it->second;
  }

  void erase(Map::iterator it) {
    bytes_ -= it->second.bytes;
    lru_.erase(it->second.lru);
    map_.erase(it);
  }

  // Expired sessions at the cold end first, then whatever the caps still require.
  void evict() {
    const auto now = clock_();
    while (!lru_.empty()) {
      auto it = map_.find(lru_.back());
      const bool over = map_.size() > opt_.max_sessions || bytes_ > opt_.max_bytes;
      if (!over && it->second.expires_ms > now) {
        break;
      }
      if (map_.size() == 1 && it->second.expires_ms > now) {
        break;  // the one being written stays, even alone above the byte cap
      }
      erase(it);
    }
  }

  MemoryStoreOptions opt_;
  WallClock clock_;
  mutable std::mutex mu_;
  Map map_;
  std::list<std::string> lru_;  // front = most recently used
  std::size_t bytes_ = 0;
  SessionLocks locks_;
};

}  // namespace

namespace {
std::atomic<int> pending_writes{0};
}  // namespace

PendingWrite::PendingWrite() { pending_writes.fetch_add(1, std::memory_order_relaxed); }
PendingWrite::~PendingWrite() {
  if (armed_) {
    pending_writes.fetch_sub(1, std::memory_order_acq_rel);
  }
}
int PendingWrite::count() { return pending_writes.load(std::memory_order_acquire); }

std::int64_t system_wall_clock() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<SessionStore> make_memory_store(MemoryStoreOptions options, WallClock clock) {
  return std::make_unique<MemoryStore>(options, clock);
}

}  // namespace llmgw::session
