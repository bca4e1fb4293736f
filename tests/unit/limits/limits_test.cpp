// limits::Limits: this instance's buckets and ledger behind one admission, and the shared
// backend — the Lua scripts on a real redis-server (tests/unit/state/redis_server.hpp), with
// two Limits objects standing for two gateway instances: exact counts across both, budget
// holds seen by both, settlement, a Redis that forgot its scripts, and state.on_unavailable
// while Redis is down (one availability event per change).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>
#include <stdexcept>
#include <vector>

#include "llmgw/common/clock.hpp"
#include "llmgw/limits/limits.hpp"
#include "llmgw/state/availability.hpp"
#include "llmgw/state/redis.hpp"
#include "unit/state/redis_server.hpp"

namespace llmgw::limits {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

template <class Done>
bool run_until(asio::io_context& io, Done done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    io.restart();
    io.run_for(5ms);
  }
  return true;
}

Decision admit(asio::io_context& io, Limits& limits, const AdmitInput& in, Ticket& ticket) {
  std::optional<Decision> out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto d = co_await limits.admit(in, ticket);
        out.emplace(std::move(d));
      },
      asio::detached);
  if (!run_until(io, [&] { return out.has_value(); })) {
    throw std::runtime_error("no admission within 10 s");
  }
  return std::move(*out);
}

config::KeyConfig key_with(std::optional<std::uint64_t> rpm, std::optional<std::uint64_t> tpm,
                           double usd_per_day = 0) {
  config::KeyConfig k;
  k.name = "team-a";
  k.rate_limit.rpm = rpm;
  k.rate_limit.tpm = tpm;
  if (usd_per_day > 0) {
    k.budget = config::KeyBudget{usd_per_day, 0};
  }
  return k;
}

config::StateConfig redis_state(std::uint16_t port) {
  config::StateConfig s;
  s.backend = config::StateBackend::redis;
  s.redis_url = "redis://127.0.0.1:" + std::to_string(port) + "/0";
  return s;
}

class Events {
public:
  explicit Events(state::Availability& a) {
    a.set_sink([this](const state::AvailabilityEvent& e) {
      log.push_back(std::string(state::to_string(e.feature)) + (e.available ? ":up" : ":down"));
    });
  }
  std::vector<std::string> log;
};

TEST(LimitsLocal, BudgetRefusalTakesNoRequestAndSettlementSpends) {
  common::ManualClock clock;
  auto wall = std::chrono::sys_days{std::chrono::year{2026} / 12 / 6} + 12h;
  Limits limits;
  limits.set_clocks(&clock, [&] { return wall; });
  asio::io_context io;
  auto key = key_with(2, std::nullopt, 0.01);
  Ticket t1;
  auto d1 = admit(io, limits, {key, 10, 0.006, "r1"}, t1);
  EXPECT_EQ(d1.refused, Refusal::none);
  ASSERT_TRUE(d1.requests);
  EXPECT_EQ(d1.requests->remaining, 1u);
  EXPECT_EQ(t1.budget, Ticket::Where::local);
  Ticket t2;
  auto d2 = admit(io, limits, {key, 10, 0.006, "r2"}, t2);  // 0.006 held < 0.01
  EXPECT_EQ(d2.refused, Refusal::none);
  Ticket t3;
  auto d3 = admit(io, limits, {key, 10, 0.006, "r3"}, t3);  // 0.012 held
  EXPECT_EQ(d3.refused, Refusal::budget);
  EXPECT_EQ(d3.budget.exceeded, BudgetPeriod::day);
  EXPECT_FALSE(t3.active());
  limits.settle(key, t1, 12, 0.001);
  limits.settle(key, t2, 12, 0.001);
  EXPECT_DOUBLE_EQ(limits.local_budget().spent("team-a", wall).first, 0.002);
  // The budget refusal spent no request; two requests did: the bucket is empty now.
  Ticket t4;
  auto d4 = admit(io, limits, {key, 10, 0.006, "r4"}, t4);
  EXPECT_EQ(d4.refused, Refusal::requests);
  EXPECT_EQ(d4.retry_after, 30000ms);
  // A rate refusal gives the budget hold back.
  clock.advance(60s);
  Ticket t5;
  EXPECT_EQ(admit(io, limits, {key, 10, 0.006, "r5"}, t5).refused, Refusal::none);
}

