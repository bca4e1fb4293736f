#include "api/anthropic/anthropic.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fstream>
#include <sstream>

namespace llmgw::api::anthropic {
namespace {

using nlohmann::json;
namespace asio = boost::asio;

// ---------------------------------------------------------------------------------------------
// Request conversion
// ---------------------------------------------------------------------------------------------

std::optional<api::GatewayError> convert(std::string_view body, json& out) {
  return anthropic_to_openai(json::parse(body, nullptr, false), out);
}

struct Bad {
  const char* body;
  const char* param;
};

TEST(AnthropicRequest, NamesTheJsonPathAtFault) {
  const Bad cases[] = {
      {"{not json", ""},
      {"[1]", ""},
      {R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}]})", "model"},
      {R"({"model":"","max_tokens":5,"messages":[{"role":"user","content":"x"}]})", "model"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"model":"m","max_tokens":"9","messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"model":"m","max_tokens":5})", "messages"},
      {R"({"model":"m","max_tokens":5,"messages":[]})", "messages"},
      {R"({"model":"m","max_tokens":5,"messages":{"role":"user"}})", "messages"},
      {R"({"model":"m","max_tokens":5,"messages":[7]})", "messages[0]"},
      {R"({"model":"m","max_tokens":5,"messages":[{"content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"tool","content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user"}]})", "messages[0].content"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":{"a":1}}]})", "messages[0].content"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[]}]})", "messages[0].content"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":[{"text":"x"}]}]})", "messages[1].content[0].type"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[7]}]})", "messages[0].content[0]"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text"}]}]})", "messages[0].content[0].text"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image"}]}]})", "messages[0].content[0].source"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"AA=="}}]}]})", "messages[0].content[0].source.media_type"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]})", "messages[0].content[0].source.type"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]})", "messages[0].content[0].type"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]})", "messages[0].content[0].tool_use_id"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{}}]}]}]})", "messages[0].content[0].content[0].type"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","is_error":"yes"}]}]})", "messages[0].content[0].is_error"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]}]})", "messages[0].content[0].type"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}]})", "messages[0].content[0].id"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","input":{}}]}]})", "messages[0].content[0].name"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":"{}"}]}]})", "messages[0].content[0].input"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"image","source":{}}]}]})", "messages[0].content[0].type"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"system","content":[{"type":"image"}]}]})", "messages[0].content[0].type"},
      {R"({"model":"m","max_tokens":5,"system":7,"messages":[{"role":"user","content":"x"}]})", "system"},
      {R"({"model":"m","max_tokens":5,"system":[{"type":"text"}],"messages":[{"role":"user","content":"x"}]})", "system[0].text"},
      {R"({"model":"m","max_tokens":5,"stream":"yes","messages":[{"role":"user","content":"x"}]})", "stream"},
      {R"({"model":"m","max_tokens":5,"temperature":1.5,"messages":[{"role":"user","content":"x"}]})", "temperature"},
      {R"({"model":"m","max_tokens":5,"top_p":"high","messages":[{"role":"user","content":"x"}]})", "top_p"},
      {R"({"model":"m","max_tokens":5,"top_k":40,"messages":[{"role":"user","content":"x"}]})", "top_k"},
      {R"({"model":"m","max_tokens":5,"stop_sequences":"END","messages":[{"role":"user","content":"x"}]})", "stop_sequences"},
      {R"({"model":"m","max_tokens":5,"stop_sequences":["END"," "],"messages":[{"role":"user","content":"x"}]})", "stop_sequences[1]"},
      {R"({"model":"m","max_tokens":5,"tools":{},"messages":[{"role":"user","content":"x"}]})", "tools"},
      {R"({"model":"m","max_tokens":5,"tools":[{"input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"x"}]})", "tools[0].name"},
      {R"({"model":"m","max_tokens":5,"tools":[{"name":"f"}],"messages":[{"role":"user","content":"x"}]})", "tools[0].input_schema"},
      {R"({"model":"m","max_tokens":5,"tools":[{"name":"f","input_schema":{},"description":3}],"messages":[{"role":"user","content":"x"}]})", "tools[0].description"},
      {R"({"model":"m","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"x"}]})", "tools[0].type"},
      {R"({"model":"m","max_tokens":5,"tool_choice":"auto","messages":[{"role":"user","content":"x"}]})", "tool_choice"},
      {R"({"model":"m","max_tokens":5,"tool_choice":{"type":"some"},"messages":[{"role":"user","content":"x"}]})", "tool_choice.type"},
      {R"({"model":"m","max_tokens":5,"tool_choice":{"type":"tool"},"messages":[{"role":"user","content":"x"}]})", "tool_choice.name"},
      {R"({"model":"m","max_tokens":5,"tool_choice":{"type":"auto","disable_parallel_tool_use":1},"messages":[{"role":"user","content":"x"}]})", "tool_choice.disable_parallel_tool_use"},
      {R"({"model":"m","max_tokens":5,"metadata":"u","messages":[{"role":"user","content":"x"}]})", "metadata"},
      {R"({"model":"m","max_tokens":5,"metadata":{"user_id":5},"messages":[{"role":"user","content":"x"}]})", "metadata.user_id"},
      {R"({"model":"m","max_tokens":5,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"x"}]})", "thinking.budget_tokens"},
      {R"({"model":"m","max_tokens":5,"thinking":{"type":"sometimes"},"messages":[{"role":"user","content":"x"}]})", "thinking.type"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t"}]}]})", "messages[0].content[0].signature"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":"yes"}]}]})", "messages[0].content[0].cache_control"},
      {R"({"model":"m","max_tokens":5,"output_config":{"format":{"type":"json_schema"}},"messages":[{"role":"user","content":"x"}]})", "output_config"},
      {R"({"model":"m","max_tokens":5,"mcp_servers":[],"messages":[{"role":"user","content":"x"}]})", "mcp_servers"},
  };
  for (const auto& c : cases) {
    json out;
    auto e = convert(c.body, out);
    ASSERT_TRUE(e.has_value()) << c.body;
    EXPECT_EQ(e->status, 400) << c.body;
    EXPECT_EQ(e->type, "invalid_request_error") << c.body;
    EXPECT_EQ(e->param, c.param) << c.body;
    if (!std::string_view(c.param).empty()) {
      EXPECT_NE(e->message.find(std::string("'") + c.param + "'"), std::string::npos)
          << e->message;
    }
  }
}

