#pragma once
// Per-session serialisation inside one process: at most one request changes a session at a
// time; the others wait in line (a bounded wait) on their own executors. Waiters are woken
// across worker threads by cancelling their timer on their own executor, so nothing blocks.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "llmgw/session/store.hpp"

namespace llmgw::session {

class SessionLocks {
public:
  SessionLocks() = default;
  SessionLocks(const SessionLocks&) = delete;
  SessionLocks& operator=(const SessionLocks&) = delete;

  /// A lease on `id`, or null when it stayed busy for `wait`.
  boost::asio::awaitable<std::unique_ptr<Lease>> acquire(std::string id,
                                                         std::chrono::milliseconds wait);
  /// Sessions held or waited for (tests).
  std::size_t size() const;

private:
  struct Waiter;
  struct Entry;
  class Held;
  void release(const std::string& id);

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries_;
};

}  // namespace llmgw::session