class LimitsShared : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (testing::RedisServer::binary().empty()) {
      return;
    }
    server_ = new testing::RedisServer();
    if (!server_->start()) {
      delete server_;
      server_ = nullptr;
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (!server_) {
      GTEST_SKIP() << "no redis-server on PATH";
    }
    // Each test its own key name, so the suite can share one server.
    static int n = 0;
    name_ = "key-" + std::to_string(++n);
  }
  config::KeyConfig key(std::optional<std::uint64_t> rpm, std::optional<std::uint64_t> tpm,
                        double usd_per_day = 0) {
    auto k = key_with(rpm, tpm, usd_per_day);
    k.name = name_;
    return k;
  }
  static testing::RedisServer* server_;
  std::string name_;
};
testing::RedisServer* LimitsShared::server_ = nullptr;

TEST_F(LimitsShared, TwoInstancesShareOneExactRequestBucket) {
  asio::io_context io;
  Limits a, b;
  ASSERT_FALSE(a.configure(redis_state(server_->port())));
  ASSERT_FALSE(b.configure(redis_state(server_->port())));
  auto k = key(10, std::nullopt);
  // Twenty concurrent admissions, alternating instances: exactly ten pass.
  int allowed = 0, refused = 0, answered = 0;
  std::vector<Ticket> tickets(20);
  for (int i = 0; i < 20; ++i) {
    Limits& l = i % 2 ? a : b;
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          AdmitInput in{k, 0, 0, "r" + std::to_string(i)};
          auto d = co_await l.admit(in, tickets[static_cast<std::size_t>(i)]);
          (d.refused == Refusal::none ? allowed : refused)++;
          if (d.refused == Refusal::requests) {
            EXPECT_GT(d.retry_after, 0ms);
            EXPECT_LE(d.retry_after, 6000ms);  // one request refills in 6 s
          }
          ++answered;
        },
        asio::detached);
  }
  ASSERT_TRUE(run_until(io, [&] { return answered == 20; }));
  EXPECT_EQ(allowed, 10);
  EXPECT_EQ(refused, 10);
  a.shutdown();
  b.shutdown();
  io.restart();
  io.poll();
}

TEST_F(LimitsShared, BudgetHoldsAreSeenByEveryInstanceAndSettleIntoSpend) {
  asio::io_context io;
  Limits a, b;
  ASSERT_FALSE(a.configure(redis_state(server_->port())));
  ASSERT_FALSE(b.configure(redis_state(server_->port())));
  auto k = key(std::nullopt, std::nullopt, 0.01);
  Ticket t1, t2, t3;
  EXPECT_EQ(admit(io, a, {k, 0, 0.006, "r1"}, t1).refused, Refusal::none);
  EXPECT_EQ(t1.budget, Ticket::Where::shared);
  EXPECT_EQ(admit(io, b, {k, 0, 0.006, "r2"}, t2).refused, Refusal::none);
  auto d3 = admit(io, b, {k, 0, 0.006, "r3"}, t3);  // a's and b's holds: 0.012
  EXPECT_EQ(d3.refused, Refusal::budget);
  EXPECT_EQ(d3.budget.exceeded, BudgetPeriod::day);
  EXPECT_NEAR(d3.budget.spent, 0.012, 1e-9);
  // The answers cost 0.002 each: the holds go, the spend is 0.004, and room is back.
  a.settle(k, t1, 0, 0.002);
  b.settle(k, t2, 0, 0.002);
  ASSERT_TRUE(run_until(io, [] { return Limits::pending() == 0; }));
  Ticket t4;
  EXPECT_EQ(admit(io, a, {k, 0, 0.005, "r4"}, t4).refused, Refusal::none);
  Ticket t5;
  auto d5 = admit(io, b, {k, 0, 0.005, "r5"}, t5);  // 0.004 + 0.005 held < 0.01
  EXPECT_EQ(d5.refused, Refusal::none);
  Ticket t6;
  auto d6 = admit(io, b, {k, 0, 0.001, "r6"}, t6);
  EXPECT_EQ(d6.refused, Refusal::budget);
  EXPECT_NEAR(d6.budget.spent, 0.014, 1e-9);
  a.shutdown();
  b.shutdown();
  io.restart();
  io.poll();
}