TEST(AnthropicRequest, ConvertsEveryMappedField) {
  json out;
  auto e = convert(R"({
    "model": "claude-x", "max_tokens": 1024, "stream": true,
    "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
      {"role": "user", "content": "What is the weather in Paris?"},
      {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C"},
        {"type": "text", "text": "And this picture?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}}]},
      {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_02", "name": "lookup", "input": {}},
        {"type": "tool_use", "id": "toolu_03", "name": "lookup", "input": {"q": [1, 2]}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_02", "is_error": true,
         "content": [{"type": "text", "text": "not found"}, {"type": "text", "text": "try again"}]},
        {"type": "tool_result", "tool_use_id": "toolu_03"}]},
      {"role": "system", "content": "Answer in French."},
      {"role": "assistant", "content": "Bien."}],
    "tools": [{"name": "get_weather", "description": "Weather by city",
               "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
               "cache_control": {"type": "ephemeral"}},
              {"type": "custom", "name": "lookup", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
    "stop_sequences": ["END", "STOP"], "temperature": 0.5, "top_p": 0.9,
    "metadata": {"user_id": "user-7"}, "service_tier": "auto",
    "thinking": {"type": "disabled"}
  })",
                   out);
  ASSERT_FALSE(e.has_value()) << e->message;
  auto expected = json::parse(R"({
    "model": "claude-x", "max_tokens": 1024, "stream": true,
    "messages": [
      {"role": "system", "content": [{"type": "text", "text": "You are terse.",
                                      "cache_control": {"type": "ephemeral"}}]},
      {"role": "user", "content": "What is the weather in Paris?"},
      {"role": "assistant", "content": "Checking.",
       "thinking_blocks": [{"type": "thinking", "thinking": "hmm", "signature": "sig"}],
       "tool_calls": [
        {"id": "toolu_01", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "toolu_01", "content": "18C"},
      {"role": "user", "content": [
        {"type": "text", "text": "And this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}]},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "toolu_02", "type": "function", "function": {"name": "lookup", "arguments": "{}"}},
        {"id": "toolu_03", "type": "function",
         "function": {"name": "lookup", "arguments": "{\"q\":[1,2]}"}}]},
      {"role": "tool", "tool_call_id": "toolu_02", "content": "Error: not found\ntry again"},
      {"role": "tool", "tool_call_id": "toolu_03", "content": ""},
      {"role": "system", "content": "Answer in French."},
      {"role": "assistant", "content": "Bien."}],
    "tools": [
      {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
       "cache_control": {"type": "ephemeral"}},
      {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
    "tool_choice": "required", "parallel_tool_calls": false,
    "stop": ["END", "STOP"], "temperature": 0.5, "top_p": 0.9, "user": "user-7"
  })");
  EXPECT_EQ(out, expected) << out.dump(2);
}

// The Anthropic extensions ride in the canonical model (thinking, cache breakpoints on parts,
// redacted thinking), so an Anthropic target gets them back as the client sent them.
TEST(AnthropicRequest, CarriesThinkingAndCacheBreakpoints) {
  json out;
  auto e = convert(R"({
    "model": "claude-x", "max_tokens": 4096,
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "messages": [
      {"role": "user", "content": [{"type": "text", "text": "long document",
                                    "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
      {"role": "assistant", "content": [
        {"type": "redacted_thinking", "data": "EnCrYpTeD"},
        {"type": "text", "text": "Done."}]},
      {"role": "user", "content": "next"}]
  })",
                   out);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_EQ(out["thinking"], json::parse(R"({"type":"enabled","budget_tokens":2048})"));
  EXPECT_EQ(out["messages"][0]["content"],
            json::parse(R"([{"type":"text","text":"long document",
                             "cache_control":{"type":"ephemeral","ttl":"1h"}}])"));
  EXPECT_EQ(out["messages"][1]["thinking_blocks"],
            json::parse(R"([{"type":"redacted_thinking","data":"EnCrYpTeD"}])"));
  EXPECT_EQ(out["messages"][1]["content"], "Done.");
  // Disabled thinking is no request for it.
  json plain;
  ASSERT_FALSE(convert(R"({"model":"m","max_tokens":5,"thinking":{"type":"disabled"},
                           "messages":[{"role":"user","content":"x"}]})",
                       plain)
                   .has_value());
  EXPECT_FALSE(plain.contains("thinking"));
}

TEST(AnthropicRequest, ToolChoiceAndSystemForms) {
  struct Case {
    const char* tool_choice;
    const char* expected;
  };
  const Case cases[] = {{R"({"type":"auto"})", R"("auto")"},
                        {R"({"type":"any"})", R"("required")"},
                        {R"({"type":"none"})", R"("none")"},
                        {R"({"type":"tool","name":"f"})",
                         R"({"type":"function","function":{"name":"f"}})"}};
  for (const auto& c : cases) {
    json in = json::parse(R"({"model":"m","max_tokens":3,"system":"Be brief.",
      "messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],
      "tools":[{"name":"f","input_schema":{"type":"object"}}]})");
    in["tool_choice"] = json::parse(c.tool_choice);
    json out;
    ASSERT_FALSE(anthropic_to_openai(in, out).has_value());
    EXPECT_EQ(out["tool_choice"], json::parse(c.expected)) << c.tool_choice;
    EXPECT_FALSE(out.contains("parallel_tool_calls"));
    EXPECT_EQ(out["messages"][0], json::parse(R"({"role":"system","content":"Be brief."})"));
    // A single text block reads as plain text.
    EXPECT_EQ(out["messages"][1], json::parse(R"({"role":"user","content":"hi"})"));
    EXPECT_FALSE(out.contains("stream"));
  }
}

TEST(AnthropicRequest, DecodeInPlaceKeepsTheBodyOnError) {
  auto body = json::parse(R"({"model":"m","messages":[{"role":"user","content":"x"}]})");
  auto original = body;
  EXPECT_TRUE(decode_anthropic_request(body).has_value());
  EXPECT_EQ(body, original);
  body["max_tokens"] = 9;
  EXPECT_FALSE(decode_anthropic_request(body).has_value());
  EXPECT_EQ(body, json::parse(R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"x"}]})"));
}

