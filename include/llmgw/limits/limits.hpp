#pragma once
// Rate limits and budgets of a key, on this instance or shared by every instance on Redis
// (state.backend). One admission per request — on Redis one script, one round trip — takes a
// request and the token estimate from the key's buckets and holds the request's cost
// reservation against its budget; one settlement after the answer replaces the estimates with
// the provider's usage and the real cost. While Redis cannot be reached, state.on_unavailable
// decides per feature: limits fall back to this instance's buckets or refuse; budgets refuse
// (503 state_unavailable) or admit without a check. Outages and recoveries are reported to a
// state::Availability (one metric step and log line per change), never logged from here.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "llmgw/common/clock.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/limits/budget.hpp"
#include "llmgw/limits/rate_limiter.hpp"

namespace llmgw::state {
class Availability;
}

namespace llmgw::limits {

class SharedLimits;  // src/limits/shared_limits.hpp: the Redis scripts

enum class Refusal { none, requests, tokens, budget, unavailable };

struct AdmitInput {
  const config::KeyConfig& key;
  double tokens = 0;  // the request's token estimate
  double usd = 0;     // its cost reservation (budgeted keys)
  std::string_view request_id;
};

struct Decision {
  Refusal refused = Refusal::none;
  std::chrono::milliseconds retry_after{0};
  std::optional<Window> requests;  // for the x-ratelimit-* headers
  std::optional<Window> tokens;
  BudgetCheck budget;            // refused == budget: which period, how much, when it resets
  std::string_view unavailable;  // refused == unavailable: the feature ("limits", "budgets")
};

/// What an admission holds for its request until settle().
struct Ticket {
  enum class Where { none, local, shared };
  Where limits = Where::none;  // whose buckets took the tokens
  Where budget = Where::none;  // whose ledger holds the reservation
  double tokens = 0;
  double usd = 0;
  std::string member;  // the reservation's name in the shared state
  boost::asio::any_io_executor executor;  // the worker the shared settlement runs on
  std::shared_ptr<SharedLimits> shared;
  bool active() const { return limits != Where::none || budget != Where::none; }
};

using WallClock = std::function<WallTime()>;

class Limits {
public:
  Limits();
  ~Limits();
  Limits(const Limits&) = delete;
  Limits& operator=(const Limits&) = delete;

  /// Control thread, at start and on reload: a change of state.backend or its URL starts
  /// a new shared backend; on_unavailable applies at once.
  std::optional<std::string> configure(const config::StateConfig& cfg);
  /// Tests: simulated time for the local buckets and the budget periods.
  void set_clocks(const common::Clock* steady, WallClock wall);
  void set_availability(state::Availability* availability) { availability_ = availability; }

  /// On a worker coroutine. `ticket` receives what is held.
  boost::asio::awaitable<Decision> admit(const AdmitInput& in, Ticket& ticket);
  /// After the answer (any thread of the request's worker): `tokens` and `cost` as the
  /// provider counted them (0 when no provider answered). On Redis it runs detached.
  void settle(const config::KeyConfig& key, const Ticket& ticket, double tokens, double cost);

  /// Settlements on their way to the shared state, process-wide (the drain waits for them).
  static int pending();
  /// Drops the shared backend while the workers' io_contexts still exist.
  void shutdown();

  /// This instance's own ledgers (also what limits fall back to while Redis is away).
  RateLimiter& local_rate() { return rate_; }
  BudgetLedger& local_budget() { return budget_; }

private:
  Decision admit_local(const AdmitInput& in, Ticket& ticket, bool rate, bool budget);
  std::shared_ptr<SharedLimits> shared() const;
  TimePoint steady_now() const;
  WallTime wall_now() const;

  RateLimiter rate_;
  BudgetLedger budget_;
  const common::Clock* steady_ = nullptr;
  WallClock wall_;
  state::Availability* availability_ = nullptr;

  mutable std::mutex mu_;  // guards what configure() swaps
  std::shared_ptr<SharedLimits> shared_;
  std::string shared_url_;
  config::OnUnavailableConfig on_unavailable_;
};

}  // namespace llmgw::limits
