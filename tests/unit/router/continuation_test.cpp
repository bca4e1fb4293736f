#include "router/continuation.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace llmgw::router {
namespace {

using nlohmann::json;

std::string event(const json& j) { return "data: " + j.dump() + "\n\n"; }

json chunk(const std::string& id, json delta, json finish = nullptr) {
  return json{{"id", id},
              {"object", "chat.completion.chunk"},
              {"created", id == "first" ? 100 : 200},
              {"model", id == "first" ? "gpt-a" : "gpt-b"},
              {"choices", json::array({json{{"index", 0},
                                            {"delta", std::move(delta)},
                                            {"logprobs", nullptr},
                                            {"finish_reason", std::move(finish)}}})}};
}

std::string text_of(const std::string& sse) {
  std::string out;
  std::size_t pos = 0;
  while ((pos = sse.find("data: ", pos)) != std::string::npos) {
    auto end = sse.find("\n\n", pos);
    auto data = sse.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") {
      continue;
    }
    auto j = json::parse(data);
    for (const auto& c : j["choices"]) {
      if (c["delta"].contains("content") && c["delta"]["content"].is_string()) {
        out += c["delta"]["content"].get<std::string>();
      }
    }
  }
  return out;
}

// The router scans events for the tracker when the face relays bytes (no chunk is built) and
// hands it the parsed chunk when the face renders it: both must track the same.
TEST(StreamTracker, TheScanReadsWhatTheParsedChunkSays) {
  const std::vector<std::string> chunks = {
      R"({"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
      R"({"choices":[{"delta":{"content":"caf\u00e9 \"quoted\"\n"},"index":0}],"id":"c2","model":"other"})",
      R"({"id":"c1","choices":[{"index":1,"delta":{"content":"second choice"}},{"index":0,"delta":{"content":"!","extra":{"content":"nested, not text"}}}]})",
      R"({"id":"c1","choices":[{"index":0,"text":" legacy"}],"usage":{"content":"no"}})",
      R"({"id":"c1","choices":[{"index":"0","delta":{"content":"index is no integer"}}]})",
      R"({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":null}}]})",
      R"({"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})",
      R"({"id":"c1","content":"top-level content is not text","choices":[]})",
      R"([1,2,3])",
      R"(not json, "choices")",
  };
  StreamTracker scanned;
  StreamTracker parsed;
  for (const auto& c : chunks) {
    scanned.observe_data(c);
    auto j = json::parse(c, nullptr, false);
    if (j.is_object()) {
      parsed.observe_chunk(j);
    }
    EXPECT_EQ(scanned.text(), parsed.text()) << c;
    EXPECT_EQ(scanned.tool_call_started(), parsed.tool_call_started()) << c;
    EXPECT_EQ(scanned.finished(), parsed.finished()) << c;
  }
  EXPECT_EQ(scanned.id(), "c1");
  EXPECT_EQ(scanned.created(), 7);
  EXPECT_EQ(scanned.model(), "m");
  EXPECT_EQ(scanned.text(), "caf\u00e9 \"quoted\"\n! legacy") << scanned.text();
  EXPECT_TRUE(scanned.tool_call_started());
  EXPECT_TRUE(scanned.finished());
}

TEST(StreamTracker, FollowsIdentityTextAndToolCalls) {
  StreamTracker t;
  t.observe(event(chunk("first", {{"role", "assistant"}, {"content", ""}})) +
            event(chunk("first", {{"content", "Hello"}})));
  t.observe(event(chunk("first", {{"content", " wor"}})));
  EXPECT_TRUE(t.has_identity());
  EXPECT_EQ(t.id(), "first");
  EXPECT_EQ(t.created(), 100);
  EXPECT_EQ(t.model(), "gpt-a");
  EXPECT_EQ(t.text(), "Hello wor");
  EXPECT_FALSE(t.tool_call_started());
  EXPECT_FALSE(t.finished());
  t.observe(event(chunk("first", {{"tool_calls", json::array()}})));
  EXPECT_TRUE(t.tool_call_started());
  t.observe(event(chunk("first", json::object(), "stop")) + "data: [DONE]\n\n");
  EXPECT_TRUE(t.finished());
}

TEST(ContinuationFilter, OneStreamSameIdNoSecondRoleNoRepeats) {
  StreamTracker sent;
  sent.observe(event(chunk("first", {{"role", "assistant"}, {"content", ""}})) +
               event(chunk("first", {{"content", "The quick brown fox jumps"}})));
  ContinuationFilter f(sent);
  auto out = f.rewrite(
      event(chunk("second", {{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}})) +
      // The model restates the last words before continuing: dropped.
      event(chunk("second", {{"content", "brown fox jumps over"}})) +
      event(chunk("second", {{"content", " the lazy dog."}})) +
      event(chunk("second", json::object(), "stop")) + "data: [DONE]\n\n");
  EXPECT_EQ(out.find("second"), std::string::npos) << out;  // every id rewritten
  EXPECT_EQ(out.find("\"role\""), std::string::npos) << out;
  EXPECT_EQ(out.find("gpt-b"), std::string::npos) << out;
  EXPECT_EQ(sent.text() + text_of(out), "The quick brown fox jumps over the lazy dog.");
  EXPECT_NE(out.find("\"finish_reason\":\"stop\""), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 14), "data: [DONE]\n\n");
}