// ---------------------------------------------------------------------------------------------
// Complete answers
// ---------------------------------------------------------------------------------------------

TEST(AnthropicResponse, TextCompletion) {
  auto out = openai_completion_to_anthropic(R"({
    "id":"chatcmpl-abc","object":"chat.completion","created":1,"model":"gpt-x",
    "choices":[{"index":0,"message":{"role":"assistant","content":"Hi!","refusal":null},
                "logprobs":null,"finish_reason":"stop"}],
    "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,
             "prompt_tokens_details":{"cached_tokens":4}}})");
  ASSERT_TRUE(out);
  EXPECT_EQ(json::parse(*out), json::parse(R"({
    "id":"msg_abc","type":"message","role":"assistant","model":"gpt-x",
    "content":[{"type":"text","text":"Hi!"}],"stop_reason":"end_turn","stop_sequence":null,
    "usage":{"input_tokens":15,"output_tokens":10,"cache_read_input_tokens":4,
             "cache_creation_input_tokens":0}})"));
  // Key order as Anthropic sends it (type/id first).
  EXPECT_EQ(out->rfind(R"({"id":"msg_abc","type":"message","role":"assistant")", 0), 0u) << *out;
}

TEST(AnthropicResponse, ToolCallsBecomeToolUseBlocks) {
  auto out = openai_completion_to_anthropic(R"({
    "id":"chatcmpl-t","object":"chat.completion","model":"gpt-x",
    "choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
      {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
      {"id":"call_2","type":"function","function":{"name":"now","arguments":""}}]},
      "finish_reason":"tool_calls"}],
    "usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}})");
  ASSERT_TRUE(out);
  auto j = json::parse(*out);
  EXPECT_EQ(j["content"], json::parse(R"([
    {"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}},
    {"type":"tool_use","id":"call_2","name":"now","input":{}}])"));
  EXPECT_EQ(j["stop_reason"], "tool_use");
  EXPECT_EQ(j["usage"]["input_tokens"], 7);
  EXPECT_EQ(j["usage"]["output_tokens"], 3);
}

TEST(AnthropicResponse, ThinkingComesFirstWithItsSignature) {
  auto out = openai_completion_to_anthropic(R"({
    "id":"chatcmpl-r","object":"chat.completion","model":"claude-x",
    "choices":[{"index":0,"message":{"role":"assistant","content":"4",
      "reasoning_content":"2+2","thinking_blocks":[
        {"type":"thinking","thinking":"2+2","signature":"c2ln"},
        {"type":"redacted_thinking","data":"EnC"}]},"finish_reason":"stop"}]})");
  ASSERT_TRUE(out);
  EXPECT_EQ(json::parse(*out)["content"], json::parse(R"([
    {"type":"thinking","thinking":"2+2","signature":"c2ln"},
    {"type":"redacted_thinking","data":"EnC"},
    {"type":"text","text":"4"}])"));
  // Another model's reasoning (no thinking_blocks): one unsigned thinking block.
  out = openai_completion_to_anthropic(R"({
    "id":"chatcmpl-d","object":"chat.completion","model":"deepseek-r",
    "choices":[{"index":0,"message":{"role":"assistant","content":"4",
      "reasoning_content":"2+2"},"finish_reason":"stop"}]})");
  ASSERT_TRUE(out);
  EXPECT_EQ(json::parse(*out)["content"][0],
            json::parse(R"({"type":"thinking","thinking":"2+2","signature":""})"));
}

TEST(AnthropicResponse, FinishReasons) {
  const std::pair<const char*, const char*> cases[] = {{"stop", "end_turn"},
                                                       {"length", "max_tokens"},
                                                       {"tool_calls", "tool_use"},
                                                       {"function_call", "tool_use"},
                                                       {"content_filter", "refusal"},
                                                       {"something_new", "end_turn"}};
  for (const auto& [finish, stop] : cases) {
    json body = json::parse(
        R"({"id":"chatcmpl-x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"a"}}]})");
    body["choices"][0]["finish_reason"] = finish;
    auto out = openai_completion_to_anthropic(body.dump());
    ASSERT_TRUE(out);
    EXPECT_EQ(json::parse(*out)["stop_reason"], stop) << finish;
    EXPECT_EQ(json::parse(*out)["usage"], json::parse(R"({"input_tokens":0,"output_tokens":0})"));
  }
  EXPECT_FALSE(openai_completion_to_anthropic("not json"));
  EXPECT_FALSE(openai_completion_to_anthropic(R"({"object":"list","data":[]})"));
}

TEST(AnthropicResponse, RefusalIsText) {
  auto out = openai_completion_to_anthropic(R"({"id":"chatcmpl-r","model":"m","choices":[{"index":0,
    "message":{"role":"assistant","content":null,"refusal":"I can't help with that."},
    "finish_reason":"content_filter"}]})");
  ASSERT_TRUE(out);
  auto j = json::parse(*out);
  EXPECT_EQ(j["content"], json::parse(R"([{"type":"text","text":"I can't help with that."}])"));
  EXPECT_EQ(j["stop_reason"], "refusal");
}

TEST(AnthropicErrors, StatusToTypeAndMessage) {
  const std::pair<int, const char*> cases[] = {
      {400, "invalid_request_error"}, {401, "authentication_error"}, {403, "permission_error"},
      {404, "not_found_error"},       {405, "invalid_request_error"}, {413, "request_too_large"},
      {429, "rate_limit_error"},      {500, "api_error"},             {502, "api_error"},
      {503, "overloaded_error"},      {504, "timeout_error"},         {529, "overloaded_error"}};
  for (const auto& [status, type] : cases) {
    EXPECT_EQ(anthropic_error_type(status), type) << status;
    auto body = json::parse(anthropic_error_body(
        status, R"({"error":{"message":"boom","type":"x","param":null,"code":"c"}})", "req-1"));
    EXPECT_EQ(body, json::parse(std::string(R"({"type":"error","error":{"type":")") + type +
                                R"(","message":"boom"},"request_id":"req-1"})"));
  }
  auto plain = json::parse(anthropic_error_body(502, "Bad Gateway\n", ""));
  EXPECT_EQ(plain["error"]["message"], "Bad Gateway");
  EXPECT_FALSE(plain.contains("request_id"));
  auto gw = json::parse(anthropic_error_body(api::model_not_found("nope"), ""));
  EXPECT_EQ(gw["error"]["type"], "not_found_error");
  EXPECT_EQ(gw["error"]["message"], "The model 'nope' does not exist.");
}

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(LLMGW_SOURCE_DIR) + "/tests/fixtures/openai/" + name,
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Feeds `parts` in order, then finishes.
std::string translate(const std::vector<std::string_view>& parts) {
  AnthropicStreamTranslator t;
  std::string out;
  for (auto p : parts) {
    t.feed(p, out);
  }
  t.finish(out);
  return out;
}

