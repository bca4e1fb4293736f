#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "llmgw/api/sse.hpp"
#include "llmgw/providers/adapter.hpp"

namespace llmgw::providers {
namespace {

using nlohmann::json;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(LLMGW_SOURCE_DIR) + "/tests/fixtures/openai/" + name,
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A 2026 recording (usage chunk + obfuscation) turned back into its SSE wire form.
std::string usage_stream() {
  std::istringstream lines(fixture("chat-stream-obfuscation.chunks.jsonl"));
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) {
      out += "data: " + line + "\n\n";
    }
  }
  return out + "data: [DONE]\n\n";
}

config::ProviderConfig provider(std::string key = "sk-upstream") {
  config::ProviderConfig p;
  p.name = "openai-primary";
  p.kind = config::ProviderKind::openai;
  p.base_url = "https://api.example.test/v1";
  p.url = *common::parse_url(p.base_url);
  p.api_key = std::move(key);
  p.headers["OpenAI-Organization"] = "org-1";
  return p;
}

config::TargetConfig target() {
  config::TargetConfig t;
  t.provider = "openai-primary";
  t.model = "gpt-4o";
  return t;
}

std::vector<json> data_events(const std::string& sse) {
  std::vector<json> out;
  api::SseDecoder d;
  d.feed(sse, [&](const api::SseEvent& e) {
    out.push_back(e.data == "[DONE]" ? json("[DONE]") : json::parse(e.data));
  });
  return out;
}

TEST(OpenAiAdapter, RendersRequestForTarget) {
  auto adapter = make_adapter(config::ProviderKind::openai);
  ASSERT_TRUE(adapter);
  auto body = json::parse(R"({"model":"smart","messages":[{"role":"user","content":"hi"}],"stream":true})");
  auto req = adapter->build_request(Operation::chat, body, provider(), target(), {true, false});
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/v1/chat/completions");
  auto sent = json::parse(req.body);
  EXPECT_EQ(sent["model"], "gpt-4o");                           // rewritten to the target's
  EXPECT_EQ(sent["stream_options"]["include_usage"], true);     // asked on the client's behalf
  EXPECT_EQ(sent["messages"][0]["content"], "hi");
  bool auth = false;
  bool org = false;
  for (const auto& h : req.headers) {
    auth |= h.name == "Authorization" && h.value == "Bearer sk-upstream";
    org |= h.name == "OpenAI-Organization" && h.value == "org-1";
  }
  EXPECT_TRUE(auth);
  EXPECT_TRUE(org);
}

TEST(OpenAiAdapter, NoAuthorizationWithoutKeyAndPathsPerOperation) {
  auto adapter = make_adapter(config::ProviderKind::openai_compatible);
  auto body = json::parse(R"({"model":"e","input":"x"})");
  auto req = adapter->build_request(Operation::embeddings, body, provider(""), target(), {});
  EXPECT_EQ(req.target, "/v1/embeddings");
  for (const auto& h : req.headers) {
    EXPECT_NE(h.name, "Authorization");
  }
  EXPECT_FALSE(json::parse(req.body).contains("stream_options"));
  auto req2 = adapter->build_request(Operation::completions, body, provider(), target(), {});
  EXPECT_EQ(req2.target, "/v1/completions");
}

TEST(OpenAiAdapter, NonStreamUsage) {
  auto adapter = make_adapter(config::ProviderKind::openai);
  Usage usage;
  auto body = fixture("chat-nonstream-basic.json");
  auto out = adapter->translate_response(Operation::chat, body, usage);
  EXPECT_EQ(out, body);  // pass-through: no re-encoding of the client's answer
  EXPECT_TRUE(usage.present);
  auto j = json::parse(body);
  EXPECT_EQ(usage.prompt_tokens, j["usage"]["prompt_tokens"].get<std::uint64_t>());
  EXPECT_EQ(usage.completion_tokens, j["usage"]["completion_tokens"].get<std::uint64_t>());
}

