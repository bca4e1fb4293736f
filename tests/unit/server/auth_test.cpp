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

TEST(Authenticate, BearerKeyMatchesItsHash) {
  auto cfg = keyed_config();
  auto r = authenticate(cfg, "Bearer sk-team-b", "");
  ASSERT_FALSE(r.error);
  ASSERT_NE(r.key, nullptr);
  EXPECT_EQ(r.key->name, "team-b");
  EXPECT_EQ(authenticate(cfg, "bearer   sk-team-a ", "").key->name, "team-a");
}

TEST(Authenticate, XApiKeyAccepted) {
  auto cfg = keyed_config();
  EXPECT_EQ(authenticate(cfg, "", "sk-team-a").key->name, "team-a");
}

TEST(Authenticate, MissingAndWrongKeysAre401) {
  auto cfg = keyed_config();
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
  auto cfg = keyed_config();
  cfg.auth.required = false;
  auto r = authenticate(cfg, "", "");
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.key, nullptr);
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