struct Event {
  std::string name;
  json data;
};

// Parses the translator's output strictly: every event is exactly `event: X\ndata: {json}\n\n`
// with `type` == X inside the data.
std::vector<Event> parse_events(const std::string& text) {
  std::vector<Event> events;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated event at " << pos;
    if (end == std::string::npos) {
      break;
    }
    std::string_view block(text.data() + pos, end - pos);
    pos = end + 2;
    auto nl = block.find('\n');
    EXPECT_TRUE(block.starts_with("event: ")) << block;
    EXPECT_NE(nl, std::string_view::npos) << block;
    if (nl == std::string_view::npos) {
      continue;
    }
    auto data = block.substr(nl + 1);
    EXPECT_TRUE(data.starts_with("data: ")) << block;
    EXPECT_EQ(data.find('\n'), std::string_view::npos) << "one data line: " << block;
    Event ev;
    ev.name = std::string(block.substr(7, nl - 7));
    ev.data = json::parse(data.substr(6), nullptr, false);
    EXPECT_TRUE(ev.data.is_object()) << block;
    EXPECT_EQ(ev.data.value("type", ""), ev.name) << block;
    events.push_back(std::move(ev));
  }
  return events;
}

// Checks the order MessageStream relies on; returns the message it would accumulate.
json accumulate(const std::vector<Event>& events) {
  json message;
  int open = -1;
  std::string partial_json;
  EXPECT_FALSE(events.empty());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& ev = events[i];
    if (ev.name == "message_start") {
      EXPECT_EQ(i, 0u);
      message = ev.data["message"];
      EXPECT_EQ(message["content"], json::array());
      EXPECT_TRUE(message["usage"].is_object());
    } else if (ev.name == "content_block_start") {
      EXPECT_EQ(open, -1) << "block started while another is open";
      int index = ev.data["index"];
      EXPECT_EQ(index, static_cast<int>(message["content"].size())) << "indexes 0,1,2…";
      open = index;
      message["content"].push_back(ev.data["content_block"]);
      partial_json.clear();
    } else if (ev.name == "content_block_delta") {
      int index = ev.data["index"];
      EXPECT_EQ(index, open) << "delta outside its open block";
      const auto& d = ev.data["delta"];
      auto& block = message["content"][static_cast<std::size_t>(index)];
      if (d["type"] == "text_delta") {
        EXPECT_EQ(block["type"], "text");
        block["text"] = block["text"].get<std::string>() + d["text"].get<std::string>();
      } else if (d["type"] == "thinking_delta") {
        EXPECT_EQ(block["type"], "thinking");
        EXPECT_EQ(block["signature"], "") << "thinking after the signature";
        block["thinking"] = block["thinking"].get<std::string>() + d["thinking"].get<std::string>();
      } else if (d["type"] == "signature_delta") {
        EXPECT_EQ(block["type"], "thinking");
        block["signature"] = d["signature"];
      } else {
        EXPECT_EQ(d["type"], "input_json_delta");
        EXPECT_EQ(block["type"], "tool_use");
        partial_json += d["partial_json"].get<std::string>();
      }
    } else if (ev.name == "content_block_stop") {
      EXPECT_EQ(ev.data["index"], open);
      auto& block = message["content"][static_cast<std::size_t>(open)];
      if (block["type"] == "tool_use" && !partial_json.empty()) {
        block["input"] = json::parse(partial_json);
      }
      open = -1;
    } else if (ev.name == "message_delta") {
      EXPECT_EQ(open, -1);
      EXPECT_TRUE(ev.data["usage"].contains("output_tokens"));
      message["stop_reason"] = ev.data["delta"]["stop_reason"];
      EXPECT_TRUE(ev.data["delta"]["stop_sequence"].is_null());
      for (const auto& [k, v] : ev.data["usage"].items()) {
        message["usage"][k] = v;
      }
    } else if (ev.name == "message_stop") {
      EXPECT_EQ(i + 1, events.size()) << "message_stop is last";
      EXPECT_EQ(events[i - 1].name, "message_delta");
    } else {
      ADD_FAILURE() << "unexpected event " << ev.name;
    }
  }
  return message;
}

// The translation must not depend on how the bytes were cut into write() calls.
void expect_split_invariant(const std::string& input) {
  auto whole = translate({input});
  for (std::size_t cut = 1; cut < input.size(); ++cut) {
    std::string_view v(input);
    auto split = translate({v.substr(0, cut), v.substr(cut)});
    ASSERT_EQ(split, whole) << "split at byte " << cut;
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) {
    bytes.push_back(std::string_view(input).substr(i, 1));
  }
  ASSERT_EQ(translate(bytes), whole) << "byte by byte";
}

