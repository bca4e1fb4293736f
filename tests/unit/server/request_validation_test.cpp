#include "server/request_validation.hpp"

#include <gtest/gtest.h>

namespace llmgw::server {
namespace {

using nlohmann::json;
using providers::Operation;

std::optional<api::GatewayError> check(Operation op, std::string_view body) {
  return validate_request(op, json::parse(body, nullptr, false));
}

struct Bad {
  Operation op;
  const char* body;
  const char* param;
};

TEST(ValidateRequest, NamesTheJsonPathAtFault) {
  const Bad cases[] = {
      {Operation::chat, "{not json", ""},
      {Operation::chat, "[1,2]", ""},
      {Operation::chat, R"({"messages":[{"role":"user","content":"x"}]})", "model"},
      {Operation::chat, R"({"model":7,"messages":[]})", "model"},
      {Operation::chat, R"({"model":"m"})", "messages"},
      {Operation::chat, R"({"model":"m","messages":[]})", "messages"},
      {Operation::chat, R"({"model":"m","messages":"hi"})", "messages"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"},5]})", "messages[1]"},
      {Operation::chat, R"({"model":"m","messages":[{"content":"a"}]})", "messages[0].role"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"wizard","content":"a"}]})", "messages[0].role"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":{"a":1}}]})", "messages[0].content"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user"}]})", "messages[0].content"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"stream":"yes"})", "stream"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"stream_options":{"include_usage":true}})", "stream_options"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"stream":true,"stream_options":{"include_usage":1}})", "stream_options.include_usage"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"temperature":3})", "temperature"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":0})", "max_tokens"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"n":1.5})", "n"},
      {Operation::completions, R"({"model":"m"})", "prompt"},
      {Operation::embeddings, R"({"model":"m","input":""})", "input"},
      {Operation::embeddings, R"({"model":"m","input":[]})", "input"},
      {Operation::embeddings, R"({"model":"m","input":"x","encoding_format":"hex"})", "encoding_format"},
  };
  for (const auto& c : cases) {
    auto e = check(c.op, c.body);
    ASSERT_TRUE(e.has_value()) << c.body;
    EXPECT_EQ(e->status, 400) << c.body;
    EXPECT_EQ(e->code, "invalid_request") << c.body;
    EXPECT_EQ(e->param, c.param) << c.body;
  }
}

TEST(ValidateRequest, AcceptsWhatSdksSend) {
  EXPECT_FALSE(check(Operation::chat, R"({"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":null,"tool_calls":[]},{"role":"tool","tool_call_id":"c","content":"r"}],"stream":true,"stream_options":{"include_usage":true},"temperature":0.2,"max_tokens":5})"));
  EXPECT_FALSE(check(Operation::completions, R"({"model":"m","prompt":"once"})"));
  EXPECT_FALSE(check(Operation::embeddings, R"({"model":"m","input":["a","b"],"encoding_format":"base64"})"));
  EXPECT_FALSE(check(Operation::chat, R"({"model":"m","messages":[{"role":"developer","content":"d"}],"stream_options":null})"));
}

}  // namespace
}  // namespace llmgw::server
