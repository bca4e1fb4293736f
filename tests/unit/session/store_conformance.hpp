#pragma once
// One conformance suite every session store passes (memory, sqlite, redis). A store's test
// file instantiates it with a factory:
//   INSTANTIATE_TEST_SUITE_P(Memory, StoreConformance, ::testing::Values(StoreMaker{...}));
// The factory gets a wall clock the suite moves (TTL runs in simulated time where the store
// lets the clock decide; a store whose server expires keys itself says so with
// `server_ttl`, and the TTL case is skipped for it).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>
#include <stdexcept>
#include <functional>
#include <memory>
#include <string>

#include "llmgw/session/store.hpp"

namespace llmgw::session::testing {

struct StoreMaker {
  std::string name;
  // ttl, clock -> store
  std::function<std::shared_ptr<SessionStore>(std::chrono::milliseconds, WallClock)> make;
  bool server_ttl = false;
};

inline std::string PrintToString(const StoreMaker& m) { return m.name; }

/// Runs one awaitable to completion on `io` (which the test owns) and returns its result.
template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> a) {
  std::optional<T> out;
  boost::asio::co_spawn(
      io,
      [&out, a = std::move(a)]() mutable -> boost::asio::awaitable<void> {
        out.emplace(co_await std::move(a));
      },
      boost::asio::detached);
  io.restart();
  while (!out && io.run_one_for(std::chrono::seconds(5)) > 0) {
  }
  if (!out) {
    throw std::runtime_error("the store did not answer within 5 s");
  }
  return std::move(*out);
}

class StoreConformance : public ::testing::TestWithParam<StoreMaker> {
protected:
  void SetUp() override {
    now_ = std::make_shared<std::atomic<std::int64_t>>(1'800'000'000'000);
    auto now = now_;
    store_ = GetParam().make(std::chrono::minutes(10), [now] { return now->load(); });
    ASSERT_TRUE(store_);
  }
  void advance(std::chrono::milliseconds d) { now_->fetch_add(d.count()); }

  std::optional<Session> load(const std::string& id) {
    auto r = run(io_, store_->load(id));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(*r) : std::nullopt;
  }
  void append(const std::string& id, Append a) {
    auto r = run(io_, store_->append(id, std::move(a)));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  bool remove(const std::string& id) {
    auto r = run(io_, store_->remove(id));
    EXPECT_TRUE(r.ok());
    return r.ok() && *r;
  }
  std::unique_ptr<Lease> acquire(const std::string& id, std::chrono::milliseconds wait) {
    auto r = run(io_, store_->acquire(id, wait));
    EXPECT_TRUE(r.ok());
    return r.ok() ? std::move(*r) : nullptr;
  }
  static Append turn(std::string user, std::string assistant, std::string owner = "team-a") {
    Append a;
    a.messages = {std::move(user), std::move(assistant)};
    a.meta.owner = std::move(owner);
    a.meta.last_provider = "p1";
    a.meta.last_model = "m1";
    a.meta.tokens = 42;
    return a;
  }
  // Unique per test run, so a shared server (redis) keeps tests apart.
  std::string id(const std::string& base) const {
    return base + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
           std::to_string(reinterpret_cast<std::uintptr_t>(this) & 0xffffff);
  }

  boost::asio::io_context io_;
  std::shared_ptr<std::atomic<std::int64_t>> now_;
  std::shared_ptr<SessionStore> store_;
};

TEST_P(StoreConformance, UnknownSessionIsNone) {
  EXPECT_FALSE(load(id("nope")));
  EXPECT_FALSE(remove(id("nope")));
}

TEST_P(StoreConformance, AppendCreatesThenExtendsInOrder) {
  const auto s = id("s");
  append(s, turn(R"({"role":"user","content":"one"})", R"({"role":"assistant","content":"1"})"));
  auto t2 = turn(R"({"role":"user","content":"two"})", R"({"role":"assistant","content":"2"})",
                 "someone-else");
  t2.meta.last_provider = "p2";
  t2.meta.tokens = 99;
  append(s, std::move(t2));
  auto got = load(s);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->messages.size(), 4u);
  EXPECT_EQ(got->messages[0], R"({"role":"user","content":"one"})");
  EXPECT_EQ(got->messages[3], R"({"role":"assistant","content":"2"})");
  EXPECT_EQ(got->meta.owner, "team-a");  // the creator owns it for good
  EXPECT_EQ(got->meta.last_provider, "p2");
  EXPECT_EQ(got->meta.last_model, "m1");
  EXPECT_EQ(got->meta.tokens, 99u);
  EXPECT_GT(got->meta.created_ms, 0);
  EXPECT_GE(got->meta.last_used_ms, got->meta.created_ms);
}