TEST(AnthropicStream, ExactEventsForASmallStream) {
  auto out = translate({
      R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null})"
      "\n\n"
      R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-x","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null})"
      "\n\n"
      R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null})"
      "\n\n"
      R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-x","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}})"
      "\n\n"
      "data: [DONE]\n\n"});
  EXPECT_EQ(out,
            "event: message_start\n"
            R"(data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"gpt-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}})"
            "\n\n"
            "event: content_block_start\n"
            R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
            "\n\n"
            "event: content_block_delta\n"
            R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})"
            "\n\n"
            "event: content_block_stop\n"
            R"(data: {"type":"content_block_stop","index":0})"
            "\n\n"
            "event: message_delta\n"
            R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":1,"input_tokens":5,"cache_read_input_tokens":0}})"
            "\n\n"
            "event: message_stop\n"
            R"(data: {"type":"message_stop"})"
            "\n\n");
}

// An Anthropic target's thinking comes back whole: reasoning_content deltas and the
// signature (the canonical thinking_blocks) become one signed thinking block before the text,
// a redacted block stays whole, and the indexes still count 0, 1, 2...
TEST(AnthropicStream, ThinkingBlocksWithTheirSignatures) {
  const std::string head =
      R"(data: {"id":"chatcmpl-t","object":"chat.completion.chunk","model":"claude-x","choices":[{"index":0,"delta":)";
  const std::string tail = R"(,"finish_reason":null}]})" "\n\n";
  const std::string input =
      head + R"({"role":"assistant","content":""})" + tail +
      head + R"({"reasoning_content":"Let me "})" + tail +
      head + R"({"reasoning_content":"think."})" + tail +
      head + R"({"thinking_blocks":[{"type":"thinking","thinking":"","signature":"c2ln"}]})" + tail +
      head + R"({"thinking_blocks":[{"type":"redacted_thinking","data":"EnC"}]})" + tail +
      head + R"({"content":"Four."})" + tail +
      R"(data: {"id":"chatcmpl-t","object":"chat.completion.chunk","model":"claude-x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
      "\n\ndata: [DONE]\n\n";
  auto message = accumulate(parse_events(translate({input})));
  EXPECT_EQ(message["content"], json::parse(R"([
    {"type":"thinking","thinking":"Let me think.","signature":"c2ln"},
    {"type":"redacted_thinking","data":"EnC"},
    {"type":"text","text":"Four."}])"));
  expect_split_invariant(input);
}

TEST(AnthropicStream, TextFixture) {
  auto input = read_fixture("chat-stream-text.sse");
  ASSERT_FALSE(input.empty());
  auto events = parse_events(translate({input}));
  auto message = accumulate(events);
  EXPECT_EQ(message["id"], "msg_ABfw031mOJeYCSHe4yI2ZjOA6kMJL");
  EXPECT_EQ(message["model"], "gpt-4o-2024-08-06");
  ASSERT_EQ(message["content"].size(), 1u);
  EXPECT_EQ(message["content"][0]["text"],
            "I'm unable to provide real-time weather updates. To get the current weather in San "
            "Francisco, I recommend checking a reliable weather website or a weather app.")
      << message.dump();
  EXPECT_EQ(message["stop_reason"], "end_turn");
  // The usage-only chunk is consumed: its numbers land in message_delta.
  EXPECT_EQ(message["usage"]["output_tokens"], 30);
  EXPECT_EQ(message["usage"]["input_tokens"], 14);
  expect_split_invariant(input);
}

TEST(AnthropicStream, ToolCallFixture) {
  auto input = read_fixture("chat-stream-tool-call.sse");
  ASSERT_FALSE(input.empty());
  auto events = parse_events(translate({input}));
  auto message = accumulate(events);
  ASSERT_EQ(message["content"].size(), 1u);
  const auto& block = message["content"][0];
  EXPECT_EQ(block["type"], "tool_use");
  EXPECT_EQ(block["id"], "call_c91SqDXlYFuETYv8mUHzz6pp");
  EXPECT_EQ(block["name"], "GetWeatherArgs");
  EXPECT_EQ(block["input"],
            json::parse(R"({"city":"Edinburgh","country":"UK","units":"c"})"));
  EXPECT_EQ(message["stop_reason"], "tool_use");
  // The usage-only chunk is consumed: its numbers land in message_delta.
  EXPECT_EQ(message["usage"]["output_tokens"], 24);
  EXPECT_EQ(message["usage"]["input_tokens"], 76);
  EXPECT_EQ(events.size(), 1u + 1 + 14 + 1 + 1 + 1)
      << "message_start, block start, 14 fragments, block stop, message_delta, message_stop";
  expect_split_invariant(input);
}

TEST(AnthropicStream, ParallelToolCallsFixture) {
  auto input = read_fixture("chat-stream-parallel-tool-calls.sse");
  ASSERT_FALSE(input.empty());
  auto events = parse_events(translate({input}));
  auto message = accumulate(events);
  ASSERT_EQ(message["content"].size(), 2u);
  EXPECT_EQ(message["content"][0]["id"], "call_JMW1whyEaYG438VE1OIflxA2");
  EXPECT_EQ(message["content"][0]["input"],
            json::parse(R"({"city":"Edinburgh","country":"GB","units":"c"})"));
  EXPECT_EQ(message["content"][1]["id"], "call_DNYTawLBoN8fj3KN6qU9N1Ou");
  EXPECT_EQ(message["content"][1]["name"], "get_stock_price");
  EXPECT_EQ(message["content"][1]["input"],
            json::parse(R"({"ticker":"AAPL","exchange":"NASDAQ"})"));
  EXPECT_EQ(message["stop_reason"], "tool_use");
  EXPECT_EQ(message["usage"]["output_tokens"], 60);
  expect_split_invariant(input);
}

