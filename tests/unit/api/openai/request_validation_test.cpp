#include "api/openai/request_validation.hpp"

#include <gtest/gtest.h>

namespace llmgw::api::openai {
namespace {

using nlohmann::json;
using api::Operation;

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
      // Every field the gateway reads is typed: a wrong type is a 400 here, never a throw later.
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":"5"})", "max_tokens"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"stream":true,"stream_options":5})", "stream_options"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":[{"type":"video_url","video_url":{}}]}]})", "messages[0].content[0].type"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})", "messages[0].content[0].type"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":5}]}]})", "messages[0].content[0].text"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":7}}]}]})", "messages[0].content[0].image_url.url"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{}}}]}]})", "messages[0].tool_calls[0].function.arguments"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"tool","content":"r"}]})", "messages[0].tool_call_id"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]})", "tools[0].function.parameters"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"tool_choice":{"type":"function","function":{}}})", "tool_choice.function.name"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"stop":[1]})", "stop[0]"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"response_format":{"type":"yaml"}})", "response_format.type"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"n":1000})", "n"},
      {Operation::chat, R"({"model":"m","messages":[{"role":"user","content":"a"}],"logit_bias":{"1":500}})", "logit_bias"},
      {Operation::embeddings, R"({"model":"m","input":[{"a":1}]})", "input[0]"},
      {Operation::completions, R"({"model":"m","prompt":[[1,"x"]]})", "prompt[0]"},
  };
  for (const auto& c : cases) {
    auto e = check(c.op, c.body);
    ASSERT_TRUE(e.has_value()) << c.body;
    EXPECT_EQ(e->status, 400) << c.body;
    EXPECT_EQ(e->code, "invalid_request") << c.body;
    EXPECT_EQ(e->param, c.param) << c.body;
  }
}

TEST(ValidateRequest, NullMeansTheDefaultAndFactsAreRead) {
  RequestFacts facts;
  auto body = json::parse(R"({"model":"m","messages":[{"role":"user","content":"a"}],"stream":null,"n":null,"max_tokens":null,"max_completion_tokens":9})");
  EXPECT_FALSE(validate_request(Operation::chat, body, &facts));
  EXPECT_FALSE(facts.stream);
  EXPECT_EQ(facts.max_output_tokens, 9u);
  body = json::parse(R"({"model":"m","prompt":"p","stream":true,"stream_options":{"include_usage":true}})");
  EXPECT_FALSE(validate_request(Operation::completions, body, &facts));
  EXPECT_TRUE(facts.stream);
  EXPECT_TRUE(facts.include_usage);
  body = json::parse(R"({"model":"m","input":"x","encoding_format":"base64"})");
  EXPECT_FALSE(validate_request(Operation::embeddings, body, &facts));
  EXPECT_TRUE(facts.base64_embeddings);
}

TEST(ValidateRequest, AcceptsWhatSdksSend) {
  EXPECT_FALSE(check(Operation::chat, R"({"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":null,"tool_calls":[]},{"role":"tool","tool_call_id":"c","content":"r"}],"stream":true,"stream_options":{"include_usage":true},"temperature":0.2,"max_tokens":5})"));
  EXPECT_FALSE(check(Operation::completions, R"({"model":"m","prompt":"once"})"));
  EXPECT_FALSE(check(Operation::embeddings, R"({"model":"m","input":["a","b"],"encoding_format":"base64"})"));
  EXPECT_FALSE(check(Operation::chat, R"({"model":"m","messages":[{"role":"developer","content":"d"}],"stream_options":null})"));
  EXPECT_FALSE(check(Operation::chat, R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}},{"type":"input_audio","input_audio":{"data":"AA==","format":"wav"}},{"type":"file","file":{"file_data":"data:application/pdf;base64,AA==","filename":"a.pdf"}}]},{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"ok"}]}],"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"},"strict":true}}],"tool_choice":"auto","stop":["x"],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"}}},"logit_bias":{"50256":-100},"seed":-1,"user":"u","parallel_tool_calls":false})"));
  EXPECT_FALSE(check(Operation::embeddings, R"({"model":"m","input":[[1,2],[3]],"dimensions":256})"));
}

}  // namespace
}  // namespace llmgw::api::openai