TEST_P(StoreConformance, KeepsBytesExactly) {
  const auto s = id("bytes");
  std::string odd = R"({"role":"user","content":"tab\t nul\u0000 é 🙂 'q' \"dq\" \\"})";
  std::string big(300000, 'x');
  big = R"({"role":"assistant","content":")" + big + R"("})";
  append(s, turn(odd, big));
  auto got = load(s);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->messages.size(), 2u);
  EXPECT_EQ(got->messages[0], odd);
  EXPECT_EQ(got->messages[1], big);
}

TEST_P(StoreConformance, CompactionDropsTheOldestAndKeepsTheSummary) {
  const auto s = id("compact");
  append(s, turn(R"({"n":1})", R"({"n":2})"));
  append(s, turn(R"({"n":3})", R"({"n":4})"));
  Append c = turn(R"({"n":5})", R"({"n":6})");
  c.drop_first = 3;
  c.summary = "they talked about 1, 2 and 3";
  append(s, std::move(c));
  auto got = load(s);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->messages.size(), 3u);
  EXPECT_EQ(got->messages[0], R"({"n":4})");
  EXPECT_EQ(got->messages[2], R"({"n":6})");
  EXPECT_EQ(got->summary, "they talked about 1, 2 and 3");
  append(s, turn(R"({"n":7})", R"({"n":8})"));  // no summary given: the stored one stays
  EXPECT_EQ(load(s)->summary, "they talked about 1, 2 and 3");
}

TEST_P(StoreConformance, RemoveDropsIt) {
  const auto s = id("gone");
  append(s, turn(R"({"a":1})", R"({"b":2})"));
  EXPECT_TRUE(remove(s));
  EXPECT_FALSE(load(s));
  EXPECT_FALSE(remove(s));
  append(s, turn(R"({"c":3})", R"({"d":4})", "team-b"));  // a new session under the old id
  auto got = load(s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->messages.size(), 2u);
  EXPECT_EQ(got->meta.owner, "team-b");
}

TEST_P(StoreConformance, ExpiresAfterTtlSinceLastUse) {
  if (GetParam().server_ttl) {
    GTEST_SKIP() << "the server expires keys on its own clock";
  }
  const auto s = id("ttl");
  append(s, turn(R"({"a":1})", R"({"b":2})"));
  advance(std::chrono::minutes(9));
  append(s, turn(R"({"a":3})", R"({"b":4})"));  // used: the TTL starts again
  advance(std::chrono::minutes(9));
  ASSERT_TRUE(load(s));
  advance(std::chrono::minutes(2));
  EXPECT_FALSE(load(s));
}

TEST_P(StoreConformance, LeaseSerialisesAndTimesOut) {
  const auto s = id("lease");
  auto first = acquire(s, std::chrono::milliseconds(0));
  ASSERT_TRUE(first);
  EXPECT_FALSE(acquire(s, std::chrono::milliseconds(0)));   // busy, no wait
  EXPECT_FALSE(acquire(s, std::chrono::milliseconds(30)));  // busy, bounded wait
  EXPECT_TRUE(acquire(id("other"), std::chrono::milliseconds(0)));  // per session
  first.reset();
  EXPECT_TRUE(acquire(s, std::chrono::milliseconds(0)));
}

TEST_P(StoreConformance, AWaiterGetsTheLeaseWhenItIsReleased) {
  const auto s = id("handoff");
  auto first = acquire(s, std::chrono::milliseconds(0));
  ASSERT_TRUE(first);
  bool got = false;
  boost::asio::co_spawn(
      io_,
      [&]() -> boost::asio::awaitable<void> {
        auto r = co_await store_->acquire(s, std::chrono::seconds(5));
        got = r.ok() && *r;
      },
      boost::asio::detached);
  // Let the waiter queue, then release: it must get the lease long before its 5 s.
  for (int i = 0; i < 50 && !got; ++i) {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(2));
    if (i == 5) {
      first.reset();
    }
  }
  io_.restart();
  io_.run_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(got);
}

TEST_P(StoreConformance, ActiveCountsLiveSessions) {
  const auto before = store_->active();
  append(id("a1"), turn(R"({"a":1})", R"({"b":2})"));
  append(id("a2"), turn(R"({"a":1})", R"({"b":2})"));
  EXPECT_GE(store_->active(), before + 2);
}

}  // namespace llmgw::session::testing