TEST(OpenAiStreamTranslator, StripsUsageChunkTheClientDidNotAskFor) {
  auto adapter = make_adapter(config::ProviderKind::openai);
  auto stream = usage_stream();
  auto upstream_events = data_events(stream);
  for (std::size_t split = 0; split < stream.size(); split += 97) {
    auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
    std::string out;
    ASSERT_TRUE(tr->feed(std::string_view(stream).substr(0, split), out));
    ASSERT_TRUE(tr->feed(std::string_view(stream).substr(split), out));
    ASSERT_TRUE(tr->finish(out));
    auto events = data_events(out);
    ASSERT_EQ(events.size(), upstream_events.size() - 1) << "split " << split;
    for (const auto& e : events) {
      if (e.is_object()) {
        EXPECT_FALSE(e["choices"].empty()) << "usage-only chunk leaked";
      }
    }
    EXPECT_EQ(events.back(), "[DONE]");
    EXPECT_TRUE(tr->usage().present);
    EXPECT_GT(tr->usage().completion_tokens, 0u);
  }
}

TEST(OpenAiStreamTranslator, KeepsUsageChunkWhenAsked) {
  auto adapter = make_adapter(config::ProviderKind::openai);
  auto stream = usage_stream();
  auto tr = adapter->make_stream_translator(Operation::chat, {true, true});
  std::string out;
  ASSERT_TRUE(tr->feed(stream, out));
  ASSERT_TRUE(tr->finish(out));
  EXPECT_EQ(data_events(out).size(), data_events(stream).size());
}

TEST(OpenAiStreamTranslator, RelaysRecordedToolCallStreamUnchanged) {
  auto adapter = make_adapter(config::ProviderKind::openai);
  auto stream = fixture("chat-stream-tool-call.sse");
  std::string whole;
  {
    auto tr = adapter->make_stream_translator(Operation::chat, {true, true});
    ASSERT_TRUE(tr->feed(stream, whole));
    ASSERT_TRUE(tr->finish(whole));
  }
  ASSERT_EQ(data_events(whole), data_events(stream));  // same events, same JSON
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    auto tr = adapter->make_stream_translator(Operation::chat, {true, true});
    std::string out;
    ASSERT_TRUE(tr->feed(std::string_view(stream).substr(0, split), out));
    ASSERT_TRUE(tr->feed(std::string_view(stream).substr(split), out));
    ASSERT_TRUE(tr->finish(out));
    ASSERT_EQ(out, whole) << "split " << split;
  }
}

TEST(OpenAiStreamTranslator, AddsDoneWhenUpstreamFinishedWithoutIt) {
  auto adapter = make_adapter(config::ProviderKind::openai_compatible);
  auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  tr->feed(R"(data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
           "\n\n",
           out);
  EXPECT_TRUE(tr->finish(out));
  EXPECT_NE(out.find("data: [DONE]\n\n"), std::string::npos);
}

TEST(OpenAiStreamTranslator, TruncatedStreamIsAFailure) {
  auto adapter = make_adapter(config::ProviderKind::openai);
  auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  tr->feed(R"(data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]})"
           "\n\n",
           out);
  EXPECT_FALSE(tr->finish(out));
  ASSERT_TRUE(tr->failure().has_value());
  EXPECT_EQ(tr->failure()->cls, api::FailureClass::stall);
}

TEST(OpenAiStreamTranslator, InStreamErrorIsAFailure) {
  auto adapter = make_adapter(config::ProviderKind::openai);
  auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  EXPECT_FALSE(tr->feed("data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n", out));
  ASSERT_TRUE(tr->failure().has_value());
  EXPECT_NE(tr->failure()->message.find("overloaded"), std::string::npos);
  EXPECT_TRUE(out.empty());
}

TEST(OpenAiStreamTranslator, ContentMentioningErrorIsNotAnError) {
  auto adapter = make_adapter(config::ProviderKind::openai);
  auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  EXPECT_TRUE(tr->feed(R"(data: {"choices":[{"index":0,"delta":{"content":"error"}}]})"
                       "\n\n",
                       out));
  EXPECT_FALSE(out.empty());
}

TEST(ScanUsage, FindsTrailingUsageObject) {
  auto u = scan_usage(R"({"id":"x","choices":[{"message":{"content":"\"usage\":{}"}}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}})");
  EXPECT_TRUE(u.present);
  EXPECT_EQ(u.prompt_tokens, 12u);
  EXPECT_EQ(u.completion_tokens, 3u);
  EXPECT_FALSE(scan_usage(R"({"usage":null})").present);
  EXPECT_EQ(scan_usage(fixture("embeddings-float-response.json")).prompt_tokens,
            json::parse(fixture("embeddings-float-response.json"))["usage"]["prompt_tokens"].get<std::uint64_t>());
}

}  // namespace
}  // namespace llmgw::providers