TEST(AnthropicStream, TextThenToolGetIncreasingIndexes) {
  auto out = translate({
      R"(data: {"id":"chatcmpl-2","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Let me check."},"finish_reason":null}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-2","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"x\":"}}]},"finish_reason":null}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-2","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"finish_reason":null}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-2","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"g","arguments":""}}]},"finish_reason":null}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-2","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"
      "\n\n"
      "data: [DONE]\n\n"});
  auto events = parse_events(out);
  auto message = accumulate(events);
  ASSERT_EQ(message["content"].size(), 3u);
  EXPECT_EQ(message["content"][0], json::parse(R"({"type":"text","text":"Let me check."})"));
  EXPECT_EQ(message["content"][1]["input"], json::parse(R"({"x":1})"));
  EXPECT_EQ(message["content"][2], json::parse(R"({"type":"tool_use","id":"call_b","name":"g","input":{}})"));
  std::vector<std::string> names;
  for (const auto& e : events) {
    names.push_back(e.name + (e.data.contains("index") ? std::to_string(e.data["index"].get<int>()) : ""));
  }
  const std::vector<std::string> expected = {
      "message_start",         "content_block_start0", "content_block_delta0",
      "content_block_stop0",   "content_block_start1", "content_block_delta1",
      "content_block_delta1",  "content_block_stop1",  "content_block_start2",
      "content_block_stop2",   "message_delta",        "message_stop"};
  EXPECT_EQ(names, expected);
}

TEST(AnthropicStream, FinishReasonLengthAndMissingDone) {
  auto out = translate({
      R"(data: {"id":"chatcmpl-3","model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-3","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"length"}]})"
      "\n\n"});
  auto message = accumulate(parse_events(out));
  EXPECT_EQ(message["stop_reason"], "max_tokens");
}

TEST(AnthropicStream, UsageOnEveryChunkAndOneShotToolCalls) {
  // vLLM continuous_usage_stats puts usage on every chunk (message_start can carry input
  // tokens); Ollama sends a whole tool call in one fragment.
  auto events = parse_events(translate({
      R"(data: {"id":"chatcmpl-7","model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_o","type":"function","function":{"name":"f","arguments":"{\"k\":true}"}}]},"finish_reason":null}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}})"
      "\n\n"
      R"(data: {"id":"chatcmpl-7","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}})"
      "\n\ndata: [DONE]\n\n"}));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].data["message"]["usage"]["input_tokens"], 9);
  auto message = accumulate(events);
  EXPECT_EQ(message["content"][0]["input"], json::parse(R"({"k":true})"));
  EXPECT_EQ(message["usage"]["output_tokens"], 3);
}

TEST(AnthropicStream, ErrorEvent) {
  const std::string input =
      R"(data: {"id":"chatcmpl-4","model":"m","choices":[{"index":0,"delta":{"content":"par"},"finish_reason":null}]})"
      "\n\n"
      R"(data: {"error":{"message":"The upstream stream failed","type":"server_error","param":null,"code":"upstream_stream_failed"}})"
      "\n\n";
  auto out = translate({input});
  auto events = parse_events(out);
  ASSERT_EQ(events.size(), 4u) << out;
  EXPECT_EQ(events[0].name, "message_start");
  EXPECT_EQ(events[1].name, "content_block_start");
  EXPECT_EQ(events[2].name, "content_block_delta");
  EXPECT_EQ(events[3].name, "error");
  EXPECT_EQ(events[3].data, json::parse(R"({"type":"error","error":{"type":"api_error","message":"The upstream stream failed"}})"));
  expect_split_invariant(input);
}

TEST(AnthropicStream, UnfinishedStreamEndsWithAnError) {
  auto events = parse_events(translate({
      R"(data: {"id":"chatcmpl-5","model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]})"
      "\n\n"}));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().name, "error");
  EXPECT_TRUE(parse_events(translate({})).back().name == "error");
}

TEST(AnthropicStream, CommentsAndCrlfAreTolerated) {
  const std::string input =
      ": keep-alive\r\n\r\n"
      R"(data: {"id":"chatcmpl-6","model":"m","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]})"
      "\r\n\r\ndata: [DONE]\r\n\r\n";
  auto message = accumulate(parse_events(translate({input})));
  EXPECT_EQ(message["content"][0]["text"], "x");
  expect_split_invariant(input);
}

// ---------------------------------------------------------------------------------------------
// The sink
// ---------------------------------------------------------------------------------------------

class RecordingSink final : public api::ByteSink {
public:
  asio::awaitable<bool> send(int s, std::vector<common::Header> h, std::string b) override {
    status = s;
    headers = std::move(h);
    body = std::move(b);
    started_ = true;
    co_return true;
  }
  asio::awaitable<bool> start_stream(int s, std::vector<common::Header> h) override {
    status = s;
    headers = std::move(h);
    started_ = true;
    streaming = true;
    co_return true;
  }
  asio::awaitable<bool> write(std::string_view bytes) override {
    EXPECT_FALSE(bytes.empty()) << "an empty write would end a chunked body";
    body += bytes;
    ++writes;
    co_return true;
  }
  asio::awaitable<bool> end_stream() override {
    ended = true;
    co_return true;
  }
  bool started() const override { return started_; }

  std::string header(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.name == name) {
        return h.value;
      }
    }
    return {};
  }

  int status = 0;
  std::vector<common::Header> headers;
  std::string body;
  int writes = 0;
  bool streaming = false;
  bool ended = false;

private:
  bool started_ = false;
};

template <class F>
void run(F f) {
  asio::io_context io;
  auto done = asio::co_spawn(io, f(), asio::use_future);
  io.run();
  done.get();
}

TEST(AnthropicSinkTest, ErrorAnswersKeepTheStatus) {
  RecordingSink inner;
  AnthropicSink sink(inner);
  run([&]() -> asio::awaitable<void> {
    auto headers = common::make_headers("x-request-id", "rid-1", "content-type", "application/json");
    auto body = api::openai_error_body(api::invalid_api_key("Invalid API key."));
    co_await sink.send(401, std::move(headers), std::move(body));
  });
  EXPECT_EQ(inner.status, 401);
  EXPECT_EQ(inner.header("request-id"), "rid-1");
  EXPECT_EQ(inner.header("content-type"), "application/json");
  EXPECT_EQ(json::parse(inner.body), json::parse(R"({"type":"error","error":{"type":"authentication_error","message":"Invalid API key."},"request_id":"rid-1"})"));
  EXPECT_TRUE(sink.started());
}

