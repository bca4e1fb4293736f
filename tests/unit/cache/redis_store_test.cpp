// The response cache on a real redis-server: the key layout and expiry, fresh and stale on the
// injected wall clock, and a Redis that is down (a miss, counted, never an error).
#include "llmgw/cache/redis_store.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/detached.hpp>
#include <optional>
#include <stdexcept>

#include "llmgw/metrics/metrics.hpp"
#include "llmgw/state/redis.hpp"
#include "unit/state/redis_server.hpp"

namespace llmgw::cache {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using llmgw::testing::RedisServer;

// Runs `a` to its end on `io` (which the Redis connections keep busy: io.run() would not
// return).
template <class T>
T run(asio::io_context& io, asio::awaitable<T> a) {
  std::optional<T> out;
  asio::co_spawn(
      io,
      [&out, a = std::move(a)]() mutable -> asio::awaitable<void> {
        out.emplace(co_await std::move(a));
      },
      asio::detached);
  io.restart();
  while (!out && io.run_one_for(std::chrono::seconds(5)) > 0) {
  }
  if (!out) {
    throw std::runtime_error("no answer within 5 s");
  }
  return std::move(*out);
}

asio::awaitable<bool> done(asio::awaitable<void> a) {
  co_await std::move(a);
  co_return true;
}

void run(asio::io_context& io, asio::awaitable<void> a) { run(io, done(std::move(a))); }

// A reply, or an empty one when there was none (a Result is not default-constructible, which
// use_future needs).
asio::awaitable<state::RedisReply> call(std::shared_ptr<state::RedisClient> client,
                                        std::vector<std::string> args) {
  auto r = co_await client->command(std::move(args));
  EXPECT_TRUE(r.ok());
  co_return r.ok() ? std::move(*r) : state::RedisReply();
}

RedisServer* shared_server() {
  static std::unique_ptr<RedisServer> server = [] {
    auto s = std::make_unique<RedisServer>();
    return s->start() ? std::move(s) : nullptr;
  }();
  return server.get();
}

class RedisCacheStore : public ::testing::Test {
protected:
  void SetUp() override {
    if (RedisServer::binary().empty()) {
      GTEST_SKIP() << "no redis-server on PATH";
    }
    ASSERT_TRUE(shared_server());
  }

  std::shared_ptr<CacheStore> make(std::string url = {}) {
    RedisStoreOptions o;
    o.url = url.empty() ? shared_server()->url() : url;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    o.prefix = "test:" + std::string(info->name()) + ":";
    o.max_stale = 10min;
    o.metrics = &metrics;
    o.wall_clock_ms = [this] { return now_ms; };
    return make_redis_store(std::move(o));
  }

  state::RedisReply raw(std::vector<std::string> args) {
    state::RedisOptions o;
    o.url = shared_server()->url();
    auto client = std::make_shared<state::RedisClient>(io.get_executor(), o);
    return run(io, call(client, std::move(args)));
  }

  asio::io_context io;
  metrics::Metrics metrics{"test"};
  std::int64_t now_ms = 1'700'000'000'000;
};

TEST_F(RedisCacheStore, FreshThenStaleOnTheWallClockUnderItsKey) {
  auto store = make();
  EXPECT_EQ(store->kind(), "redis");
  EXPECT_FALSE(run(io, store->get("k1")));
  run(io, store->put("k1", "{\"answer\":1}", 60s));
  auto fresh = run(io, store->get("k1"));
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(fresh->stale);
  EXPECT_EQ(*fresh->answer, "{\"answer\":1}");
  now_ms += 61'000;
  auto stale = run(io, store->get("k1"));
  ASSERT_TRUE(stale);
  EXPECT_TRUE(stale->stale);
  // Redis drops it itself once it could not be served even stale: ttl + max_stale.
  auto pttl = raw({"PTTL", "test:FreshThenStaleOnTheWallClockUnderItsKey:k1"});
  EXPECT_GT(pttl.integer, 60'000 + 10 * 60'000 - 5'000);
  EXPECT_LE(pttl.integer, 60'000 + 10 * 60'000);
}

TEST_F(RedisCacheStore, AValueNotOursIsAMiss) {
  auto store = make();
  raw({"SET", "test:AValueNotOursIsAMiss:k", "garbage"});
  EXPECT_FALSE(run(io, store->get("k")));
}

TEST_F(RedisCacheStore, ADownRedisIsAMissAndCounted) {
  auto port = RedisServer::free_port();
  auto store = make("redis://127.0.0.1:" + std::to_string(port) + "/0");
  EXPECT_FALSE(run(io, store->get("k")));
  run(io, store->put("k", "v", 60s));
  auto text = metrics.serialize();
  EXPECT_NE(text.find(R"(llmgw_cache_store_errors_total{op="get",store="redis"} 1)"),
            std::string::npos) << text;
  EXPECT_NE(text.find(R"(llmgw_cache_store_errors_total{op="put",store="redis"} 1)"),
            std::string::npos);
}

TEST_F(RedisCacheStore, TwoStoresOnOneRedisShareEntries) {
  auto a = make();
  auto b = make();
  run(io, a->put("shared", "v", 60s));
  auto found = run(io, b->get("shared"));
  ASSERT_TRUE(found);
  EXPECT_EQ(*found->answer, "v");
}

}  // namespace
}  // namespace llmgw::cache
