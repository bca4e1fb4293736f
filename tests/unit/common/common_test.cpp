#include <gtest/gtest.h>

#include "llmgw/common/snapshot.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/common/url.hpp"

namespace llmgw::common {
namespace {

TEST(SnapshotReader, SeesEachStoreAndKeepsWhatItHandedOutAlive) {
  Snapshot<const int> snap;
  snap.store(std::make_shared<const int>(1));
  SnapshotReader<const int> reader(snap);
  auto first = reader.get();
  EXPECT_EQ(*first, 1);
  // No store in between: the same pointer, no new load (same local owner).
  EXPECT_EQ(reader.get().get(), first.get());
  EXPECT_FALSE(reader.get().owner_before(first) || first.owner_before(reader.get()));
  std::weak_ptr<const int> old_value = snap.load();
  snap.store(std::make_shared<const int>(2));
  EXPECT_EQ(*reader.get(), 2);
  // A request still holding the old pointer keeps the old value alive after the reload...
  EXPECT_FALSE(old_value.expired());
  EXPECT_EQ(*first, 1);
  // ...and lets it go when it is done.
  first.reset();
  EXPECT_TRUE(old_value.expired());
}

TEST(ParseUrl, SplitsSchemeHostPortPath) {
  auto u = parse_url("https://api.openai.com/v1/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "api.openai.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/v1");
  EXPECT_EQ(u->authority(), "api.openai.com");
  auto l = parse_url("http://127.0.0.1:9101/v1");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->port, 9101);
  EXPECT_EQ(l->authority(), "127.0.0.1:9101");
  auto v6 = parse_url("http://[::1]:8000");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->path, "");
  EXPECT_EQ(v6->authority(), "[::1]:8000");
}

TEST(ParseUrl, RejectsWithReason) {
  std::string why;
  EXPECT_FALSE(parse_url("ftp://x", &why));
  EXPECT_EQ(why, "scheme must be http or https");
  EXPECT_FALSE(parse_url("api.openai.com", &why));
  EXPECT_FALSE(parse_url("http://host:99999", &why));
  EXPECT_EQ(why, "invalid port");
  EXPECT_FALSE(parse_url("http://:80", &why));
  EXPECT_FALSE(parse_url("http://h/v1?x=1", &why));
}

TEST(ParseHostPort, NeedsPort) {
  auto hp = parse_host_port("0.0.0.0:8080");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->port, 8080);
  EXPECT_FALSE(parse_host_port("localhost"));
  EXPECT_TRUE(parse_host_port("[::]:0"));
}

TEST(Keys, Sha256MatchesKnownVector) {
  // The SPEC's example key hash is sha256("test").
  EXPECT_EQ(sha256_hex("test"), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
}

TEST(Keys, ConstantTimeEquals) {
  EXPECT_TRUE(constant_time_equals("abc", "abc"));
  EXPECT_FALSE(constant_time_equals("abc", "abd"));
  EXPECT_FALSE(constant_time_equals("abc", "ab"));
  EXPECT_TRUE(constant_time_equals("", ""));
}

TEST(Strings, Helpers) {
  EXPECT_TRUE(iequals("Bearer", "bEARER"));
  EXPECT_EQ(trim("  x y \t"), "x y");
  EXPECT_EQ(random_hex(32).size(), 32u);
  EXPECT_NE(random_hex(32), random_hex(32));
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
}

}  // namespace
}  // namespace llmgw::common
