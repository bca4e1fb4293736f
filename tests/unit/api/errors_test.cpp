#include "llmgw/api/errors.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace llmgw::api {
namespace {

TEST(GatewayErrors, OpenAiShapeWithAllFourFields) {
  auto body = nlohmann::json::parse(openai_error_body(invalid_request("bad role", "messages[1].role")));
  ASSERT_TRUE(body.contains("error"));
  const auto& e = body["error"];
  EXPECT_EQ(e["message"], "bad role");
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_EQ(e["param"], "messages[1].role");
  EXPECT_EQ(e["code"], "invalid_request");
}

TEST(GatewayErrors, NullParamWhenNoPath) {
  auto body = nlohmann::json::parse(openai_error_body(no_healthy_upstream("a: down")));
  EXPECT_TRUE(body["error"]["param"].is_null());
  EXPECT_EQ(body["error"]["code"], "no_healthy_upstream");
  EXPECT_EQ(no_healthy_upstream("x").status, 503);
}

TEST(GatewayErrors, StatusCodesOfSpec) {
  EXPECT_EQ(invalid_api_key().status, 401);
  EXPECT_EQ(model_not_allowed("m").status, 403);
  EXPECT_EQ(model_not_found("m").status, 404);
  EXPECT_EQ(request_too_large("x").status, 413);
  EXPECT_EQ(upstream_timeout("x").status, 504);
  EXPECT_EQ(model_not_allowed("m").code, "model_not_allowed");
}

TEST(GatewayErrors, StreamErrorEventIsOneDataLine) {
  auto ev = openai_stream_error_event(upstream_timeout("slow"));
  EXPECT_EQ(ev.rfind("data: {\"error\":", 0), 0u);
  EXPECT_EQ(ev.substr(ev.size() - 2), "\n\n");
  EXPECT_EQ(ev.find('\n'), ev.size() - 2);
}

}  // namespace
}  // namespace llmgw::api
