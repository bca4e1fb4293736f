#include "store_conformance.hpp"

namespace llmgw::session::testing {
namespace {

StoreMaker memory_maker(std::size_t max_sessions = 100000, std::size_t max_bytes = 1u << 30) {
  return StoreMaker{"memory",
                    [=](std::chrono::milliseconds ttl, WallClock clock) {
                      MemoryStoreOptions o;
                      o.ttl = ttl;
                      o.max_sessions = max_sessions;
                      o.max_bytes = max_bytes;
                      return std::shared_ptr<SessionStore>(make_memory_store(o, std::move(clock)));
                    },
                    false};
}

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformance, ::testing::Values(memory_maker()),
                         [](const auto& i) { return i.param.name; });

class MemoryCaps : public StoreConformance {};

TEST_P(MemoryCaps, TheLeastRecentlyUsedGoFirst) {
  append("a", turn(R"({"a":1})", R"({"b":1})"));
  append("b", turn(R"({"a":2})", R"({"b":2})"));
  append("c", turn(R"({"a":3})", R"({"b":3})"));
  ASSERT_TRUE(load("a"));  // a is now used more recently than b
  append("d", turn(R"({"a":4})", R"({"b":4})"));
  EXPECT_TRUE(load("a"));
  EXPECT_FALSE(load("b"));
  EXPECT_TRUE(load("c"));
  EXPECT_TRUE(load("d"));
  EXPECT_EQ(store_->active(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Memory, MemoryCaps, ::testing::Values(memory_maker(3)),
                         [](const auto& i) { return i.param.name; });

class MemoryBytes : public StoreConformance {};

TEST_P(MemoryBytes, TheByteCapEvictsToo) {
  std::string big = R"({"c":")" + std::string(600, 'x') + R"("})";
  append("a", turn(big, big));
  append("b", turn(big, big));  // ~2.6 KB together: over the 2 KB cap, a goes
  EXPECT_FALSE(load("a"));
  EXPECT_TRUE(load("b"));
}

INSTANTIATE_TEST_SUITE_P(Memory, MemoryBytes, ::testing::Values(memory_maker(100, 2048)),
                         [](const auto& i) { return i.param.name; });

}  // namespace
}  // namespace llmgw::session::testing
