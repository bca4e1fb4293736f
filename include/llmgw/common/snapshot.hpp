#pragma once
// The current value of something that is replaced whole (the config snapshot): readers take a
// shared_ptr and keep using it however long they need; the writer swaps in a new one.
// A mutex rather than std::atomic<std::shared_ptr>: libstdc++ 12 implements the latter with a
// lock bit ThreadSanitizer cannot see. Hot readers (a worker per request) go through a
// SnapshotReader instead, which touches nothing shared until the value changes.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace llmgw::common {

template <class T>
class Snapshot {
public:
  std::shared_ptr<T> load() const {
    std::lock_guard lock(mutex_);
    return value_;
  }
  void store(std::shared_ptr<T> next) {
    {
      std::lock_guard lock(mutex_);
      value_.swap(next);
      generation_.fetch_add(1, std::memory_order_release);
    }
    // `next` (the old value) is released outside the lock.
  }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

private:
  mutable std::mutex mutex_;
  std::shared_ptr<T> value_;
  std::atomic<std::uint64_t> generation_{0};
};

// One thread's view of a Snapshot. get() costs one load of a counter that changes only on
// store(): two workers reading the snapshot per request took the snapshot's mutex and bumped one
// shared reference count each time (futex wake-ups and a cache line bouncing between cores).
// The pointers it hands out count references on a control block of this reader's own, which in
// turn holds the shared value: a request keeps its snapshot alive across a reload without
// touching anything another thread writes.
template <class T>
class SnapshotReader {
public:
  explicit SnapshotReader(const Snapshot<T>& source) : source_(source) {}
  const std::shared_ptr<T>& get() {
    auto now = source_.generation();
    if (now != generation_ || !local_) {
      auto shared = source_.load();
      T* raw = shared.get();
      local_ = std::shared_ptr<T>(std::make_shared<std::shared_ptr<T>>(std::move(shared)), raw);
      generation_ = now;
    }
    return local_;
  }

private:
  const Snapshot<T>& source_;
  std::shared_ptr<T> local_;
  std::uint64_t generation_ = 0;
};

}  // namespace llmgw::common