TEST(AnthropicSinkTest, CompletionAndUntranslatableBody) {
  RecordingSink inner;
  AnthropicSink sink(inner);
  run([&]() -> asio::awaitable<void> {
    auto headers = common::make_headers("content-type", "application/json");
    std::string body = R"({"id":"chatcmpl-z","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]})";
    co_await sink.send(200, std::move(headers), std::move(body));
  });
  EXPECT_EQ(inner.status, 200);
  EXPECT_EQ(json::parse(inner.body)["content"][0]["text"], "ok");

  RecordingSink inner2;
  AnthropicSink sink2(inner2);
  run([&]() -> asio::awaitable<void> {
    auto headers = common::make_headers("content-type", "application/json");
    std::string body = "<html>";
    co_await sink2.send(200, std::move(headers), std::move(body));
  });
  EXPECT_EQ(inner2.status, 502);
  EXPECT_EQ(json::parse(inner2.body)["error"]["type"], "api_error");
}

TEST(AnthropicSinkTest, StreamIsTranslatedAsItArrives) {
  auto input = read_fixture("chat-stream-tool-call.sse");
  RecordingSink inner;
  AnthropicSink sink(inner);
  run([&]() -> asio::awaitable<void> {
    auto headers = common::make_headers("x-request-id", "rid-2", "content-type",
                                           "text/event-stream; charset=utf-8");
    co_await sink.start_stream(200, std::move(headers));
    // Uneven slices, some ending mid-event.
    std::string_view rest(input);
    std::size_t n = 1;
    while (!rest.empty()) {
      auto slice = rest.substr(0, n);
      rest.remove_prefix(slice.size());
      co_await sink.write(slice);
      n = n * 3 % 97 + 1;
    }
    co_await sink.end_stream();
  });
  EXPECT_TRUE(inner.streaming);
  EXPECT_TRUE(inner.ended);
  EXPECT_EQ(inner.header("request-id"), "rid-2");
  EXPECT_EQ(inner.header("content-type"), "text/event-stream; charset=utf-8");
  EXPECT_EQ(inner.body, translate({input}));
  EXPECT_GT(inner.writes, 5);  // chunk by chunk, not buffered to the end
}

// The router hands each event over parsed (api::StreamEvent): the face renders that chunk and
// gets the same Anthropic stream as from the bytes.
TEST(AnthropicSinkTest, ParsedEventsRenderAsTheirBytesWould) {
  auto input = read_fixture("chat-stream-tool-call.sse");
  RecordingSink inner;
  AnthropicSink sink(inner);
  std::vector<std::string> events;
  for (std::string_view rest(input); !rest.empty();) {
    auto end = rest.find("\n\n");
    auto size = end == std::string_view::npos ? rest.size() : end + 2;
    events.emplace_back(rest.substr(0, size));
    rest.remove_prefix(size);
  }
  run([&]() -> asio::awaitable<void> {
    std::vector<common::Header> headers;
    co_await sink.start_stream(200, std::move(headers));
    for (const auto& sse : events) {
      api::StreamEvent ev;
      ev.sse = sse;
      std::string_view data(sse);
      data.remove_prefix(std::min<std::size_t>(6, data.size()));
      while (!data.empty() && data.back() == '\n') {
        data.remove_suffix(1);
      }
      ev.done = data == "[DONE]";
      json chunk = ev.done ? json() : json::parse(data, nullptr, false);
      if (chunk.is_object()) {
        ev.chunk = &chunk;
      }
      co_await sink.event(ev);
    }
    co_await sink.end_stream();
  });
  EXPECT_EQ(inner.body, translate({input}));
  EXPECT_NE(inner.body.find("event: message_stop"), std::string::npos);
}

TEST(AnthropicSinkTest, AGatewayErrorBeforeTheAnswerIsAnAnthropicErrorBody) {
  RecordingSink inner;
  AnthropicSink sink(inner);
  run([&]() -> asio::awaitable<void> {
    auto headers = common::make_headers("x-request-id", "rid-3");
    auto e = api::no_healthy_upstream("a: down");
    co_await sink.fail(e, std::move(headers));
  });
  EXPECT_EQ(inner.status, 503);
  EXPECT_EQ(inner.header("request-id"), "rid-3");
  EXPECT_EQ(inner.header("content-type"), "application/json");
  auto body = json::parse(inner.body);
  EXPECT_EQ(body["type"], "error");
  EXPECT_EQ(body["error"]["type"], "overloaded_error");
  EXPECT_EQ(body["request_id"], "rid-3");
  EXPECT_NE(body["error"]["message"].get<std::string>().find("a: down"), std::string::npos);
}

