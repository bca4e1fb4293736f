#include "llmgw/limits/budget.hpp"

#include <algorithm>
#include <cstdio>

namespace llmgw::limits {

Periods periods_at(WallTime t) {
  using namespace std::chrono;
  const auto today = floor<days>(t);
  const year_month_day ymd{today};
  const auto next_month = ymd.year() / ymd.month() + months{1};
  Periods p;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d%02u%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  p.day = buf;
  p.month = p.day.substr(0, 6);
  p.day_end = today + days{1};
  p.month_end = sys_days{next_month / 1};
  return p;
}

std::string_view to_string(BudgetPeriod p) {
  switch (p) {
    case BudgetPeriod::none:
      return "none";
    case BudgetPeriod::day:
      return "day";
    case BudgetPeriod::month:
      return "month";
  }
  return "?";
}

BudgetCheck check_budget(const config::KeyBudget& b, double spent_day, double spent_month,
                         double held, const Periods& p) {
  BudgetCheck c;
  if (b.usd_per_day > 0 && spent_day + held >= b.usd_per_day) {
    c = {BudgetPeriod::day, spent_day + held, b.usd_per_day, p.day_end};
  } else if (b.usd_per_month > 0 && spent_month + held >= b.usd_per_month) {
    c = {BudgetPeriod::month, spent_month + held, b.usd_per_month, p.month_end};
  }
  return c;
}

BudgetLedger::Account& BudgetLedger::account(const std::string& key, const Periods& p) {
  auto& a = by_key_[key];
  if (a.day != p.day) {
    a.day = p.day;
    a.day_spent = 0;
  }
  if (a.month != p.month) {
    a.month = p.month;
    a.month_spent = 0;
  }
  return a;
}

BudgetCheck BudgetLedger::reserve(const config::KeyConfig& key, double usd, WallTime now) {
  if (!key.budget) {
    return {};
  }
  const auto p = periods_at(now);
  std::lock_guard lock(mu_);
  auto& a = account(key.name, p);
  auto c = check_budget(*key.budget, a.day_spent, a.month_spent, a.held, p);
  if (c.exceeded == BudgetPeriod::none) {
    a.held += usd;
  }
  return c;
}

void BudgetLedger::settle(const config::KeyConfig& key, double held, double cost, WallTime now) {
  const auto p = periods_at(now);
  std::lock_guard lock(mu_);
  auto& a = account(key.name, p);
  a.held = std::max(0.0, a.held - held);
  a.day_spent += cost;
  a.month_spent += cost;
}

std::pair<double, double> BudgetLedger::spent(const std::string& key, WallTime now) {
  const auto p = periods_at(now);
  std::lock_guard lock(mu_);
  auto& a = account(key, p);
  return {a.day_spent, a.month_spent};
}

}  // namespace llmgw::limits
