#pragma once
// Spend caps per key (keys[].budget: usd_per_day, usd_per_month) on this instance. Periods are
// UTC calendar days and months. A request is admitted while what the period spent plus what
// admitted requests still hold (their cost reservations) is under the cap; after the answer its
// reservation becomes its real cost. So concurrent requests cannot all pass the same check: the
// cap is overshot by at most the last admitted request's cost (and by what a request costs
// beyond its reservation). The time is an argument: tests run in simulated time.
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "llmgw/config/config.hpp"

namespace llmgw::limits {

using WallTime = std::chrono::system_clock::time_point;

/// The budget periods a moment falls in, and when they end.
struct Periods {
  std::string day;    // "20261206" (UTC)
  std::string month;  // "202612"
  WallTime day_end;
  WallTime month_end;
};
Periods periods_at(WallTime t);

enum class BudgetPeriod { none, day, month };
std::string_view to_string(BudgetPeriod p);

struct BudgetCheck {
  BudgetPeriod exceeded = BudgetPeriod::none;
  double spent = 0;  // of the exceeded period (what was spent plus what is held)
  double cap = 0;
  WallTime resets_at{};
};

/// Which cap (day first) `spent_day` / `spent_month` plus `held` reaches, if any.
BudgetCheck check_budget(const config::KeyBudget& b, double spent_day, double spent_month,
                         double held, const Periods& p);

class BudgetLedger {
public:
  /// Checks the key's caps; when under them, holds `usd` for the request.
  BudgetCheck reserve(const config::KeyConfig& key, double usd, WallTime now);
  /// After the answer: releases the `held` reservation and spends `cost` in the periods of
  /// `now`.
  void settle(const config::KeyConfig& key, double held, double cost, WallTime now);
  /// What the key spent in the periods of `now` (tests, status).
  std::pair<double, double> spent(const std::string& key, WallTime now);

private:
  struct Account {
    std::string day, month;  // the periods the sums are for
    double day_spent = 0;
    double month_spent = 0;
    double held = 0;
  };
  Account& account(const std::string& key, const Periods& p);

  std::mutex mu_;
  std::unordered_map<std::string, Account> by_key_;
};

}  // namespace llmgw::limits
