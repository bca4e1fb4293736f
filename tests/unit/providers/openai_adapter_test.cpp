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
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, body);  // pass-through: no re-encoding of the client's answer
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
  EXPECT_EQ(tr->failure()->cls, api::FailureClass::bad_response);
}

TEST(OpenAiStreamTranslator, ALastEventWithoutItsBlankLineIsDeliveredACutOneIsNot) {
  auto adapter = make_adapter(config::ProviderKind::openai_compatible);
  auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  tr->feed(R"(data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]})",
           out);
  EXPECT_TRUE(out.empty()) << "an event is relayed once it is complete";
  EXPECT_TRUE(tr->finish(out));
  EXPECT_NE(out.find(R"("content":"Hi")"), std::string::npos) << out;
  EXPECT_NE(out.find("data: [DONE]\n\n"), std::string::npos);

  auto cut = adapter->make_stream_translator(Operation::chat, {true, false});
  std::string cut_out;
  cut->feed(R"(data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]})"
            "\n\n"
            R"(data: {"choices":[{"index":0,"delta":{"con)",
            cut_out);
  EXPECT_TRUE(cut->finish(cut_out)) << "it had finished; the cut trailer is not relayed";
  EXPECT_EQ(cut_out,
            R"(data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]})"
            "\n\ndata: [DONE]\n\n");
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

// --- openai_compatible quirks (vLLM, Ollama, Gemini's compat layer, xAI) ---------------------

std::string compat_fixture(const std::string& name) {
  return fixture("../compat/" + name);
}

struct CompatErrorCase {
  const char* name;
  int status;
  std::string body;
  api::FailureClass expected;
  bool passed_unchanged;     // OpenAI-shaped already: the client gets the upstream bytes
  const char* message_part;  // what the client-facing message must contain
};

TEST(OpenAiCompatibleErrors, ClassificationTable) {
  const CompatErrorCase cases[] = {
      {"vllm integer code", 400,
       R"({"error":{"message":"max_tokens must be at least 1, got 0.","type":"BadRequestError",)"
       R"("param":null,"code":400}})",
       api::FailureClass::client_error, true, "max_tokens must be"},
      {"vllm model missing", 404,
       R"({"error":{"message":"The model `llama-9` does not exist.","type":"NotFoundError",)"
       R"("param":"model","code":404}})",
       api::FailureClass::model_not_found, true, "does not exist"},
      {"vllm unwrapped (old)", 400,
       R"({"object":"error","message":"This model's maximum context length is 4096 tokens.",)"
       R"("type":"BadRequestError","param":null,"code":400})",
       api::FailureClass::client_error, false, "maximum context length"},
      {"vllm overloaded", 503,
       R"({"error":{"message":"Service unavailable","type":"ServiceUnavailableError",)"
       R"("param":null,"code":503}})",
       api::FailureClass::server_error, true, "unavailable"},
      {"gemini compat array", 400,
       R"([{"error":{"code":400,"message":"Invalid JSON payload received.","status":)"
       R"("INVALID_ARGUMENT"}}])",
       api::FailureClass::client_error, false, "Invalid JSON payload"},
      {"gemini compat bad key", 400,
       R"([{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.",)"
       R"("status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.)"
       R"(ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}])",
       api::FailureClass::provider_auth, false, "API key not valid"},
      {"gemini compat quota", 429,
       R"([{"error":{"code":429,"message":"You exceeded your current quota.","status":)"
       R"("RESOURCE_EXHAUSTED"}}])",
       api::FailureClass::rate_limited, false, "exceeded your current quota"},
      {"ollama string error", 400, R"({"error":"invalid message format"})",
       api::FailureClass::client_error, false, "invalid message format"},
      {"ollama model missing", 404,
       R"({"error":{"message":"model \"llama9\" not found, try pulling it first","type":)"
       R"("not_found_error","param":null,"code":null}})",
       api::FailureClass::model_not_found, true, "not found"},
      {"ollama api error", 500,
       R"({"error":{"message":"llama runner process has terminated","type":"api_error",)"
       R"("param":null,"code":null}})",
       api::FailureClass::server_error, true, "runner"},
      {"openai shape", 400,
       R"({"error":{"message":"Unsupported parameter: 'max_tokens'","type":)"
       R"("invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}})",
       api::FailureClass::client_error, true, "Unsupported parameter"},
      {"context length code", 400,
       R"({"error":{"message":"too long","type":"invalid_request_error","param":"messages",)"
       R"("code":"context_length_exceeded"}})",
       api::FailureClass::context_length, true, "too long"},
      {"quota 429", 429, fixture("error-insufficient-quota.json"),
       api::FailureClass::quota_exhausted, true, "quota"},
      {"fastapi detail", 422, R"({"detail":"Field required: messages"})",
       api::FailureClass::client_error, false, "Field required"},
      {"plain text", 400, "Bad Request: malformed JSON\n", api::FailureClass::client_error,
       false, "malformed JSON"},
      {"empty body", 400, "", api::FailureClass::client_error, false, "HTTP 400"},
      {"deepseek balance", 402,
       R"({"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,)"
       R"("code":"invalid_request_error"}})",
       api::FailureClass::quota_exhausted, true, "Insufficient Balance"},
      {"bad key", 401, R"({"error":{"message":"Invalid API Key","type":)"
                       R"("invalid_request_error","code":"invalid_api_key"}})",
       api::FailureClass::provider_auth, true, "Invalid API Key"},
  };
  auto adapter = make_adapter(config::ProviderKind::openai_compatible);
  for (const auto& c : cases) {
    auto f = adapter->classify_error(c.status, c.body, std::nullopt);
    EXPECT_EQ(api::to_string(f.cls), api::to_string(c.expected)) << c.name;
    EXPECT_NE(f.message.find(c.message_part), std::string::npos) << c.name << ": " << f.message;
    if (c.passed_unchanged) {
      EXPECT_EQ(f.body, c.body) << c.name;
      continue;
    }
    // What openai-node 4-6 needs to show a message: {"error":{message,type,param,code}}.
    auto body = json::parse(f.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << c.name << ": " << f.body;
    ASSERT_EQ(body.size(), 1u) << c.name;
    const auto& err = body["error"];
    ASSERT_TRUE(err.is_object()) << c.name;
    EXPECT_EQ(err.size(), 4u) << c.name;
    ASSERT_TRUE(err["message"].is_string()) << c.name;
    EXPECT_NE(err["message"].get<std::string>().find(c.message_part), std::string::npos)
        << c.name << ": " << f.body;
    EXPECT_EQ(err["type"], "invalid_request_error") << c.name;
    EXPECT_TRUE(err["param"].is_null()) << c.name;
    EXPECT_TRUE(err["code"].is_null()) << c.name;
  }
}