TEST(AnthropicSinkTest, AGatewayErrorMidStreamClosesTheBlockWithAnErrorEvent) {
  RecordingSink inner;
  AnthropicSink sink(inner);
  run([&]() -> asio::awaitable<void> {
    auto headers = common::make_headers("content-type", "text/event-stream");
    co_await sink.start_stream(200, std::move(headers));
    co_await sink.write(
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n");
    api::GatewayError e{502, "upstream_stream_failed", "server_error", "it broke", {}};
    std::vector<common::Header> none;
    co_await sink.fail(e, none);
    co_await sink.write("data: [DONE]\n\n");  // nothing after the error event
  });
  EXPECT_TRUE(inner.ended);
  auto events = parse_events(inner.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().name, "message_start");
  EXPECT_EQ(events.back().name, "error");
  EXPECT_EQ(events.back().data["error"]["type"], "api_error");
  EXPECT_EQ(events.back().data["error"]["message"], "it broke");
  EXPECT_EQ(inner.body.find("message_stop"), std::string::npos);
}

// An anthropic target's own events (native) go out as they came; a continuation rendered from
// canonical chunks after them keeps their message, their open text block and their numbering.
TEST(AnthropicSinkTest, NativeEventsGoAsTheyCameAndAContinuationFitsAfterThem) {
  const std::vector<std::string> native = {
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_up\","
      "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\"}}\n\n",
      "event: ping\ndata: {\"type\": \"ping\"}\n\n",
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"web_search_tool_result\",\"content\":[]}}\n\n",
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
      "event: content_block_start\ndata: {\"type\": \"content_block_start\", \"index\": 1, "
      "\"content_block\": {\"type\": \"text\", \"text\": \"\"}}\n\n",
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
      "\"delta\":{\"type\":\"citations_delta\",\"citation\":{\"cited_text\":\"x\"}}}\n\n"};
  RecordingSink inner;
  AnthropicSink sink(inner);
  EXPECT_EQ(sink.dialect(), api::Dialect::anthropic);
  const std::string continuation =
      "data: {\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\",\"model\":\"m\","
      "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" more\"},\"finish_reason\":null}]}\n\n"
      "data: {\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\",\"model\":\"m\","
      "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n";
  run([&]() -> asio::awaitable<void> {
    std::vector<common::Header> headers;
    co_await sink.start_stream(200, std::move(headers));
    for (const auto& sse : native) {
      api::StreamEvent ev;
      ev.sse = sse;
      ev.native = true;
      co_await sink.event(ev);
    }
    co_await sink.write(continuation);  // the canonical path, as after a mid-stream failover
    co_await sink.end_stream();
  });
  std::string relayed;
  for (const auto& sse : native) {
    relayed += sse;
  }
  ASSERT_TRUE(inner.body.starts_with(relayed)) << inner.body;  // byte for byte, ping included
  auto events = parse_events(inner.body.substr(relayed.size()));
  std::vector<std::string> names;
  for (const auto& e : events) {
    names.push_back(e.name);
  }
  // No second message_start; the text block 1 the upstream opened takes the continued text.
  EXPECT_EQ(names, (std::vector<std::string>{"content_block_delta", "content_block_stop",
                                             "message_delta", "message_stop"}));
  EXPECT_EQ(events[0].data["index"], 1);
  EXPECT_EQ(events[0].data["delta"]["text"], " more");
  EXPECT_EQ(events[1].data["index"], 1);
  EXPECT_EQ(events[2].data["delta"]["stop_reason"], "end_turn");
}

TEST(AnthropicSinkTest, ANativeBlockOtherThanTextIsClosedBeforeAContinuationsText) {
  RecordingSink inner;
  AnthropicSink sink(inner);
  run([&]() -> asio::awaitable<void> {
    std::vector<common::Header> headers;
    co_await sink.start_stream(200, std::move(headers));
    for (std::string_view sse :
         {"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n",
          "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
          "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"}) {
      api::StreamEvent ev;
      ev.sse = sse;
      ev.native = true;
      co_await sink.event(ev);
    }
    co_await sink.write(
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n");
    api::GatewayError e{502, "upstream_stream_failed", "server_error", "it broke", {}};
    std::vector<common::Header> none;
    co_await sink.fail(e, none);
  });
  auto events = parse_events(inner.body);
  ASSERT_EQ(events.size(), 6u) << inner.body;
  EXPECT_EQ(events[2].name, "content_block_stop");
  EXPECT_EQ(events[2].data["index"], 0);
  EXPECT_EQ(events[3].name, "content_block_start");
  EXPECT_EQ(events[3].data["index"], 1);
  EXPECT_EQ(events[4].data["delta"]["text"], "hi");
  EXPECT_EQ(events[5].name, "error");
}

TEST(AnthropicSinkTest, ANativeStreamMissingOnlyItsStopIsEnded) {
  RecordingSink inner;
  AnthropicSink sink(inner);
  run([&]() -> asio::awaitable<void> {
    std::vector<common::Header> headers;
    co_await sink.start_stream(200, std::move(headers));
    api::StreamEvent ev;
    ev.sse = "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
             "{\"stop_reason\":\"end_turn\"}}\n\n";
    ev.native = true;
    co_await sink.event(ev);
    co_await sink.end_stream();
  });
  auto events = parse_events(inner.body);
  ASSERT_EQ(events.size(), 2u) << inner.body;
  EXPECT_EQ(events[1].name, "message_stop");
}

TEST(AnthropicSinkTest, ANativeAnswerIsRelayedAsItIs) {
  RecordingSink inner;
  AnthropicSink sink(inner);
  const std::string body = R"({"id":"msg_1","type":"message","content":[{"type":"server_tool_use"}]})";
  run([&]() -> asio::awaitable<void> {
    auto headers = common::make_headers("x-request-id", "rid-9");
    auto copy = body;
    co_await sink.send_native(200, std::move(headers), std::move(copy));
  });
  EXPECT_EQ(inner.status, 200);
  EXPECT_EQ(inner.body, body);
  EXPECT_EQ(inner.header("request-id"), "rid-9");
  EXPECT_EQ(inner.header("content-type"), "application/json");
}

// A batch (rendered from chunks, or relayed native events) is one write to the client.
TEST(AnthropicSinkTest, ABatchOfEventsIsOneWrite) {
  const std::string native =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n"
      "event: ping\ndata: {\"type\":\"ping\"}\n\n";
  const auto cut = native.find("event: ping");
  const std::string chunks =
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\n\n";
  for (bool relayed : {true, false}) {
    RecordingSink inner;
    AnthropicSink sink(inner);
    std::vector<api::StreamEvent> batch(2);
    if (relayed) {
      batch[0].sse = std::string_view(native).substr(0, cut);
      batch[1].sse = std::string_view(native).substr(cut);
      batch[0].native = batch[1].native = true;
    } else {
      const auto half = chunks.find("data:", 1);
      batch[0].sse = std::string_view(chunks).substr(0, half);
      batch[1].sse = std::string_view(chunks).substr(half);
    }
    run([&]() -> asio::awaitable<void> {
      std::vector<common::Header> headers;
      co_await sink.start_stream(200, std::move(headers));
      co_await sink.events(batch);
    });
    EXPECT_EQ(inner.writes, 1) << (relayed ? "relayed" : "rendered");
    if (relayed) {
      EXPECT_EQ(inner.body, native);
    } else {
      auto events = parse_events(inner.body);
      ASSERT_EQ(events.size(), 4u) << inner.body;  // message and block start, two deltas
      EXPECT_EQ(events[0].name, "message_start");
      EXPECT_EQ(events[3].data["delta"]["text"], "b");
    }
  }
}

}  // namespace
}  // namespace llmgw::api::anthropic
