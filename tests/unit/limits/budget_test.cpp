// Budgets on this instance in simulated time: UTC periods and their ends, the check against
// spend plus what admitted requests hold, and the settlement of a hold into the real cost.
#include <gtest/gtest.h>

#include "llmgw/limits/budget.hpp"

namespace llmgw::limits {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

WallTime at(int y, unsigned m, unsigned d, hours h = 0h) {
  return sys_days{year{y} / month{m} / day{d}} + h;
}

config::KeyConfig budgeted(double per_day, double per_month) {
  config::KeyConfig k;
  k.name = "team-a";
  k.budget = config::KeyBudget{per_day, per_month};
  return k;
}

TEST(BudgetPeriods, AreUtcDaysAndCalendarMonths) {
  auto p = periods_at(at(2026, 12, 31, 23h) + 59min);
  EXPECT_EQ(p.day, "20261231");
  EXPECT_EQ(p.month, "202612");
  EXPECT_EQ(p.day_end, at(2027, 1, 1));
  EXPECT_EQ(p.month_end, at(2027, 1, 1));
  auto feb = periods_at(at(2028, 2, 29, 12h));  // a leap day
  EXPECT_EQ(feb.day, "20280229");
  EXPECT_EQ(feb.day_end, at(2028, 3, 1));
  EXPECT_EQ(feb.month_end, at(2028, 3, 1));
}

TEST(BudgetLedger, AdmitsUntilSpendPlusHoldsReachTheCap) {
  BudgetLedger ledger;
  auto key = budgeted(1.0, 0);
  const auto now = at(2026, 12, 6, 10h);
  // Three concurrent requests holding 0.4 each: the third sees 0.8 held, still under 1.0; the
  // fourth sees 1.2 and is refused although nothing was spent yet.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ledger.reserve(key, 0.4, now).exceeded, BudgetPeriod::none) << i;
  }
  auto refused = ledger.reserve(key, 0.4, now);
  EXPECT_EQ(refused.exceeded, BudgetPeriod::day);
  EXPECT_DOUBLE_EQ(refused.spent, 1.2);
  EXPECT_DOUBLE_EQ(refused.cap, 1.0);
  EXPECT_EQ(refused.resets_at, at(2026, 12, 7));
  // Two answers cost less than they held: their holds go, their costs stay.
  ledger.settle(key, 0.4, 0.1, now);
  ledger.settle(key, 0.4, 0.1, now);
  EXPECT_EQ(ledger.reserve(key, 0.4, now).exceeded, BudgetPeriod::none);  // 0.2 + 0.8 held
  EXPECT_EQ(ledger.reserve(key, 0.4, now).exceeded, BudgetPeriod::day);
  auto [day, month] = ledger.spent("team-a", now);
  EXPECT_DOUBLE_EQ(day, 0.2);
  EXPECT_DOUBLE_EQ(month, 0.2);
}

TEST(BudgetLedger, AnOverspentDayResetsAtUtcMidnightButTheMonthRemembers) {
  BudgetLedger ledger;
  auto key = budgeted(1.0, 1.5);
  const auto evening = at(2026, 12, 6, 23h);
  ASSERT_EQ(ledger.reserve(key, 0, evening).exceeded, BudgetPeriod::none);
  ledger.settle(key, 0, 1.2, evening);  // one request cost more than the day's cap
  EXPECT_EQ(ledger.reserve(key, 0, evening + 59min).exceeded, BudgetPeriod::day);
  const auto morning = at(2026, 12, 7, 0h) + 1s;
  ASSERT_EQ(ledger.reserve(key, 0, morning).exceeded, BudgetPeriod::none);
  ledger.settle(key, 0, 0.3, morning);
  auto month = ledger.reserve(key, 0, morning);
  EXPECT_EQ(month.exceeded, BudgetPeriod::month);
  EXPECT_DOUBLE_EQ(month.spent, 1.5);
  EXPECT_EQ(month.resets_at, at(2027, 1, 1));
  EXPECT_EQ(ledger.reserve(key, 0, at(2027, 1, 1, 1h)).exceeded, BudgetPeriod::none);
}

TEST(BudgetLedger, AKeyWithoutBudgetIsNeverRefused) {
  BudgetLedger ledger;
  config::KeyConfig k;
  k.name = "free";
  EXPECT_EQ(ledger.reserve(k, 1e9, at(2026, 1, 1)).exceeded, BudgetPeriod::none);
}

}  // namespace
}  // namespace llmgw::limits