TEST(OpenAiCompatibleErrors, GoogleRetryInfoIsARetryAfter) {
  auto adapter = make_adapter(config::ProviderKind::openai_compatible);
  std::string body = "[" + fixture("../gemini/vercel-429-retry-info.json") + "]";
  auto f = adapter->classify_error(429, body, std::nullopt);
  EXPECT_EQ(f.cls, api::FailureClass::rate_limited);
  ASSERT_TRUE(f.retry_after.has_value());
  EXPECT_EQ(f.retry_after->count(), 34400);
  // A header wins over the body.
  f = adapter->classify_error(429, body, std::chrono::milliseconds(2000));
  EXPECT_EQ(f.retry_after->count(), 2000);
}

TEST(OpenAiCompatibleErrors, LongOrBinaryBodiesStayValidJson) {
  auto adapter = make_adapter(config::ProviderKind::openai_compatible);
  std::string html = "<html>\xC3\x28" + std::string(10000, 'x') + "</html>";
  auto f = adapter->classify_error(400, html, std::nullopt);
  auto body = json::parse(f.body, nullptr, false);
  ASSERT_TRUE(body.is_object());
  EXPECT_LE(body["error"]["message"].get<std::string>().size(), 2000u + 2);  // + U+FFFD
  EXPECT_NO_THROW((void)json(f.message).dump());  // the diagnosis is dumped strictly
}

TEST(OpenAiErrors, OpenAiKindKeepsItsRulesAndWrapsForeignBodies) {
  auto adapter = make_adapter(config::ProviderKind::openai);
  // A 404 without model_not_found is not assumed to be the model on OpenAI itself.
  auto f = adapter->classify_error(404, R"({"error":{"message":"no such file","code":null}})",
                                   std::nullopt);
  EXPECT_EQ(f.cls, api::FailureClass::client_error);
  f = adapter->classify_error(400, fixture("error-unsupported-parameter.json"), std::nullopt);
  EXPECT_EQ(f.cls, api::FailureClass::client_error);
  EXPECT_EQ(f.body, fixture("error-unsupported-parameter.json"));
  // A proxy's page in front of OpenAI still reaches the client as an OpenAI error.
  f = adapter->classify_error(413, "Request Entity Too Large", std::nullopt);
  EXPECT_EQ(f.cls, api::FailureClass::client_error);
  EXPECT_EQ(json::parse(f.body)["error"]["message"], "Request Entity Too Large");
}

// The xAI recording: reasoning_content deltas (role only on the first), a tool call delivered
// whole in one chunk, no finish_reason keys on most chunks, and (framing stripped) no [DONE].
std::string xai_stream() {
  std::istringstream lines(compat_fixture("xai-tool-call.chunks.jsonl"));
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) {
      out += "data: " + line + "\n\n";
    }
  }
  return out;
}

