// The response cache's key: what changes it and what does not; the Cache-Control directives.
#include "llmgw/cache/key.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "llmgw/cache/cache_control.hpp"

namespace llmgw::cache {
namespace {

using nlohmann::json;
using api::Operation;

std::string key(std::string_view body, std::string_view scope = "team-a",
                Operation op = Operation::chat) {
  return request_key(op, scope, json::parse(body));
}

constexpr std::string_view kBase =
    R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0,)"
    R"("max_tokens":10})";

TEST(CacheKey, IsTheSha256OfTheNormalisedRequest) {
  auto k = key(kBase);
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(k, key(kBase));
}

TEST(CacheKey, DoesNotDependOnKeyOrder) {
  EXPECT_EQ(key(kBase),
            key(R"({"max_tokens":10,"temperature":0,)"
                R"("messages":[{"content":"hi","role":"user"}],"model":"m"})"));
}

TEST(CacheKey, IgnoresDeliveryAndCallerFields) {
  EXPECT_EQ(key(kBase),
            key(R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0,)"
                R"("max_tokens":10,"stream":true,"stream_options":{"include_usage":true},)"
                R"("user":"u-42","metadata":{"trace":"x"},"store":true})"));
}

TEST(CacheKey, OneSpellingOfANumberAndOfAbsence) {
  EXPECT_EQ(key(kBase),
            key(R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.0,)"
                R"("max_tokens":10.0,"stop":null})"));
}

TEST(CacheKey, WhatChangesTheAnswerChangesTheKey) {
  const auto base = key(kBase);
  EXPECT_NE(base, key(R"({"model":"m","messages":[{"role":"user","content":"hi"}],)"
                      R"("temperature":0.5,"max_tokens":10})"));
  EXPECT_NE(base, key(R"({"model":"m","messages":[{"role":"user","content":"hi"}],)"
                      R"("temperature":0,"max_tokens":11})"));
  EXPECT_NE(base, key(R"({"model":"m2","messages":[{"role":"user","content":"hi"}],)"
                      R"("temperature":0,"max_tokens":10})"));
  EXPECT_NE(base, key(R"({"model":"m","messages":[{"role":"user","content":"hi!"}],)"
                      R"("temperature":0,"max_tokens":10})"));
  EXPECT_NE(base, key(R"({"model":"m","messages":[{"role":"user","content":"hi"}],)"
                      R"("temperature":0,"max_tokens":10,"tools":[{"type":"function",)"
                      R"("function":{"name":"f","parameters":{}}}]})"));
  EXPECT_NE(base, key(R"({"model":"m","messages":[{"role":"user","content":"hi"}],)"
                      R"("temperature":0,"max_tokens":10,)"
                      R"("response_format":{"type":"json_object"}})"));
  EXPECT_NE(base, key(R"({"model":"m","messages":[{"role":"user","content":"hi"}],)"
                      R"("temperature":0,"max_tokens":10,"seed":7})"));
  EXPECT_NE(base, key(R"({"model":"m","messages":[{"role":"user","content":"hi"}],)"
                      R"("temperature":0,"max_tokens":10,"stop":["x"]})"));
}

TEST(CacheKey, TheScopeAndTheOperationSeparate) {
  EXPECT_NE(key(kBase, "team-a"), key(kBase, "team-b"));
  EXPECT_NE(key(kBase, "team-a"), key(kBase, kAnonymousScope));
  EXPECT_NE(key(kBase, "team-a", Operation::chat), key(kBase, "team-a", Operation::completions));
}

TEST(CacheKey, TemperatureZeroOrAbsentUnlessAnyTemperature) {
  EXPECT_TRUE(temperature_allows(json::parse(R"({"model":"m"})"), false));
  EXPECT_TRUE(temperature_allows(json::parse(R"({"temperature":0})"), false));
  EXPECT_TRUE(temperature_allows(json::parse(R"({"temperature":0.0})"), false));
  EXPECT_TRUE(temperature_allows(json::parse(R"({"temperature":null})"), false));
  EXPECT_FALSE(temperature_allows(json::parse(R"({"temperature":0.7})"), false));
  EXPECT_TRUE(temperature_allows(json::parse(R"({"temperature":0.7})"), true));
}

TEST(CacheKey, LogprobsRequestsAreNotCached) {
  EXPECT_FALSE(asks_logprobs(json::parse(R"({"model":"m"})")));
  EXPECT_FALSE(asks_logprobs(json::parse(R"({"model":"m","logprobs":false})")));
  EXPECT_FALSE(asks_logprobs(json::parse(R"({"model":"m","logprobs":null})")));
  EXPECT_TRUE(asks_logprobs(json::parse(R"({"model":"m","logprobs":true})")));
  EXPECT_TRUE(asks_logprobs(json::parse(R"({"model":"m","logprobs":3})")));  // completions
  EXPECT_TRUE(asks_logprobs(json::parse(R"({"model":"m","top_logprobs":2})")));
}

TEST(CacheControlHeader, NoCacheAndNoStore) {
  EXPECT_FALSE(parse_cache_control("").no_cache);
  EXPECT_TRUE(parse_cache_control("no-cache").no_cache);
  EXPECT_FALSE(parse_cache_control("no-cache").no_store);
  EXPECT_TRUE(parse_cache_control("max-age=0, No-Store").no_store);
  auto both = parse_cache_control(R"(no-cache="x" , no-store)");
  EXPECT_TRUE(both.no_cache);
  EXPECT_TRUE(both.no_store);
  EXPECT_FALSE(parse_cache_control("no-cachex, private").no_cache);
}

}  // namespace
}  // namespace llmgw::cache
