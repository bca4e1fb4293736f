#include "server/auth.hpp"

#include <gtest/gtest.h>

#include "llmgw/common/strings.hpp"

namespace llmgw::server {
namespace {

config::Config keyed_config() {
  config::Config cfg;
  config::KeyConfig a;
  a.name = "team-a";
  a.sha256 = common::sha256_hex("sk-team-a");
  a.models = std::vector<std::string>{"smart"};
  config::KeyConfig b;
  b.name = "team-b";
  b.sha256 = common::sha256_hex("sk-team-b");
  cfg.keys = {a, b};
  return cfg;
}

std::shared_ptr<const router::RouteTable> keyed_table(bool required = true) {
  auto cfg = keyed_config();
  cfg.auth.required = required;
  return router::RouteTable::build(std::make_shared<const config::Config>(std::move(cfg)), 1);
}

TEST(Authenticate, BearerKeyMatchesItsHash) {
  auto table = keyed_table();
  const auto& cfg = *table;
  auto r = authenticate(cfg, "Bearer sk-team-b", "");
  ASSERT_FALSE(r.error);
  ASSERT_NE(r.key, nullptr);
  EXPECT_EQ(r.key->name, "team-b");
  EXPECT_EQ(authenticate(cfg, "bearer   sk-team-a ", "").key->name, "team-a");
}

TEST(Authenticate, XApiKeyAccepted) {
  auto table = keyed_table();
  const auto& cfg = *table;
  EXPECT_EQ(authenticate(cfg, "", "sk-team-a").key->name, "team-a");
}

TEST(Authenticate, MissingAndWrongKeysAre401) {
  auto table = keyed_table();
  const auto& cfg = *table;
  auto missing = authenticate(cfg, "", "");
  ASSERT_TRUE(missing.error);
  EXPECT_EQ(missing.error->status, 401);
  EXPECT_EQ(missing.error->code, "invalid_api_key");
  auto wrong = authenticate(cfg, "Bearer sk-nope", "");
  ASSERT_TRUE(wrong.error);
  EXPECT_EQ(wrong.error->status, 401);
  auto basic = authenticate(cfg, "Basic c2stdGVhbS1h", "");
  EXPECT_TRUE(basic.error);
  // The hash itself is not a key.
  EXPECT_TRUE(authenticate(cfg, "Bearer " + common::sha256_hex("sk-team-a"), "").error);
}

TEST(Authenticate, OffWhenNotRequired) {
  auto table = keyed_table(false);
  const auto& cfg = *table;
  auto r = authenticate(cfg, "", "");
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.key, nullptr);
}

TEST(Authenticate, FindsEachOfManyKeys) {
  config::Config cfg;
  for (int i = 0; i < 1000; ++i) {
    config::KeyConfig k;
    k.name = "k" + std::to_string(i);
    k.sha256 = common::sha256_hex("sk-" + std::to_string(i));
    cfg.keys.push_back(std::move(k));
  }
  auto table = router::RouteTable::build(std::make_shared<const config::Config>(std::move(cfg)), 1);
  for (int i : {0, 1, 500, 999}) {
    auto r = authenticate(*table, "Bearer sk-" + std::to_string(i), "");
    ASSERT_NE(r.key, nullptr) << i;
    EXPECT_EQ(r.key->name, "k" + std::to_string(i));
  }
  EXPECT_TRUE(authenticate(*table, "Bearer sk-1000", "").error);
}

TEST(KeyAllows, AllowlistPerKey) {
  auto cfg = keyed_config();
  EXPECT_TRUE(key_allows(&cfg.keys[0], "smart"));
  EXPECT_FALSE(key_allows(&cfg.keys[0], "cheap"));
  EXPECT_TRUE(key_allows(&cfg.keys[1], "cheap"));  // no allowlist: all models
  EXPECT_TRUE(key_allows(nullptr, "anything"));     // auth off
}

}  // namespace
}  // namespace llmgw::server
