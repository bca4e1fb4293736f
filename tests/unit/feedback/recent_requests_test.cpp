// The bounded index of recent requests that user feedback rates.
#include "llmgw/feedback/recent_requests.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace llmgw::feedback {
namespace {

TEST(RecentRequests, FindsWhatItRemembered) {
  RecentRequests index;
  index.remember("req-1", RecentRequest{"a", "chat", "team-a"});
  auto found = index.find("req-1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->provider, "a");
  EXPECT_EQ(found->model, "chat");
  EXPECT_EQ(found->key, "team-a");
  EXPECT_FALSE(index.find("req-2"));
}

TEST(RecentRequests, ARepeatedIdIsTheNewestRequest) {
  RecentRequests index;
  index.remember("same", RecentRequest{"a", "chat", ""});
  index.remember("same", RecentRequest{"b", "chat", ""});
  EXPECT_EQ(index.find("same")->provider, "b");
  EXPECT_EQ(index.size(), 1u);
}

TEST(RecentRequests, StaysWithinItsCapacityForgettingTheOldestFirst) {
  RecentRequests index(16 * 4);  // 4 a shard
  for (int i = 0; i < 10'000; ++i) {
    index.remember("req-" + std::to_string(i), RecentRequest{"p", "m", ""});
  }
  EXPECT_LE(index.size(), 64u);
  EXPECT_FALSE(index.find("req-0"));
  EXPECT_TRUE(index.find("req-9999"));
}

TEST(RecentRequests, WorkersShareIt) {
  RecentRequests index(100'000);
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&index, w] {
      for (int i = 0; i < 2'000; ++i) {
        const auto id = std::to_string(w) + "-" + std::to_string(i);
        index.remember(id, RecentRequest{"p" + std::to_string(w), "m", ""});
        EXPECT_TRUE(index.find(id));
      }
    });
  }
  for (auto& t : workers) {
    t.join();
  }
  EXPECT_EQ(index.size(), 8'000u);
  EXPECT_EQ(index.find("3-1999")->provider, "p3");
}

}  // namespace
}  // namespace llmgw::feedback
