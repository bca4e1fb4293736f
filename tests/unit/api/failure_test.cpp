#include "llmgw/api/failure.hpp"

#include <gtest/gtest.h>

namespace llmgw::api {
namespace {

struct Case {
  int status;
  const char* body;
  FailureClass expected;
};

TEST(ClassifyOpenAiError, StatusAndBodyTable) {
  const Case cases[] = {
      {429, R"({"error":{"message":"Rate limit","type":"requests","param":null,"code":"rate_limit_exceeded"}})", FailureClass::rate_limited},
      {429, R"({"error":{"message":"quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})", FailureClass::quota_exhausted},
      {400, R"({"error":{"message":"too long","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}})", FailureClass::context_length},
      {400, R"({"error":{"message":"filtered","type":null,"param":"prompt","code":"content_filter"}})", FailureClass::content_policy},
      {400, R"({"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}})", FailureClass::client_error},
      // An echoed prompt that mentions 429 must not look like a rate limit.
      {400, R"({"error":{"message":"you said 429 rate limit","type":"invalid_request_error"}})", FailureClass::client_error},
      {401, R"({"error":{"message":"Incorrect API key","code":"invalid_api_key"}})", FailureClass::provider_auth},
      {403, "", FailureClass::provider_auth},
      {404, R"({"error":{"message":"no such model","type":"invalid_request_error","code":"model_not_found"}})", FailureClass::model_not_found},
      {408, "", FailureClass::conflict},
      {409, "", FailureClass::conflict},
      {500, R"({"error":{"message":"oops","type":"server_error"}})", FailureClass::server_error},
      {502, "<html>bad gateway</html>", FailureClass::server_error},
      {503, "", FailureClass::server_error},
      {504, "", FailureClass::server_error},
      {529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", FailureClass::overloaded},
      {422, "{}", FailureClass::client_error},
  };
  for (const auto& c : cases) {
    auto f = classify_openai_error(c.status, c.body, std::nullopt);
    EXPECT_EQ(to_string(f.cls), to_string(c.expected)) << c.status << " " << c.body;
    EXPECT_EQ(f.status, c.status);
  }
}

TEST(ClassifyOpenAiError, MessageNamesStatusAndProviderText) {
  auto f = classify_openai_error(503, R"({"error":{"message":"Slow Down"}})", std::nullopt);
  EXPECT_EQ(f.message, "HTTP 503: Slow Down");
}

TEST(FailurePolicy, ClientFaultsNeverHarmTargets) {
  for (auto c : {FailureClass::client_error, FailureClass::context_length,
                 FailureClass::content_policy}) {
    auto p = failure_policy(c);
    EXPECT_TRUE(p.client_fault);
    EXPECT_FALSE(p.harms_target);
    EXPECT_FALSE(p.retry_same_target);
    EXPECT_EQ(p.cooldown, Cooldown::none);
    EXPECT_EQ(p.ingress_status, 0) << "the upstream's own status goes to the client";
  }
  EXPECT_EQ(failure_policy(FailureClass::client_error).fail_over, FailOver::nowhere);
  EXPECT_EQ(failure_policy(FailureClass::content_policy).fail_over, FailOver::nowhere);
  EXPECT_EQ(failure_policy(FailureClass::context_length).fail_over, FailOver::larger_context);
}

TEST(FailurePolicy, CancellationHarmsNoTargetAndEndsTheRequest) {
  auto p = failure_policy(FailureClass::cancelled);
  EXPECT_FALSE(p.harms_target);
  EXPECT_FALSE(p.retry_same_target);
  EXPECT_FALSE(p.client_fault);
  EXPECT_EQ(p.fail_over, FailOver::nowhere);
  EXPECT_EQ(p.cooldown, Cooldown::none);
}

TEST(FailurePolicy, CooldownsAndIngressStatus) {
  EXPECT_EQ(failure_policy(FailureClass::rate_limited).cooldown, Cooldown::retry_after);
  EXPECT_EQ(failure_policy(FailureClass::quota_exhausted).cooldown, Cooldown::quota);
  EXPECT_EQ(failure_policy(FailureClass::provider_auth).cooldown, Cooldown::key_rejected);
  EXPECT_EQ(failure_policy(FailureClass::local_limit).cooldown, Cooldown::none);
  EXPECT_EQ(failure_policy(FailureClass::timeout).ingress_status, 504);
  EXPECT_EQ(failure_policy(FailureClass::server_error).ingress_status, 503);
  EXPECT_EQ(failure_policy(FailureClass::stall).ingress_status, 503);
}

TEST(FailurePolicy, TransientFailuresFailOver) {
  for (auto c : {FailureClass::connect, FailureClass::timeout, FailureClass::server_error,
                 FailureClass::overloaded, FailureClass::rate_limited, FailureClass::stall}) {
    auto p = failure_policy(c);
    EXPECT_EQ(p.fail_over, FailOver::any) << to_string(c);
    EXPECT_TRUE(p.retry_same_target) << to_string(c);
    EXPECT_FALSE(p.client_fault) << to_string(c);
  }
  EXPECT_FALSE(failure_policy(FailureClass::quota_exhausted).retry_same_target);
  EXPECT_EQ(failure_policy(FailureClass::quota_exhausted).fail_over, FailOver::any);
  EXPECT_TRUE(failure_policy(FailureClass::provider_auth).harms_target);
}

TEST(StatusFailureClass, WhatAStatusAloneSays) {
  EXPECT_EQ(status_failure_class(429), FailureClass::rate_limited);
  EXPECT_EQ(status_failure_class(408), FailureClass::conflict);
  EXPECT_EQ(status_failure_class(409), FailureClass::conflict);
  EXPECT_EQ(status_failure_class(529), FailureClass::overloaded);
  EXPECT_EQ(status_failure_class(500), FailureClass::server_error);
  EXPECT_EQ(status_failure_class(503), FailureClass::server_error);
  EXPECT_EQ(status_failure_class(401), FailureClass::provider_auth);
  EXPECT_EQ(status_failure_class(403), FailureClass::provider_auth);
  EXPECT_EQ(status_failure_class(400), FailureClass::client_error);
  EXPECT_EQ(status_failure_class(404), FailureClass::client_error);
}

TEST(ParseRetryAfter, PrefersMillisecondsThenSeconds) {
  EXPECT_EQ(parse_retry_after("1500", "9").value().count(), 1500);
  EXPECT_EQ(parse_retry_after("", "2").value().count(), 2000);
  EXPECT_EQ(parse_retry_after("", "0.5").value().count(), 500);
  EXPECT_FALSE(parse_retry_after("", "").has_value());
  EXPECT_FALSE(parse_retry_after("abc", "-1").has_value());
  EXPECT_FALSE(parse_retry_after("", "Wed, 21 Oct 2015 07:28:00 GMT").has_value());
}

}  // namespace
}  // namespace llmgw::api