TEST(ContinuationFilter, ShortOverlapsAreKept) {
  StreamTracker sent;
  sent.observe(event(chunk("first", {{"content", "a b"}})));
  ContinuationFilter f(sent);
  // Fewer than 8 matching bytes is more likely a coincidence than a restatement.
  auto out = f.rewrite(event(chunk("second", {{"content", " b c"}})));
  EXPECT_EQ(text_of(out), " b c");
}

TEST(AppendContinuation, AddsPartialAnswerAndInstructionThenRemovesThem) {
  auto body = json::parse(R"({"model":"m","messages":[{"role":"user","content":"q"}]})");
  auto n = append_continuation(body, "partial");
  ASSERT_EQ(body["messages"].size(), 3u);
  EXPECT_EQ(body["messages"][1]["role"], "assistant");
  EXPECT_EQ(body["messages"][1]["content"], "partial");
  EXPECT_EQ(body["messages"][2]["content"], std::string(kContinuationInstruction));
  remove_appended(body, n);
  EXPECT_EQ(body["messages"].size(), 1u);
}

TEST(AppendContinuation, APrefillIsThePartialAnswerAloneWithoutItsTrailingSpace) {
  auto body = json::parse(R"({"model":"m","messages":[{"role":"user","content":"q"}]})");
  const std::string partial = "Dear reader,\n\n";
  auto n = append_continuation(body, partial, ContinuationForm::prefill);
  ASSERT_EQ(n, 1u);
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][1]["role"], "assistant");
  EXPECT_EQ(body["messages"][1]["content"], "Dear reader,");
  remove_appended(body, n);
  EXPECT_EQ(body["messages"].size(), 1u);

  // The model writes the left-out space again: the client, who has it, does not get it twice.
  StreamTracker sent;
  sent.observe(event(chunk("first", {{"content", partial}})));
  ContinuationFilter f(sent, trailing_space(partial));
  EXPECT_EQ(trailing_space(partial), 2u);
  auto out = f.rewrite(event(chunk("second", {{"content", "\n\nThank you."}})));
  EXPECT_EQ(sent.text() + text_of(out), "Dear reader,\n\nThank you.");
}

}  // namespace
}  // namespace llmgw::router

namespace llmgw::router {
namespace {

std::string chunk_with(const std::string& delta) {
  return R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":)" +
         delta + "}]}";
}

TEST(StreamTrackerAnswer, ToolCallDeltasMergeByIndexAndHostileOnesAreIgnored) {
  StreamTracker t;
  t.keep_tool_calls();
  t.observe_data(chunk_with(R"({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]})"));
  t.observe_data(chunk_with(R"({"tool_calls":[{"index":0,"function":null}]})"));
  t.observe_data(chunk_with(R"({"tool_calls":[{"index":0,"function":"x"}]})"));
  t.observe_data(chunk_with(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"a\""}}]})"));
  t.observe_data(chunk_with(R"({"tool_calls":[{"function":{"arguments":":1}"}}]})"));  // no index
  t.observe_data(chunk_with(R"({"tool_calls":[{"index":250,"id":"x","function":{"name":"g"}}]})"));
  t.observe_data(chunk_with(R"({"tool_calls":[{"index":3,"function":{"arguments":"{}"}}]})"));
  auto m = nlohmann::json::parse(t.assistant_message());
  ASSERT_EQ(m["tool_calls"].size(), 1u) << m.dump();  // the nameless call 3 is left out
  EXPECT_EQ(m["tool_calls"][0]["id"], "call_1");
  EXPECT_EQ(m["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
  EXPECT_TRUE(m["content"].is_null());
}

TEST(StreamTrackerAnswer, ThinkingIsKeptWithItsSignature) {
  StreamTracker t;
  t.keep_tool_calls();
  t.observe_data(chunk_with(R"({"reasoning_content":"Let me "})"));
  t.observe_data(chunk_with(R"({"reasoning_content":"think."})"));
  t.observe_data(chunk_with(R"({"thinking_blocks":[{"type":"thinking","thinking":"","signature":"sig"}]})"));
  t.observe_data(chunk_with(R"({"content":"Answer."})"));
  auto m = nlohmann::json::parse(t.assistant_message());
  EXPECT_EQ(m["content"], "Answer.");
  ASSERT_EQ(m["thinking_blocks"].size(), 1u);
  EXPECT_EQ(m["thinking_blocks"][0]["thinking"], "Let me think.");
  EXPECT_EQ(m["thinking_blocks"][0]["signature"], "sig");
}

}  // namespace
}  // namespace llmgw::router
