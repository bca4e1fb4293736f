#pragma once
// The current value of something that is replaced whole (the config snapshot): readers take a
// shared_ptr and keep using it however long they need; the writer swaps in a new one.
// A mutex rather than std::atomic<std::shared_ptr>: libstdc++ 12 implements the latter with a
// lock bit ThreadSanitizer cannot see, and a copy under an uncontended mutex costs about the
// same (one per request).
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
    std::lock_guard lock(mutex_);
    value_.swap(next);
    // `next` (the old value) is released outside the lock.
  }

private:
  mutable std::mutex mutex_;
  std::shared_ptr<T> value_;
};

}  // namespace llmgw::common