TEST_F(LimitsShared, TokensAreSettledAgainstUsageAndAForgottenScriptIsSentAgain) {
  asio::io_context io;
  Limits a;
  ASSERT_FALSE(a.configure(redis_state(server_->port())));
  auto k = key(std::nullopt, 1000);
  Ticket t1;
  auto d1 = admit(io, a, {k, 600, 0, "r1"}, t1);
  ASSERT_EQ(d1.refused, Refusal::none);
  ASSERT_TRUE(d1.tokens);
  EXPECT_EQ(d1.tokens->remaining, 400u);
  // The provider counted 100: 500 come back.
  a.settle(k, t1, 100, 0);
  ASSERT_TRUE(run_until(io, [] { return Limits::pending() == 0; }));
  // Redis restarted without its script cache: the next admission sends the script itself.
  {
    state::RedisPool pool(state::RedisOptions{"redis://127.0.0.1:" +
                                              std::to_string(server_->port()) + "/0"});
    bool flushed = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto c = pool.client(io.get_executor());
          std::vector<std::string> cmd{"SCRIPT", "FLUSH"};
          auto r = co_await c->command(std::move(cmd));
          flushed = r.ok();
        },
        asio::detached);
    ASSERT_TRUE(run_until(io, [&] { return flushed; }));
  }
  Ticket t2;
  auto d2 = admit(io, a, {k, 800, 0, "r2"}, t2);  // ~900 available: 800 fit
  ASSERT_EQ(d2.refused, Refusal::none);
  ASSERT_TRUE(d2.tokens);
  EXPECT_NEAR(static_cast<double>(d2.tokens->remaining), 100, 2);
  Ticket t3;
  auto d3 = admit(io, a, {k, 800, 0, "r3"}, t3);
  EXPECT_EQ(d3.refused, Refusal::tokens);
  EXPECT_GT(d3.retry_after, 40000ms);  // ~700 tokens at 1000 a minute
  a.shutdown();
  io.restart();
  io.poll();
}

TEST_F(LimitsShared, RedisDownFollowsOnUnavailableAndReportsEachChangeOnce) {
  testing::RedisServer own;
  ASSERT_TRUE(own.start());
  asio::io_context io;
  state::Availability availability;
  Events events(availability);
  Limits a;
  a.set_availability(&availability);
  auto cfg = redis_state(own.port());
  ASSERT_FALSE(a.configure(cfg));  // limits: allow, budgets: deny (the defaults)
  auto rated = key(1, std::nullopt);
  auto budgeted = key(std::nullopt, std::nullopt, 1.0);
  budgeted.name += "-b";
  Ticket t;
  ASSERT_EQ(admit(io, a, {rated, 0, 0, "r1"}, t).refused, Refusal::none);
  own.stop();
  // Limits fall back to this instance's own bucket (fresh: one request), budgets refuse.
  Ticket t2;
  EXPECT_EQ(admit(io, a, {rated, 0, 0, "r2"}, t2).refused, Refusal::none);
  EXPECT_EQ(t2.limits, Ticket::Where::local);
  Ticket t3;
  EXPECT_EQ(admit(io, a, {rated, 0, 0, "r3"}, t3).refused, Refusal::requests);
  Ticket t4;
  auto d4 = admit(io, a, {budgeted, 0, 0.1, "r4"}, t4);
  EXPECT_EQ(d4.refused, Refusal::unavailable);
  EXPECT_EQ(d4.unavailable, "budgets");
  // deny for limits, allow for budgets.
  cfg.on_unavailable.limits = config::OnUnavailable::deny;
  cfg.on_unavailable.budgets = config::OnUnavailable::allow;
  ASSERT_FALSE(a.configure(cfg));
  Ticket t5;
  auto d5 = admit(io, a, {rated, 0, 0, "r5"}, t5);
  EXPECT_EQ(d5.refused, Refusal::unavailable);
  EXPECT_EQ(d5.unavailable, "limits");
  Ticket t6;
  EXPECT_EQ(admit(io, a, {budgeted, 0, 0.1, "r6"}, t6).refused, Refusal::none);
  EXPECT_EQ((std::vector<std::string>{"limits:down", "budgets:down"}), events.log);
  // Back: one event per feature, and the shared bucket again.
  ASSERT_TRUE(own.start());
  std::optional<Decision> back;
  ASSERT_TRUE(run_until(
      io,
      [&] {
        Ticket tb;
        back = admit(io, a, {rated, 0, 0, "rb"}, tb);
        return back->refused != Refusal::unavailable;
      },
      5s));
  Ticket t7;
  admit(io, a, {budgeted, 0, 0.1, "r7"}, t7);
  EXPECT_EQ((std::vector<std::string>{"limits:down", "budgets:down", "limits:up", "budgets:up"}),
            events.log);
  a.shutdown();
  io.restart();
  io.poll();
}

}  // namespace
}  // namespace llmgw::limits
