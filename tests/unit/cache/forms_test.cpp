// A cached answer replayed as a stream, and a stream joined into the answer that is cached.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "llmgw/cache/assembly.hpp"
#include "llmgw/cache/replay.hpp"

namespace llmgw::cache {
namespace {

using nlohmann::json;
using api::Operation;

// The data of each event ("[DONE]" as it is, the rest parsed).
std::vector<json> events(const std::string& sse) {
  std::vector<json> out;
  std::size_t at = 0;
  while (at < sse.size()) {
    auto end = sse.find("\n\n", at);
    EXPECT_NE(end, std::string::npos);
    auto event = sse.substr(at, end - at);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    auto data = event.substr(6);
    out.push_back(data == "[DONE]" ? json("[DONE]") : json::parse(data));
    at = end + 2;
  }
  return out;
}

const char* kAnswer = R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,)"
                      R"("model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant",)"
                      R"("content":"Hello there"},"finish_reason":"stop"}],)"
                      R"("usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})";

TEST(ReplayStream, AChatAnswerAsOpenAIChunksEndingWithDone) {
  auto sse = replay_stream(Operation::chat, json::parse(kAnswer), true);
  ASSERT_TRUE(sse);
  auto e = events(*sse);
  ASSERT_EQ(e.size(), 5u);  // role, content, finish, usage, [DONE]
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(e[i]["object"], "chat.completion.chunk");
    EXPECT_EQ(e[i]["id"], "chatcmpl-1");
    EXPECT_EQ(e[i]["model"], "gpt-x");
  }
  EXPECT_EQ(e[0]["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(e[1]["choices"][0]["delta"]["content"], "Hello there");
  EXPECT_EQ(e[2]["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(e[3]["choices"].empty());
  EXPECT_EQ(e[3]["usage"]["total_tokens"], 7);
  EXPECT_EQ(e[4], "[DONE]");
}

TEST(ReplayStream, UsageOnlyWhenAskedFor) {
  auto sse = replay_stream(Operation::chat, json::parse(kAnswer), false);
  ASSERT_TRUE(sse);
  auto e = events(*sse);
  ASSERT_EQ(e.size(), 4u);
  for (const auto& ev : e) {
    EXPECT_FALSE(ev.is_object() && ev.contains("usage"));
  }
}

TEST(ReplayStream, ToolCallsAndTextCompletions) {
  auto answer = json::parse(
      R"({"id":"c","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant",)"
      R"("content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f",)"
      R"("arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}]})");
  auto sse = replay_stream(Operation::chat, answer, true);
  ASSERT_TRUE(sse);
  auto e = events(*sse);
  ASSERT_EQ(e.size(), 4u);  // role, the call, finish, [DONE] (no usage in the answer)
  const auto& call = e[1]["choices"][0]["delta"]["tool_calls"][0];
  EXPECT_EQ(call["index"], 0);
  EXPECT_EQ(call["id"], "call_1");
  EXPECT_EQ(call["function"]["arguments"], "{\"a\":1}");
  EXPECT_EQ(e[2]["choices"][0]["finish_reason"], "tool_calls");

  auto text = json::parse(R"({"id":"t","object":"text_completion","created":1,"model":"m",)"
                          R"("choices":[{"index":0,"text":"abc","finish_reason":"length"}]})");
  auto tsse = replay_stream(Operation::completions, text, false);
  ASSERT_TRUE(tsse);
  auto te = events(*tsse);
  ASSERT_EQ(te.size(), 2u);
  EXPECT_EQ(te[0]["object"], "text_completion");
  EXPECT_EQ(te[0]["choices"][0]["text"], "abc");
  EXPECT_EQ(te[0]["choices"][0]["finish_reason"], "length");
  EXPECT_FALSE(replay_stream(Operation::embeddings, text, false));
  EXPECT_FALSE(replay_stream(Operation::chat, json::parse(R"({"choices":[]})"), false));
}

TEST(AssembleStream, AReplayedStreamJoinsBackIntoItsAnswer) {
  auto sse = replay_stream(Operation::chat, json::parse(kAnswer), true);
  ASSERT_TRUE(sse);
  auto joined = assemble_stream(Operation::chat, *sse, std::nullopt);
  ASSERT_TRUE(joined);
  auto a = json::parse(*joined);
  EXPECT_EQ(a["object"], "chat.completion");
  EXPECT_EQ(a["id"], "chatcmpl-1");
  EXPECT_EQ(a["choices"][0]["message"]["content"], "Hello there");
  EXPECT_EQ(a["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(a["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(a["usage"]["prompt_tokens"], 5);
}

TEST(AssembleStream, ToolCallPiecesJoinAndUsageComesFromTheRouterWhenNotStreamed) {
  std::string sse =
      R"(data: {"id":"c","created":1,"model":"m","choices":[{"index":0,)"
      R"("delta":{"role":"assistant","content":null}}]})"
      "\n\n"
      R"(data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,)"
      R"("id":"call_1","type":"function","function":{"name":"get","arguments":"{\"ci"}}]}}]})"
      "\n\n"
      R"(data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,)"
      R"("function":{"arguments":"ty\":1}"}}]}}]})"
      "\n\n"
      R"(data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"
      "\n\ndata: [DONE]\n\n";
  auto joined = assemble_stream(Operation::chat, sse, TokenUsage{3, 4});
  ASSERT_TRUE(joined);
  auto a = json::parse(*joined);
  const auto& call = a["choices"][0]["message"]["tool_calls"][0];
  EXPECT_EQ(call["id"], "call_1");
  EXPECT_EQ(call["function"]["name"], "get");
  EXPECT_EQ(call["function"]["arguments"], "{\"city\":1}");
  EXPECT_TRUE(a["choices"][0]["message"]["content"].is_null());
  EXPECT_EQ(a["usage"]["total_tokens"], 7);
}

TEST(AssembleStream, ACutStreamIsNoAnswer) {
  std::string head =
      R"(data: {"id":"c","choices":[{"index":0,)"
      R"("delta":{"role":"assistant","content":"Hel"}}]})"
      "\n\n";
  EXPECT_FALSE(assemble_stream(Operation::chat, head, std::nullopt)) << "no finish, no [DONE]";
  std::string finished =
      head + R"(data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
             "\n\n";
  EXPECT_FALSE(assemble_stream(Operation::chat, finished, std::nullopt)) << "no [DONE]";
  EXPECT_TRUE(assemble_stream(Operation::chat, finished + "data: [DONE]\n\n", std::nullopt));
  EXPECT_FALSE(assemble_stream(Operation::chat, head + "data: [DONE]\n\n", std::nullopt))
      << "a choice never finished";
  EXPECT_FALSE(assemble_stream(Operation::chat, "data: {not json\n\ndata: [DONE]\n\n",
                               std::nullopt));
}

TEST(AssembleStream, TextCompletions) {
  std::string sse =
      R"(data: {"id":"t","object":"text_completion","created":1,"model":"m",)"
      R"("choices":[{"index":0,"text":"ab","finish_reason":null}]})"
      "\n\n"
      R"(data: {"id":"t","object":"text_completion","created":1,"model":"m",)"
      R"("choices":[{"index":0,"text":"c","finish_reason":"stop"}]})"
      "\n\ndata: [DONE]\n\n";
  auto joined = assemble_stream(Operation::completions, sse, std::nullopt);
  ASSERT_TRUE(joined);
  auto a = json::parse(*joined);
  EXPECT_EQ(a["object"], "text_completion");
  EXPECT_EQ(a["choices"][0]["text"], "abc");
}

}  // namespace
}  // namespace llmgw::cache
