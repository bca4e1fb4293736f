// The in-memory LRU: ttl, stale and max_stale in simulated time, eviction by bytes and count;
// the process's store across reloads.
#include "llmgw/cache/memory_store.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "llmgw/cache/cache.hpp"

namespace llmgw::cache {
namespace {

using namespace std::chrono_literals;

struct MemoryStoreTest : ::testing::Test {
  common::ManualClock clock;

  MemoryLimits limits(std::uint64_t bytes = 1 << 20, std::uint64_t entries = 1000,
                      std::chrono::milliseconds stale = 1h) {
    return MemoryLimits{bytes, entries, stale};
  }
};

TEST_F(MemoryStoreTest, FreshThenStaleThenGone) {
  MemoryStore store(limits(1 << 20, 1000, 10min), clock);
  store.insert("k", "answer", 60s);
  auto fresh = store.lookup("k");
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(fresh->stale);
  EXPECT_EQ(*fresh->answer, "answer");
  clock.advance(59s);
  EXPECT_FALSE(store.lookup("k")->stale);
  clock.advance(1s);
  auto stale = store.lookup("k");
  ASSERT_TRUE(stale);
  EXPECT_TRUE(stale->stale);
  clock.advance(10min);
  EXPECT_FALSE(store.lookup("k"));
  EXPECT_EQ(store.entries(), 0u);
  EXPECT_EQ(store.bytes(), 0u);
}

TEST_F(MemoryStoreTest, ANewAnswerReplacesTheOld) {
  MemoryStore store(limits(), clock);
  store.insert("k", "one", 60s);
  clock.advance(2min);
  store.insert("k", "two", 60s);
  auto found = store.lookup("k");
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->stale);
  EXPECT_EQ(*found->answer, "two");
  EXPECT_EQ(store.entries(), 1u);
  EXPECT_EQ(store.bytes(), MemoryStore::entry_bytes(1, 3));
  const CacheStore& s = store;
  ASSERT_TRUE(s.size());
  EXPECT_EQ(s.size()->entries, 1u);
  EXPECT_EQ(s.size()->bytes, store.bytes());
}

TEST_F(MemoryStoreTest, EvictsTheLeastRecentlyUsedBeyondMaxBytes) {
  const std::string answer(1000, 'x');
  const auto one = MemoryStore::entry_bytes(2, answer.size());
  MemoryStore store(limits(3 * one, 1000), clock);
  store.insert("k1", answer, 60s);
  store.insert("k2", answer, 60s);
  store.insert("k3", answer, 60s);
  EXPECT_EQ(store.bytes(), 3 * one);
  ASSERT_TRUE(store.lookup("k1"));  // k1 is now the most recently used; k2 the least
  store.insert("k4", answer, 60s);
  EXPECT_TRUE(store.lookup("k1"));
  EXPECT_FALSE(store.lookup("k2"));
  EXPECT_TRUE(store.lookup("k3"));
  EXPECT_TRUE(store.lookup("k4"));
  EXPECT_LE(store.bytes(), 3 * one);
}

TEST_F(MemoryStoreTest, EvictsBeyondMaxEntries) {
  MemoryStore store(limits(1 << 20, 2), clock);
  store.insert("a", "1", 60s);
  store.insert("b", "2", 60s);
  store.insert("c", "3", 60s);
  EXPECT_EQ(store.entries(), 2u);
  EXPECT_FALSE(store.lookup("a"));
}

TEST_F(MemoryStoreTest, AnAnswerLargerThanTheWholeCacheIsNotStored) {
  MemoryStore store(limits(2000), clock);
  store.insert("small", "x", 60s);
  store.insert("big", std::string(4000, 'x'), 60s);
  EXPECT_FALSE(store.lookup("big"));
  EXPECT_TRUE(store.lookup("small"));
}

TEST_F(MemoryStoreTest, TheAsyncInterfaceIsTheSame) {
  MemoryStore store(limits(), clock);
  boost::asio::io_context io;
  CacheStore& s = store;
  auto put = boost::asio::co_spawn(io, s.put("k", "v", 1000ms), boost::asio::use_future);
  io.run();
  put.get();
  io.restart();
  auto got = boost::asio::co_spawn(io, s.get("k"), boost::asio::use_future);
  io.run();
  auto found = got.get();
  ASSERT_TRUE(found);
  EXPECT_EQ(*found->answer, "v");
  EXPECT_EQ(s.kind(), "memory");
}

}  // namespace
}  // namespace llmgw::cache

namespace llmgw::cache {
namespace {

// The process's store survives a reload that does not touch it, and is rebuilt by one that
// does.
TEST(CacheHolder, ARebuildOnlyWhenTheStoresSettingsChange) {
  Cache cache;
  EXPECT_EQ(cache.store(), nullptr);
  config::Config cfg;
  ASSERT_FALSE(cache.configure(cfg));
  auto first = cache.store();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->kind(), "memory");
  config::ModelConfig model;
  model.name = "m";
  model.cache = config::CacheConfig{};
  cfg.models.push_back(model);
  ASSERT_FALSE(cache.configure(cfg));
  EXPECT_EQ(cache.store(), first) << "a models change keeps every entry";
  cfg.cache.max_bytes = 1 << 20;
  ASSERT_FALSE(cache.configure(cfg));
  EXPECT_NE(cache.store(), first);
  cfg.state.backend = config::StateBackend::redis;
  cfg.state.redis_url = "http://not-redis";
  auto error = cache.configure(cfg);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("state.redis.url"), std::string::npos) << *error;
  EXPECT_EQ(cache.store()->kind(), "memory") << "an error keeps the store";
  cache.shutdown();
  EXPECT_EQ(cache.store(), nullptr);
}

}  // namespace
}  // namespace llmgw::cache