TEST(OpenAiCompatibleStream, ReasoningAndWholeToolCallsPassThrough) {
  auto adapter = make_adapter(config::ProviderKind::openai_compatible);
  auto stream = xai_stream();
  const std::string expected = stream + "data: [DONE]\n\n";
  auto check = [&](std::size_t split) {
    auto tr = adapter->make_stream_translator(Operation::chat, {true, true});
    std::string out;
    ASSERT_TRUE(tr->feed(std::string_view(stream).substr(0, split), out));
    ASSERT_TRUE(tr->feed(std::string_view(stream).substr(split), out));
    ASSERT_TRUE(tr->finish(out));  // finished without [DONE]: added
    ASSERT_EQ(out, expected) << "split " << split;
    EXPECT_TRUE(tr->has_content());
    EXPECT_TRUE(tr->usage().present);
    EXPECT_EQ(tr->usage().prompt_tokens, 307u);
  };
  // Every boundary inside the first and last events, a stride through the middle (the recording
  // is long and each split re-parses the whole stream).
  for (std::size_t split = 0; split < 400; ++split) {
    check(split);
  }
  for (std::size_t split = stream.size() - 1200; split <= stream.size(); ++split) {
    check(split);
  }
  for (std::size_t split = 400; split < stream.size(); split += 89) {
    check(split);
  }
}

TEST(OpenAiCompatibleStream, OllamaReasoningCountsAsContent) {
  // Ollama repeats role and empty content on every chunk, also while it reasons.
  auto adapter = make_adapter(config::ProviderKind::openai_compatible);
  auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  ASSERT_TRUE(tr->feed(R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":)"
                       R"([{"index":0,"delta":{"role":"assistant","content":""},)"
                       R"("finish_reason":null}]})"
                       "\n\n",
                       out));
  EXPECT_FALSE(tr->has_content());
  ASSERT_TRUE(tr->feed(R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":)"
                       R"([{"index":0,"delta":{"role":"assistant","content":"","reasoning":)"
                       R"("Let me think"},"finish_reason":null}]})"
                       "\n\n",
                       out));
  EXPECT_TRUE(tr->has_content());
  EXPECT_NE(out.find(R"("reasoning":"Let me think")"), std::string::npos);
}

TEST(OpenAiCompatibleStream, OllamaWholeToolCallInOneChunk) {
  auto adapter = make_adapter(config::ProviderKind::openai_compatible);
  const std::string stream =
      R"(data: {"id":"chatcmpl-7","object":"chat.completion.chunk","created":1,"model":"qwen3",)"
      R"("system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant",)"
      R"("content":"","tool_calls":[{"id":"call_a1","index":0,"type":"function","function":)"
      R"({"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":null}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-7","object":"chat.completion.chunk","created":1,"model":"qwen3",)"
      R"("system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant",)"
      R"("content":""},"finish_reason":"tool_calls"}]})"
      "\n\n"
      "data: [DONE]\n\n";
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
    std::string out;
    ASSERT_TRUE(tr->feed(std::string_view(stream).substr(0, split), out));
    ASSERT_TRUE(tr->feed(std::string_view(stream).substr(split), out));
    ASSERT_TRUE(tr->finish(out));
    ASSERT_EQ(out, stream) << "split " << split;
    EXPECT_TRUE(tr->has_content());
  }
}

TEST(OpenAiCompatibleStream, InStreamErrorShapes) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"error":"model runner crashed"})", "model runner crashed"},
      {R"({"object":"error","message":"engine dead","type":"InternalServerError","code":500})",
       "engine dead"},
      {R"([{"error":{"code":500,"message":"backend failed","status":"INTERNAL"}}])",
       "backend failed"},
      {R"({"error":{"message":"overloaded","type":"server_error","code":503}})", "overloaded"},
  };
  auto adapter = make_adapter(config::ProviderKind::openai_compatible);
  for (const auto& [data, message] : cases) {
    auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
    std::string out;
    EXPECT_FALSE(tr->feed(std::string("data: ") + data + "\n\n", out)) << data;
    ASSERT_TRUE(tr->failure().has_value()) << data;
    EXPECT_NE(tr->failure()->message.find(message), std::string::npos) << tr->failure()->message;
    EXPECT_TRUE(out.empty()) << data;  // never relayed as if it were a chunk
  }
}

TEST(OpenAiCompatibleStream, EmptyChoicesChunksKeptOutsideAzure) {
  // Only Azure's opener is dropped; elsewhere an empty-choices chunk is relayed as sent.
  auto adapter = make_adapter(config::ProviderKind::openai_compatible);
  auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  ASSERT_TRUE(tr->feed("data: {\"id\":\"x\",\"choices\":[]}\n\n", out));
  EXPECT_EQ(out, "data: {\"id\":\"x\",\"choices\":[]}\n\n");
}

}  // namespace
}  // namespace llmgw::providers
