#include "session/locks.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <deque>

namespace llmgw::session {

namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// A waiter is shared with the lock table: the releasing thread posts the wake-up to the
// waiter's executor while the waiter may already be timing out, so neither may own it alone.
struct SessionLocks::Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool granted = false;  // guarded by SessionLocks::mu_
};

struct SessionLocks::Entry {
  std::deque<std::shared_ptr<Waiter>> waiters;
};

class SessionLocks::Held final : public Lease {
public:
  Held(SessionLocks& locks, std::string id) : locks_(locks), id_(std::move(id)) {}
  ~Held() override { locks_.release(id_); }

private:
  SessionLocks& locks_;
  std::string id_;
};

asio::awaitable<std::unique_ptr<Lease>> SessionLocks::acquire(std::string id,
                                                              std::chrono::milliseconds wait) {
  auto ex = co_await asio::this_coro::executor;
  std::shared_ptr<Waiter> me;
  {
    std::lock_guard lock(mu_);
    auto& entry = entries_[id];
    if (!entry) {
      entry = std::make_shared<Entry>();  // held, nobody waiting
      co_return std::make_unique<Held>(*this, std::move(id));
    }
    if (wait.count() <= 0) {
      co_return nullptr;
    }
    me = std::make_shared<Waiter>(ex);
    me->timer.expires_after(wait);
    entry->waiters.push_back(me);
  }
  // Woken by cancel (granted) or by the deadline (maybe granted just before it).
  auto waited = co_await me->timer.async_wait(use_tuple);
  (void)waited;
  {
    std::lock_guard lock(mu_);
    if (!me->granted) {
      auto it = entries_.find(id);
      if (it != entries_.end()) {
        auto& q = it->second->waiters;
        for (auto w = q.begin(); w != q.end(); ++w) {
          if (*w == me) {
            q.erase(w);
            break;
          }
        }
      }
      co_return nullptr;
    }
  }
  co_return std::make_unique<Held>(*this, std::move(id));
}

void SessionLocks::release(const std::string& id) {
  std::shared_ptr<Waiter> next;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      return;
    }
    auto& q = it->second->waiters;
    if (q.empty()) {
      entries_.erase(it);
      return;
    }
    next = std::move(q.front());
    q.pop_front();
    next->granted = true;  // the lease passes straight to it: nobody can jump the line
  }
  auto ex = next->timer.get_executor();
  asio::post(ex, [next] { next->timer.cancel(); });
}

std::size_t SessionLocks::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace llmgw::session
