#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "llmgw/api/sse.hpp"
#include "llmgw/providers/adapter.hpp"
#include "providers/gemini/gemini_adapter.hpp"

namespace llmgw::providers {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(LLMGW_SOURCE_DIR) + "/tests/fixtures/gemini/" + name,
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A vercel *.chunks.jsonl recording back in Gemini's wire form (CRLF framing, no terminator).
std::string jsonl_stream(const std::string& name) {
  std::istringstream lines(fixture(name));
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) {
      out += "data: " + line + "\r\n\r\n";
    }
  }
  return out;
}

std::string stream_fixture(const std::string& name) {
  return name.ends_with(".jsonl") ? jsonl_stream(name) : fixture(name);
}

config::ProviderConfig provider(std::string key = "AIza-upstream") {
  config::ProviderConfig p;
  p.name = "google";
  p.kind = config::ProviderKind::gemini;
  p.base_url = "https://generativelanguage.googleapis.com/v1beta";
  p.url = *common::parse_url(p.base_url);
  p.api_key = std::move(key);
  return p;
}

config::TargetConfig target(std::string model = "gemini-2.5-flash") {
  config::TargetConfig t;
  t.provider = "google";
  t.model = std::move(model);
  return t;
}

std::shared_ptr<const ProviderAdapter> adapter() {
  return make_adapter(config::ProviderKind::gemini);
}

ojson render(json body, bool stream = false) {
  auto req = adapter()->build_request(Operation::chat, body, provider(), target(), {stream, false});
  return ojson::parse(req.body);
}

std::optional<std::string> why(const std::string& body, Operation op = Operation::chat) {
  return adapter()->unsupported(op, json::parse(body), provider(), target());
}

std::vector<ojson> data_events(const std::string& sse) {
  std::vector<ojson> out;
  api::SseDecoder d;
  d.feed(sse, [&](const api::SseEvent& e) {
    out.push_back(e.data == "[DONE]" ? ojson("[DONE]") : ojson::parse(e.data));
  });
  return out;
}

// Ids and timestamps are random when the upstream gives no responseId; the rest must match.
// (Plain string scanning: std::regex over every split of every fixture is too slow.)
std::string normalized(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  auto skip_until = [&](char stop) {
    while (i < s.size() && s[i] != stop) {
      ++i;
    }
  };
  while (i < s.size()) {
    if (s.compare(i, 10, "\"chatcmpl-") == 0) {
      out += "\"chatcmpl-ID";
      i += 10;
      skip_until('"');
    } else if (s.compare(i, 6, "\"call_") == 0) {
      auto end = s.find('"', i + 1);
      auto last = s.rfind('_', end);
      out += "\"call_ID";
      out.append(s, last, end - last);
      i = end;
    } else if (s.compare(i, 10, "\"created\":") == 0) {
      out += "\"created\":0";
      i += 10;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        ++i;
      }
    } else {
      out += s[i++];
    }
  }
  return out;
}

struct StreamResult {
  std::string out;
  bool fed = true;
  bool finished = false;
  std::optional<api::Failure> failure;
  bool has_content = false;
  Usage usage;
};

StreamResult run_stream(const std::vector<std::string_view>& pieces, bool wants_usage = true) {
  StreamResult r;
  auto tr = adapter()->make_stream_translator(Operation::chat, {true, wants_usage});
  for (auto p : pieces) {
    r.fed = tr->feed(p, r.out) && r.fed;
  }
  r.finished = tr->finish(r.out);
  r.failure = tr->failure();
  r.has_content = tr->has_content();
  r.usage = tr->usage();
  return r;
}

StreamResult run_stream(std::string_view whole, bool wants_usage = true) {
  return run_stream(std::vector<std::string_view>{whole}, wants_usage);
}

// What an OpenAI client assembles from the translated stream.
struct Assembled {
  std::string text;
  ojson tool_calls = ojson::array();
  std::string finish_reason;
  ojson usage;
  bool role_first = false;
  bool done_last = false;
  std::size_t events = 0;
};

Assembled assemble(const std::string& out) {
  Assembled a;
  auto events = data_events(out);
  a.events = events.size();
  a.done_last = !events.empty() && events.back() == "[DONE]";
  bool finished = false;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e == "[DONE]") {
      EXPECT_EQ(i + 1, events.size()) << "[DONE] is last";
      continue;
    }
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    EXPECT_TRUE(e["id"].is_string());
    EXPECT_TRUE(e["created"].is_number_integer());
    EXPECT_TRUE(e["model"].is_string());
    if (e.contains("usage")) {
      EXPECT_TRUE(e["choices"].empty());
      EXPECT_TRUE(finished) << "usage comes after the finish chunk";
      a.usage = e["usage"];
      continue;
    }
    EXPECT_FALSE(finished) << "nothing but usage follows the finish chunk";
    const auto& c = e["choices"][0];
    EXPECT_EQ(c["index"], 0);
    const auto& d = c["delta"];
    if (i == 0) {
      a.role_first = d.value("role", "") == "assistant" && d["content"] == "";
    } else {
      EXPECT_FALSE(d.contains("role"));
    }
    if (d.contains("content") && d["content"].is_string()) {
      a.text += d["content"].get<std::string>();
    }
    if (d.contains("tool_calls")) {
      for (const auto& tc : d["tool_calls"]) {
        EXPECT_EQ(tc["index"], a.tool_calls.size());
        a.tool_calls.push_back(tc);
      }
    }
    if (c["finish_reason"].is_string()) {
      a.finish_reason = c["finish_reason"];
      finished = true;
    }
  }
  return a;
}

// The text of every part of every chunk (what the client should end up with).
std::string fixture_text(const std::string& sse) {
  std::string text;
  api::SseDecoder d;
  d.feed(sse, [&](const api::SseEvent& e) {
    const auto j = ojson::parse(e.data);
    if (!j.contains("candidates") || !j["candidates"][0].contains("content")) {
      return;
    }
    for (const auto& p : j["candidates"][0]["content"].value("parts", ojson::array())) {
      if (p.contains("text") && !p.value("thought", false)) {
        text += p["text"].get<std::string>();
      }
    }
  });
  return text;
}

const std::vector<std::string> kStreamFixtures = {
    "streaming-success-basic-reply-short.sse",
    "streaming-success-basic-reply-long.sse",
    "streaming-success-function-call-short.sse",
    "streaming-success-utf8.sse",
    "streaming-success-citations.sse",
    "streaming-success-search-grounding.sse",
    "streaming-unknown-enum.sse",
    "streaming-failure-finish-reason-safety.sse",
    "streaming-failure-prompt-blocked-safety.sse",
    "streaming-failure-recitation-no-content.sse",
    "streaming-failure-empty-content.sse",
    "vercel-text.chunks.jsonl",
    "vercel-tool-call.chunks.jsonl",
    "vercel-reasoning.chunks.jsonl",
    "vercel-stream-tool-call-arguments.chunks.jsonl",
};

// ---------------------------------------------------------------------------------------------
// Registration and request rendering

TEST(GeminiAdapter, RegisteredForItsKind) {
  auto a = adapter();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind(), config::ProviderKind::gemini);
  EXPECT_TRUE(a->supports(Operation::chat));
  EXPECT_TRUE(a->supports(Operation::embeddings));
  EXPECT_FALSE(a->supports(Operation::completions));
}

TEST(GeminiAdapter, ChatTargetsAndKeyHeaderNeverInUrl) {
  auto body = json::parse(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  auto p = provider();
  p.headers["x-goog-api-client"] = "llmgw";
  auto req = adapter()->build_request(Operation::chat, body, p, target("models/gemini-2.5-pro"),
                                      {false, false});
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/v1beta/models/gemini-2.5-pro:generateContent");
  auto sreq = adapter()->build_request(Operation::chat, body, p, target(), {true, true});
  EXPECT_EQ(sreq.target, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  for (const auto* r : {&req, &sreq}) {
    EXPECT_EQ(r->target.find("key="), std::string::npos);
    EXPECT_EQ(r->target.find("AIza"), std::string::npos);
    bool key = false;
    bool extra = false;
    bool content_type = false;
    for (const auto& h : r->headers) {
      key |= h.name == "x-goog-api-key" && h.value == "AIza-upstream";
      extra |= h.name == "x-goog-api-client" && h.value == "llmgw";
      content_type |= h.name == "Content-Type" && h.value == "application/json";
      EXPECT_NE(h.name, "Authorization");
    }
    EXPECT_TRUE(key);
    EXPECT_TRUE(extra);
    EXPECT_TRUE(content_type);
  }
  auto none = adapter()->build_request(Operation::chat, body, provider(""), target(), {});
  for (const auto& h : none.headers) {
    EXPECT_NE(h.name, "x-goog-api-key");
  }
  EXPECT_EQ(ojson::parse(req.body),
            ojson::parse(R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})"));
}

TEST(GeminiAdapter, RendersConversationGolden) {
  auto sent = render(json::parse(R"({
    "model": "smart",
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
      {"role": "user", "content": [
        {"type": "text", "text": "Weather here?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/AAA="}},
        {"type": "image_url", "image_url": {"url": "https://example.test/a/photo.PNG?x=1"}},
        {"type": "image_url", "image_url": {"url": "https://example.test/render"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"filename": "a.pdf",
                                  "file_data": "data:application/pdf;base64,JVBERi0="}}
      ]},
      {"role": "user", "content": "Paris and Rome."},
      {"role": "assistant", "content": "Checking.", "tool_calls": [
        {"id": "call_a", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"c\"}"},
         "extra_content": {"google": {"thought_signature": "SIG-A"}}},
        {"id": "call_b", "type": "function",
         "function": {"name": "get_time", "arguments": "{\"city\":\"Rome\"}"}}
      ]},
      {"role": "tool", "tool_call_id": "call_b", "content": "{\"time\":\"10:00\"}"},
      {"role": "tool", "tool_call_id": "call_a", "content": "18C and sunny"},
      {"role": "user", "content": "Thanks"}
    ],
    "temperature": 0.5, "top_p": 0.9, "max_completion_tokens": 100, "max_tokens": 50,
    "stop": "END", "seed": 7, "presence_penalty": 0, "frequency_penalty": 0.5,
    "user": "u-1", "metadata": {"a": "b"}, "store": false, "parallel_tool_calls": true
  })"));
  auto expected = ojson::parse(R"({
    "systemInstruction": {"parts": [{"text": "You are terse."}, {"text": "Use metric units."}]},
    "contents": [
      {"role": "user", "parts": [
        {"text": "Weather here?"},
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/AAA="}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.test/a/photo.PNG?x=1"}},
        {"fileData": {"mimeType": "image/*", "fileUri": "https://example.test/render"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
        {"text": "Paris and Rome."}
      ]},
      {"role": "model", "parts": [
        {"text": "Checking."},
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "c"}},
         "thoughtSignature": "SIG-A"},
        {"functionCall": {"name": "get_time", "args": {"city": "Rome"}}}
      ]},
      {"role": "user", "parts": [
        {"functionResponse": {"name": "get_time", "response": {"result": {"time": "10:00"}}}},
        {"functionResponse": {"name": "get_weather", "response": {"result": "18C and sunny"}}},
        {"text": "Thanks"}
      ]}
    ],
    "generationConfig": {"temperature": 0.5, "topP": 0.9, "maxOutputTokens": 100,
                         "stopSequences": ["END"], "frequencyPenalty": 0.5, "seed": 7}
  })");
  EXPECT_EQ(sent, expected) << sent.dump(2);
}

TEST(GeminiAdapter, ToolsSchemasAreSanitizedAndToolChoiceMapped) {
  auto sent = render(json::parse(R"({
    "model": "smart", "messages": [{"role": "user", "content": "x"}],
    "tools": [
      {"type": "function", "function": {"name": "lookup", "description": "Find a thing",
       "strict": true,
       "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
         "additionalProperties": false, "required": ["q"],
         "properties": {
           "q": {"type": "string", "format": "uri", "examples": ["a"]},
           "when": {"type": "string", "format": "date-time"},
           "kind": {"const": "exact"},
           "level": {"type": "integer", "enum": [1, 2], "description": "How deep"},
           "limit": {"type": ["integer", "null"], "minimum": 1},
           "opt": {"anyOf": [{"$ref": "#/$defs/Opt"}, {"type": "null"}]},
           "tags": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "properties": {"name": {"type": "string"}}}}
         },
         "$defs": {"Opt": {"type": "object", "properties": {"on": {"type": "boolean"}},
                           "additionalProperties": false}}}}},
      {"type": "function", "function": {"name": "ping",
       "parameters": {"type": "object", "properties": {}, "additionalProperties": false}}}
    ],
    "tool_choice": {"type": "function", "function": {"name": "lookup"}}
  })"));
  auto expected_tools = ojson::parse(R"J([{"functionDeclarations": [
    {"name": "lookup", "description": "Find a thing",
     "parameters": {"type": "object", "required": ["q"], "properties": {
       "q": {"type": "string"},
       "when": {"type": "string", "format": "date-time"},
       "kind": {"enum": ["exact"], "type": "string"},
       "level": {"type": "integer", "description": "How deep (Allowed values: 1, 2)"},
       "limit": {"type": "integer", "nullable": true, "minimum": 1},
       "opt": {"nullable": true, "type": "object", "properties": {"on": {"type": "boolean"}}},
       "tags": {"type": "array", "items": {"type": "object",
                "properties": {"name": {"type": "string"}}}}}}},
    {"name": "ping"}]}])J");
  // Compare as unordered JSON: the client body is parsed into sorted keys anyway.
  EXPECT_EQ(json::parse(sent["tools"].dump()), json::parse(expected_tools.dump()))
      << sent["tools"].dump(2);
  EXPECT_EQ(sent["toolConfig"], ojson::parse(R"({"functionCallingConfig":
      {"mode": "ANY", "allowedFunctionNames": ["lookup"]}})"));

  auto mode = [](const char* choice) {
    auto body = json::parse(R"({"messages":[{"role":"user","content":"x"}],
      "tools":[{"type":"function","function":{"name":"a"}},
               {"type":"function","function":{"name":"b"}}]})");
    body["tool_choice"] = json::parse(choice);
    return render(body);
  };
  EXPECT_EQ(mode(R"("auto")")["toolConfig"]["functionCallingConfig"]["mode"], "AUTO");
  EXPECT_EQ(mode(R"("none")")["toolConfig"]["functionCallingConfig"]["mode"], "NONE");
  EXPECT_EQ(mode(R"("required")")["toolConfig"]["functionCallingConfig"]["mode"], "ANY");
  auto allowed = mode(R"({"type":"allowed_tools","allowed_tools":{"mode":"auto",
      "tools":[{"type":"function","function":{"name":"b"}}]}})");
  EXPECT_EQ(allowed["toolConfig"]["functionCallingConfig"]["mode"], "AUTO");
  ASSERT_EQ(allowed["tools"][0]["functionDeclarations"].size(), 1u);
  EXPECT_EQ(allowed["tools"][0]["functionDeclarations"][0]["name"], "b");
}

TEST(GeminiAdapter, ResponseFormatReasoningAndGoogleExtras) {
  auto sent = render(json::parse(R"({"messages":[{"role":"user","content":"x"}],
    "max_tokens": 64, "stop": ["a", "b"], "n": 2, "reasoning_effort": "low",
    "response_format": {"type": "json_schema", "json_schema": {"name": "r", "strict": true,
      "schema": {"type": "object", "additionalProperties": false,
                 "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}}}})"));
  EXPECT_EQ(json::parse(sent["generationConfig"].dump()), json::parse(R"({
    "maxOutputTokens": 64, "stopSequences": ["a", "b"], "candidateCount": 2,
    "responseMimeType": "application/json",
    "responseSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}},
                       "required": ["ok"]},
    "thinkingConfig": {"thinkingBudget": 1024}})"));

  auto obj = render(json::parse(R"({"messages":[{"role":"user","content":"x"}],
    "response_format": {"type": "json_object"}, "reasoning_effort": "high",
    "extra_body": {"google": {"thinking_config": {"thinking_budget": 99, "include_thoughts": false},
      "cached_content": "cachedContents/abc",
      "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT",
                           "threshold": "BLOCK_NONE"}]}}})"));
  EXPECT_EQ(obj["generationConfig"]["responseMimeType"], "application/json");
  EXPECT_FALSE(obj["generationConfig"].contains("responseSchema"));
  EXPECT_EQ(obj["generationConfig"]["thinkingConfig"],
            ojson::parse(R"({"includeThoughts": false, "thinkingBudget": 99})"));
  EXPECT_EQ(obj["cachedContent"], "cachedContents/abc");
  EXPECT_EQ(obj["safetySettings"], ojson::parse(R"([{"category": "HARM_CATEGORY_HARASSMENT",
      "threshold": "BLOCK_NONE"}])"));
  EXPECT_FALSE(obj.contains("extra_body"));
  auto text = render(json::parse(R"({"messages":[{"role":"user","content":"x"}],
    "response_format": {"type": "text"}})"));
  EXPECT_FALSE(text.contains("generationConfig"));
}

TEST(GeminiAdapter, ToolCallsWithoutSignatureGetGooglesPlaceholder) {
  // History from another provider (or a client that dropped extra_content): Gemini 3 would
  // answer 400 without any signature on the turn's first function call.
  auto sent = render(json::parse(R"({"messages":[
    {"role":"user","content":"x"},
    {"role":"assistant","content":null,"tool_calls":[
      {"id":"t1","type":"function","function":{"name":"a","arguments":"{}"}},
      {"id":"t2","type":"function","function":{"name":"b","arguments":"not json"}}]},
    {"role":"tool","tool_call_id":"t2","content":[{"type":"text","text":"42"}]},
    {"role":"tool","tool_call_id":"unknown","content":"?"}]})"));
  const auto& model = sent["contents"][1];
  EXPECT_EQ(model["role"], "model");
  ASSERT_EQ(model["parts"].size(), 2u);
  EXPECT_EQ(model["parts"][0]["thoughtSignature"], "skip_thought_signature_validator");
  EXPECT_FALSE(model["parts"][1].contains("thoughtSignature"));
  EXPECT_EQ(model["parts"][1]["functionCall"]["args"], ojson::object());
  const auto& results = sent["contents"][2]["parts"];
  EXPECT_EQ(results[0]["functionResponse"]["name"], "b");
  EXPECT_EQ(results[0]["functionResponse"]["response"]["result"], 42);
  EXPECT_EQ(results[1]["functionResponse"]["name"], "unknown");
}

TEST(GeminiAdapter, EmbeddingsRequest) {
  auto body = json::parse(R"({"model":"e","input":["a","b"],"dimensions":256,
                              "encoding_format":"base64"})");
  auto req = adapter()->build_request(Operation::embeddings, body, provider(),
                                      target("text-embedding-004"), {});
  EXPECT_EQ(req.target, "/v1beta/models/text-embedding-004:batchEmbedContents");
  EXPECT_EQ(ojson::parse(req.body), ojson::parse(R"({"requests":[
    {"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]},
     "outputDimensionality":256},
    {"model":"models/text-embedding-004","content":{"parts":[{"text":"b"}]},
     "outputDimensionality":256}]})"));
  auto one = json::parse(R"({"model":"e","input":"solo"})");
  auto req1 = adapter()->build_request(Operation::embeddings, one, provider(), target("m"), {});
  EXPECT_EQ(ojson::parse(req1.body)["requests"].size(), 1u);
  EXPECT_FALSE(ojson::parse(req1.body)["requests"][0].contains("outputDimensionality"));
}

TEST(GeminiAdapter, UnsupportedNamesParameterAndProvider) {
  EXPECT_EQ(why(R"({"messages":[],"n":2,"stream":true})"),
            "n > 1 with stream is not supported by gemini provider 'google'");
  EXPECT_FALSE(why(R"({"messages":[],"n":2})"));  // candidateCount
  EXPECT_FALSE(why(R"({"messages":[],"n":1,"stream":true})"));
  EXPECT_EQ(why(R"({"messages":[],"logprobs":true})"),
            "logprobs is not supported by gemini provider 'google'");
  EXPECT_FALSE(why(R"({"messages":[],"logprobs":false})"));
  EXPECT_TRUE(why(R"({"messages":[],"top_logprobs":3})"));
  EXPECT_TRUE(why(R"({"messages":[],"audio":{"voice":"x","format":"mp3"}})"));
  EXPECT_TRUE(why(R"({"messages":[],"modalities":["text","audio"]})"));
  EXPECT_FALSE(why(R"({"messages":[],"modalities":["text"]})"));
  EXPECT_TRUE(why(R"({"messages":[],"logit_bias":{"50256":-100}})"));
  EXPECT_FALSE(why(R"({"messages":[],"logit_bias":{}})"));
  EXPECT_TRUE(why(R"({"messages":[],"web_search_options":{}})"));
  EXPECT_EQ(why(R"({"messages":[],"tools":[{"type":"custom","custom":{"name":"x"}}]})"),
            "tools of type 'custom' is not supported by gemini provider 'google'");
  EXPECT_TRUE(why(R"({"messages":[{"role":"user","content":[
      {"type":"file","file":{"file_id":"file-1"}}]}]})"));
  EXPECT_TRUE(why(R"({"messages":[{"role":"user","content":[{"type":"video_url"}]}]})"));
  // Harmless fields are dropped, not refused.
  EXPECT_FALSE(why(R"({"messages":[{"role":"user","content":[{"type":"text","text":"x"},
      {"type":"image_url","image_url":{"url":"https://x/y.png","detail":"high"}}]}],
      "user":"u","store":true,"metadata":{},"parallel_tool_calls":false,
      "stream_options":{"include_usage":true},"service_tier":"auto","prediction":{}})"));
  EXPECT_EQ(why(R"({"input":[[1,2],[3]]})", Operation::embeddings),
            "token-array 'input' is not supported by gemini provider 'google'");
  EXPECT_TRUE(why(R"({"input":[1,2,3]})", Operation::embeddings));
  EXPECT_FALSE(why(R"({"input":["a","b"]})", Operation::embeddings));
  EXPECT_TRUE(why(R"({"prompt":"x"})", Operation::completions));
}

TEST(GeminiAdapter, HealthRequest) {
  config::ActiveHealthConfig check;
  auto req = adapter()->build_health_request(provider(), check);
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/v1beta/models");
  ASSERT_EQ(req.headers.size(), 1u);
  EXPECT_EQ(req.headers[0].name, "x-goog-api-key");
  EXPECT_EQ(req.headers[0].value, "AIza-upstream");
}

// ---------------------------------------------------------------------------------------------
// Unary responses

struct Unary {
  ojson j;
  Usage usage;
};

Unary translate(const std::string& name) {
  Unary u;
  u.j = ojson::parse(adapter()->translate_response(Operation::chat, fixture(name), u.usage).value());
  return u;
}

TEST(GeminiResponse, TextFixtures) {
  struct Case {
    const char* file;
    const char* finish;
  };
  for (auto c : {Case{"unary-success-basic-reply-short.json", "stop"},
                 Case{"unary-success-basic-reply-long.json", "stop"},
                 Case{"unary-success-citations.json", "stop"},
                 Case{"unary-success-logprobs.json", "stop"},
                 Case{"unary-success-search-grounding.json", "stop"},
                 Case{"unary-unknown-enum.json", "stop"},
                 Case{"unary-failure-finish-reason-safety.json", "content_filter"},
                 Case{"unary-failure-empty-content.json", "stop"}}) {
    SCOPED_TRACE(c.file);
    auto u = translate(c.file);
    const auto src = ojson::parse(fixture(c.file));
    std::string text;
    for (const auto& p : src["candidates"][0]["content"].value("parts", ojson::array())) {
      text += p.value("text", "");
    }
    EXPECT_EQ(u.j["object"], "chat.completion");
    EXPECT_TRUE(u.j["id"].get<std::string>().starts_with("chatcmpl-"));
    EXPECT_TRUE(u.j["created"].is_number_integer());
    ASSERT_EQ(u.j["choices"].size(), 1u);
    const auto& choice = u.j["choices"][0];
    EXPECT_EQ(choice["index"], 0);
    EXPECT_EQ(choice["message"]["role"], "assistant");
    EXPECT_EQ(choice["message"]["content"], text);
    EXPECT_FALSE(choice["message"].contains("tool_calls"));
    EXPECT_EQ(choice["finish_reason"], c.finish);
    // Usage only where the recording has usageMetadata.
    EXPECT_EQ(u.usage.present, src.contains("usageMetadata"));
    EXPECT_EQ(u.j.contains("usage"), src.contains("usageMetadata"));
  }
  auto content = [](const char* file) {
    return translate(file).j["choices"][0]["message"]["content"];
  };
  EXPECT_EQ(content("unary-success-basic-reply-short.json"), "Helena");
  EXPECT_EQ(content("unary-failure-finish-reason-safety.json"), "No");
}

TEST(GeminiResponse, PromptBlockedAndRecitation) {
  auto blocked = translate("unary-failure-prompt-blocked-safety.json");
  EXPECT_EQ(blocked.j["choices"][0]["finish_reason"], "content_filter");
  EXPECT_EQ(blocked.j["choices"][0]["message"]["content"], "");
  EXPECT_EQ(blocked.j["model"], "gemini");

  auto recitation = translate("unary-failure-citations.json");
  EXPECT_EQ(recitation.j["choices"][0]["finish_reason"], "content_filter");
  EXPECT_EQ(recitation.j["choices"][0]["message"]["content"], "");
  EXPECT_EQ(recitation.j["model"], "gemini-1.5-flash-001");
  EXPECT_TRUE(recitation.usage.present);
  EXPECT_EQ(recitation.usage.prompt_tokens, 18u);
  EXPECT_EQ(recitation.usage.completion_tokens, 0u);
  EXPECT_EQ(recitation.j["usage"]["total_tokens"], 18);
}

TEST(GeminiResponse, TextWithThinkingUsage) {
  auto u = translate("vercel-text.json");
  EXPECT_EQ(u.j["id"], "chatcmpl-Un6LacrVMcjUxs0PmJfWoQc");
  EXPECT_EQ(u.j["model"], "gemini-3-pro-preview");
  EXPECT_EQ(u.j["choices"][0]["message"]["content"],
            "There are **3** r's in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y.");
  EXPECT_EQ(u.j["choices"][0]["finish_reason"], "stop");
  // candidatesTokenCount excludes thoughts; OpenAI's completion_tokens includes reasoning.
  EXPECT_EQ(u.j["usage"], ojson::parse(R"({"prompt_tokens":9,"completion_tokens":272,
      "total_tokens":281,"prompt_tokens_details":{"cached_tokens":0},
      "completion_tokens_details":{"reasoning_tokens":244}})"));
  EXPECT_TRUE(u.usage.present);
  EXPECT_EQ(u.usage.prompt_tokens, 9u);
  EXPECT_EQ(u.usage.completion_tokens, 272u);
}

TEST(GeminiResponse, FunctionCallGolden) {
  auto u = translate("vercel-tool-call.json");
  auto sig = ojson::parse(fixture("vercel-tool-call.json"))["candidates"][0]["content"]["parts"][0]
                                                            ["thoughtSignature"];
  auto expected = ojson::parse(R"({"role":"assistant","content":null,"refusal":null,
    "tool_calls":[{"id":"call_m36LaZGyCLz1xs0PtNSB-QU_0","type":"function",
      "function":{"name":"weather","arguments":"{\"location\":\"San Francisco\"}"},
      "extra_content":{"google":{"thought_signature":""}}}]})");
  expected["tool_calls"][0]["extra_content"]["google"]["thought_signature"] = sig;
  EXPECT_EQ(u.j["choices"][0]["message"], expected) << u.j.dump(2);
  EXPECT_EQ(u.j["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(u.usage.completion_tokens, 15u + 893u);
}

TEST(GeminiResponse, ThoughtSignatureRoundTrip) {
  auto first = translate("vercel-tool-call.json");
  auto assistant = json::parse(first.j["choices"][0]["message"].dump());
  auto sig = assistant["tool_calls"][0]["extra_content"]["google"]["thought_signature"];
  ASSERT_TRUE(sig.is_string());
  ASSERT_FALSE(sig.get<std::string>().empty());
  json body;
  body["messages"] = json::array();
  body["messages"].push_back({{"role", "user"}, {"content", "Weather in SF?"}});
  body["messages"].push_back(assistant);
  body["messages"].push_back({{"role", "tool"},
                              {"tool_call_id", assistant["tool_calls"][0]["id"]},
                              {"content", "{\"temp\":18}"}});
  auto sent = render(body);
  const auto& part = sent["contents"][1]["parts"][0];
  EXPECT_EQ(sent["contents"][1]["role"], "model");
  EXPECT_EQ(part["functionCall"], ojson::parse(R"({"name":"weather",
      "args":{"location":"San Francisco"}})"));
  EXPECT_EQ(part["thoughtSignature"], sig.get<std::string>());
  EXPECT_EQ(sent["contents"][2]["parts"][0], ojson::parse(R"({"functionResponse":
      {"name":"weather","response":{"result":{"temp":18}}}})"));
}

TEST(GeminiResponse, ThoughtsSkippedCandidatesBecomeChoices) {
  Usage usage;
  auto out = ojson::parse(adapter()->translate_response(Operation::chat, R"({
    "candidates":[
      {"content":{"role":"model","parts":[{"text":"hidden","thought":true},{"text":"A"},
        {"text":"B"}]},"finishReason":"MAX_TOKENS","index":0},
      {"content":{"role":"model","parts":[{"text":"Let me call."},
        {"functionCall":{"name":"f","args":{"z":1,"a":[true]}}},
        {"functionCall":{"name":"g"}}]},"finishReason":"STOP","index":1},
      {"content":{"role":"model","parts":[]},"finishReason":"MALFORMED_FUNCTION_CALL","index":2},
      {"finishReason":"PROHIBITED_CONTENT","index":3},
      {"finishReason":"SOMETHING_NEW","index":4}],
    "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"totalTokenCount":15,
      "cachedContentTokenCount":4,"toolUsePromptTokenCount":2},
    "responseId":"r1"})", usage).value());
  const auto& ch = out["choices"];
  ASSERT_EQ(ch.size(), 5u);
  EXPECT_EQ(ch[0]["message"]["content"], "AB");
  EXPECT_EQ(ch[0]["finish_reason"], "length");
  EXPECT_EQ(ch[1]["message"]["content"], "Let me call.");
  EXPECT_EQ(ch[1]["finish_reason"], "tool_calls");
  ASSERT_EQ(ch[1]["message"]["tool_calls"].size(), 2u);
  EXPECT_EQ(ch[1]["message"]["tool_calls"][0]["id"], "call_r1_0");
  EXPECT_EQ(ch[1]["message"]["tool_calls"][0]["function"]["arguments"], "{\"z\":1,\"a\":[true]}");
  EXPECT_EQ(ch[1]["message"]["tool_calls"][1]["id"], "call_r1_1");
  EXPECT_EQ(ch[1]["message"]["tool_calls"][1]["function"]["arguments"], "{}");
  EXPECT_FALSE(ch[1]["message"]["tool_calls"][1].contains("extra_content"));
  EXPECT_EQ(ch[2]["finish_reason"], "stop");
  EXPECT_EQ(ch[3]["finish_reason"], "content_filter");
  EXPECT_EQ(ch[4]["finish_reason"], "stop");
  EXPECT_EQ(ch[4]["index"], 4);
  EXPECT_EQ(out["usage"]["prompt_tokens"], 12);
  EXPECT_EQ(out["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
  EXPECT_EQ(usage.prompt_tokens, 12u);
  EXPECT_EQ(usage.completion_tokens, 5u);
}

// ---------------------------------------------------------------------------------------------
// Embeddings

std::vector<float> decode_floats(const std::string& b64) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  unsigned buf = 0;
  int bits = 0;
  for (char c : b64) {
    auto pos = kAlphabet.find(c);
    if (pos == std::string::npos) {
      break;
    }
    buf = (buf << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((buf >> bits) & 0xFF));
    }
  }
  std::vector<float> out(bytes.size() / 4);
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint32_t v = 0;
    for (int b = 3; b >= 0; --b) {
      v = (v << 8) | static_cast<unsigned char>(bytes[i * 4 + static_cast<std::size_t>(b)]);
    }
    std::memcpy(&out[i], &v, 4);
  }
  return out;
}

TEST(GeminiEmbeddings, FloatAndBase64) {
  const std::string body =
      R"({"embeddings":[{"values":[0.5,-1.25,3.0]},{"values":[0.013168523,-0.008711934]}]})";
  GeminiAdapter gemini;
  Usage usage;
  usage.present = true;
  auto floats = ojson::parse(gemini.translate_embeddings(body, usage, false));
  EXPECT_FALSE(usage.present);
  EXPECT_EQ(floats, ojson::parse(R"({"object":"list","data":[
    {"object":"embedding","index":0,"embedding":[0.5,-1.25,3.0]},
    {"object":"embedding","index":1,"embedding":[0.013168523,-0.008711934]}],
    "model":"gemini","usage":{"prompt_tokens":0,"total_tokens":0}})"));
  auto b64 = ojson::parse(gemini.translate_embeddings(body, usage, true));
  ASSERT_EQ(b64["data"].size(), 2u);
  EXPECT_EQ(b64["data"][0]["embedding"], "AAAAPwAAoL8AAEBA");  // LE float32 0.5, -1.25, 3.0
  auto second = decode_floats(b64["data"][1]["embedding"].get<std::string>());
  ASSERT_EQ(second.size(), 2u);
  EXPECT_FLOAT_EQ(second[0], 0.013168523f);
  EXPECT_FLOAT_EQ(second[1], -0.008711934f);
  // Through the contract: base64, the OpenAI SDKs' default.
  RequestOptions b64_options;
  b64_options.base64_embeddings = true;
  auto via = ojson::parse(
      adapter()->translate_response(Operation::embeddings, body, b64_options, usage).value());
  EXPECT_EQ(via["data"][0]["embedding"], "AAAAPwAAoL8AAEBA");
}

// ---------------------------------------------------------------------------------------------
// Streams

TEST(GeminiStream, EveryFixtureIdenticalAtEveryByteSplit) {
  for (const auto& name : kStreamFixtures) {
    SCOPED_TRACE(name);
    auto stream = stream_fixture(name);
    ASSERT_FALSE(stream.empty());
    auto whole = run_stream(stream);
    auto reference = normalized(whole.out);
    for (std::size_t split = 1; split < stream.size(); ++split) {
      std::string_view s(stream);
      auto r = run_stream({s.substr(0, split), s.substr(split)});
      ASSERT_EQ(normalized(r.out), reference) << "split at " << split;
      ASSERT_EQ(r.finished, whole.finished) << "split at " << split;
    }
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < stream.size(); ++i) {
      bytes.push_back(std::string_view(stream).substr(i, 1));
    }
    EXPECT_EQ(normalized(run_stream(bytes).out), reference) << "byte by byte";
  }
}

TEST(GeminiStream, TextFixturesGolden) {
  struct Case {
    const char* file;
    const char* finish;
  };
  for (auto c : {Case{"streaming-success-basic-reply-short.sse", "stop"},
                 Case{"streaming-success-basic-reply-long.sse", "stop"},
                 Case{"streaming-success-utf8.sse", "stop"},
                 Case{"streaming-success-citations.sse", "stop"},
                 Case{"streaming-success-search-grounding.sse", "stop"},
                 Case{"streaming-unknown-enum.sse", "stop"},
                 Case{"streaming-failure-finish-reason-safety.sse", "content_filter"},
                 Case{"streaming-failure-recitation-no-content.sse", "content_filter"},
                 Case{"vercel-text.chunks.jsonl", "stop"},
                 Case{"vercel-reasoning.chunks.jsonl", "stop"}}) {
    SCOPED_TRACE(c.file);
    auto stream = stream_fixture(c.file);
    auto r = run_stream(stream);
    EXPECT_TRUE(r.fed);
    EXPECT_TRUE(r.finished);
    EXPECT_FALSE(r.failure);
    EXPECT_TRUE(r.has_content);
    auto a = assemble(r.out);
    EXPECT_TRUE(a.role_first);
    EXPECT_TRUE(a.done_last);
    EXPECT_EQ(a.text, fixture_text(stream));
    EXPECT_FALSE(a.text.empty());
    EXPECT_TRUE(a.tool_calls.empty());
    EXPECT_EQ(a.finish_reason, c.finish);
  }
  EXPECT_EQ(assemble(run_stream(fixture("streaming-success-basic-reply-short.sse")).out).text,
            "Cheyenne");
}

TEST(GeminiStream, UsageIsTheLastCumulativeOneAndOnlyWhenAsked) {
  auto stream = jsonl_stream("vercel-text.chunks.jsonl");
  auto with = run_stream(stream, true);
  auto a = assemble(with.out);
  EXPECT_EQ(a.usage, ojson::parse(R"({"prompt_tokens":9,"completion_tokens":208,
      "total_tokens":217,"prompt_tokens_details":{"cached_tokens":0},
      "completion_tokens_details":{"reasoning_tokens":185}})"));
  EXPECT_TRUE(with.usage.present);
  EXPECT_EQ(with.usage.prompt_tokens, 9u);
  EXPECT_EQ(with.usage.completion_tokens, 208u);
  auto events = data_events(with.out);
  EXPECT_EQ(events[0]["id"], "chatcmpl-bH6LaZW8Fp_3nsEPqtaSwQ4");
  EXPECT_EQ(events[0]["model"], "gemini-3-pro-preview");
  for (const auto& e : events) {
    if (e != "[DONE]") {
      EXPECT_EQ(e["id"], events[0]["id"]);
      EXPECT_EQ(e["created"], events[0]["created"]);
    }
  }

  auto without = run_stream(stream, false);
  EXPECT_TRUE(assemble(without.out).usage.is_null());
  EXPECT_TRUE(without.usage.present);  // still counted for the gateway
  EXPECT_EQ(without.usage.completion_tokens, 208u);

  auto grounding = run_stream(fixture("streaming-success-search-grounding.sse"));
  EXPECT_EQ(grounding.usage.prompt_tokens, 8u);
  EXPECT_EQ(grounding.usage.completion_tokens, 106u);
}

TEST(GeminiStream, PromptBlockedIsContentFilterWithoutContent) {
  auto r = run_stream(fixture("streaming-failure-prompt-blocked-safety.sse"));
  EXPECT_TRUE(r.finished);
  EXPECT_FALSE(r.failure);
  auto a = assemble(r.out);
  EXPECT_TRUE(a.role_first);
  EXPECT_EQ(a.text, "");
  EXPECT_EQ(a.finish_reason, "content_filter");
  EXPECT_TRUE(a.done_last);
}

TEST(GeminiStream, EmptyCandidateWithoutFinishIsABrokenStream) {
  auto r = run_stream(fixture("streaming-failure-empty-content.sse"));
  EXPECT_TRUE(r.fed);
  EXPECT_FALSE(r.finished);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->cls, api::FailureClass::bad_response);
  EXPECT_FALSE(r.has_content);
  EXPECT_EQ(r.out, "");  // nothing reached the client: the router can fail over invisibly
}

TEST(GeminiStream, FunctionCallWholeInOneFragment) {
  for (const char* file :
       {"streaming-success-function-call-short.sse", "vercel-tool-call.chunks.jsonl"}) {
    SCOPED_TRACE(file);
    auto r = run_stream(stream_fixture(file));
    EXPECT_TRUE(r.finished);
    auto a = assemble(r.out);
    EXPECT_EQ(a.finish_reason, "tool_calls");
    EXPECT_EQ(a.text, "");
    ASSERT_EQ(a.tool_calls.size(), 1u);
    const auto& tc = a.tool_calls[0];
    EXPECT_EQ(tc["type"], "function");
    EXPECT_TRUE(tc["id"].get<std::string>().starts_with("call_"));
  }
  auto old = assemble(run_stream(fixture("streaming-success-function-call-short.sse")).out);
  EXPECT_EQ(old.tool_calls[0]["function"], ojson::parse(R"({"name":"getTemperature",
      "arguments":"{\"city\":\"San Jose\"}"})"));
  EXPECT_FALSE(old.tool_calls[0].contains("extra_content"));

  auto stream = jsonl_stream("vercel-tool-call.chunks.jsonl");
  auto fresh = assemble(run_stream(stream).out);
  auto sig = ojson::parse(fixture("vercel-tool-call.chunks.jsonl").substr(
      0, fixture("vercel-tool-call.chunks.jsonl").find('\n')))["candidates"][0]["content"]
      ["parts"][0]["thoughtSignature"];
  auto expected = ojson::parse(R"({"index":0,"id":"call_b36LacjwM668nsEP2tbsgQQ_0",
      "type":"function",
      "function":{"name":"weather","arguments":"{\"location\":\"San Francisco\"}"},
      "extra_content":{"google":{"thought_signature":""}}})");
  expected["extra_content"]["google"]["thought_signature"] = sig;
  EXPECT_EQ(fresh.tool_calls[0], expected);
}

TEST(GeminiStream, StreamedFunctionCallArgumentsAreAssembled) {
  auto r = run_stream(jsonl_stream("vercel-stream-tool-call-arguments.chunks.jsonl"));
  EXPECT_TRUE(r.finished);
  auto a = assemble(r.out);
  EXPECT_EQ(a.finish_reason, "tool_calls");
  ASSERT_EQ(a.tool_calls.size(), 2u);
  EXPECT_EQ(a.tool_calls[0]["function"], ojson::parse(R"({"name":"getWeather",
      "arguments":"{\"location\":\"Boston\"}"})"));
  EXPECT_TRUE(a.tool_calls[0].contains("extra_content"));
  EXPECT_EQ(a.tool_calls[1]["function"], ojson::parse(R"({"name":"getWeather",
      "arguments":"{\"location\":\"San Francisco\"}"})"));
  EXPECT_EQ(a.tool_calls[1]["id"], "call_dqHOab6xGLzWodAPkPuViA4_1");
  EXPECT_EQ(r.usage.completion_tokens, 23u + 132u);
}

// Writing "$.a[N]" (or "$.a.N") resizes the array to N: an upstream must not make the gateway
// allocate gigabytes (fuzz_provider_gemini found such a path throwing bad_alloc). Far indexes
// are skipped, in every path form; near ones still fill in.
TEST(GeminiStream, AFarArrayIndexInStreamedArgumentsIsSkipped) {
  std::string stream =
      "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":"
      "{\"name\":\"f\",\"willContinue\":true}}]}}]}\n\n"
      "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":"
      "{\"partialArgs\":[{\"jsonPath\":\"$.a[1]\",\"numberValue\":7},"
      "{\"jsonPath\":\"$.a[99999999999]\",\"numberValue\":8},"
      "{\"jsonPath\":\"$.b[5000]\",\"numberValue\":9},"
      "{\"jsonPath\":\"$.c.99999999999\",\"numberValue\":1},"
      "{\"jsonPath\":\"$['d']['99999999999']\",\"numberValue\":1}],\"willContinue\":true}}]}}]}\n\n"
      "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":"
      "{}}]},\"finishReason\":\"STOP\"}]}\n\n";
  auto r = run_stream(std::string_view(stream));
  auto a = assemble(r.out);
  ASSERT_EQ(a.tool_calls.size(), 1u);
  EXPECT_EQ(a.tool_calls[0]["function"]["arguments"], "{\"a\":[null,7]}");
}

TEST(GeminiStream, HasContentOnlyOnceAnswerArrives) {
  auto tr = adapter()->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  EXPECT_FALSE(tr->has_content());
  ASSERT_TRUE(tr->feed("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\","
                       "\"thoughtSignature\":\"x\"}]},\"index\":0}]}\r\n\r\n",
                       out));
  EXPECT_FALSE(tr->has_content());
  EXPECT_EQ(out, "");
  ASSERT_TRUE(tr->feed("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]},"
                       "\"finishReason\":\"STOP\"}]}\r\n\r\n",
                       out));
  EXPECT_TRUE(tr->has_content());
  auto events = data_events(out);
  ASSERT_EQ(events.size(), 2u);  // role chunk, then the text; the finish chunk waits for the end
  EXPECT_EQ(events[1]["choices"][0]["delta"]["content"], "Hi");
  EXPECT_TRUE(events[1]["choices"][0]["finish_reason"].is_null());
  ASSERT_TRUE(tr->finish(out));
  EXPECT_TRUE(tr->finish(out));  // idempotent
  EXPECT_EQ(assemble(out).finish_reason, "stop");
}

TEST(GeminiStream, LastEventWithoutBlankLineStillCounts) {
  auto r = run_stream(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"ok\"}]},"
      "\"finishReason\":\"STOP\"}]}");
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(assemble(r.out).text, "ok");
}

TEST(GeminiStream, ErrorsInTheStream) {
  auto r = run_stream(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"par\"}]}}]}\r\n\r\n"
      "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\","
      "\"status\":\"UNAVAILABLE\"}}\r\n\r\n");
  EXPECT_FALSE(r.fed);
  EXPECT_FALSE(r.finished);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->cls, api::FailureClass::server_error);
  EXPECT_NE(r.failure->message.find("overloaded"), std::string::npos);

  auto limited = run_stream(
      "data: {\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":"
      "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"2s\"}]}}\r\n\r\n");
  ASSERT_TRUE(limited.failure);
  EXPECT_EQ(limited.failure->cls, api::FailureClass::rate_limited);
  EXPECT_EQ(limited.failure->retry_after, std::chrono::milliseconds(2000));

  auto bad = run_stream("data: {\"error\":{\"code\":400,\"message\":\"bad\"}}\r\n\r\n");
  ASSERT_TRUE(bad.failure);
  // The request was accepted already: not the client's fault.
  EXPECT_EQ(bad.failure->cls, api::FailureClass::server_error);

  auto garbage = run_stream("data: {not json\r\n\r\n");
  EXPECT_FALSE(garbage.fed);
  ASSERT_TRUE(garbage.failure);
  EXPECT_EQ(garbage.failure->cls, api::FailureClass::bad_response);

  auto cut = run_stream(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"par\"}]}}]}\r\n\r\n");
  EXPECT_TRUE(cut.fed);
  EXPECT_FALSE(cut.finished);
  ASSERT_TRUE(cut.failure);
  EXPECT_EQ(cut.failure->cls, api::FailureClass::bad_response);
  EXPECT_TRUE(cut.has_content);

  auto truncated = run_stream(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"ok\"}]},"
      "\"finishReason\":\"STOP\"}]}\r\n\r\ndata: {\"candidates\":[{\"con");
  EXPECT_FALSE(truncated.finished);
  ASSERT_TRUE(truncated.failure);
  EXPECT_EQ(truncated.failure->cls, api::FailureClass::bad_response);
}

// ---------------------------------------------------------------------------------------------
// Errors (bodies as the Gemini API sends them)

const std::string kTooLong =
    R"({"error":{"code":400,"status":"INVALID_ARGUMENT","message":"The input token count )"
    R"((1200000) exceeds the maximum number of tokens allowed (1048576)."}})";

TEST(GeminiErrors, ClassificationTable) {
  using api::FailureClass;
  using std::chrono::milliseconds;
  const std::string key_invalid = R"({"error":{"code":400,
    "message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",
    "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID",
      "domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}})";
  const std::string region = R"({"error":{"code":400,
    "message":"User location is not supported for the API use.","status":"FAILED_PRECONDITION"}})";
  const std::string denied = R"({"error":{"code":403,
    "message":"Method doesn't allow unregistered callers.","status":"PERMISSION_DENIED"}})";
  const std::string missing = R"({"error":{"code":404,
    "message":"models/gemini-9 is not found for API version v1beta.","status":"NOT_FOUND"}})";
  const std::string daily = R"({"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED",
    "details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure",
      "violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
      {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3600s"}]}})";
  const std::string internal = R"({"error":{"code":500,
    "message":"An internal error has occurred.","status":"INTERNAL"}})";
  struct Case {
    int status;
    std::string body;
    FailureClass cls;
  };
  const std::vector<Case> cases = {
      {400, key_invalid, FailureClass::provider_auth},
      {400, kTooLong, FailureClass::context_length},
      {400, fixture("unary-failure-image-rejected.json"), FailureClass::client_error},
      {400, region, FailureClass::provider_auth},
      {401, "{}", FailureClass::provider_auth},
      {403, denied, FailureClass::provider_auth},
      {404, missing, FailureClass::model_not_found},
      {408, "", FailureClass::conflict},
      {429, fixture("vercel-429-retry-info.json"), FailureClass::rate_limited},
      {429, daily, FailureClass::quota_exhausted},
      {500, internal, FailureClass::server_error},
      {502, "<html>bad gateway</html>", FailureClass::server_error},
      {503, R"({"error":{"code":503,"status":"UNAVAILABLE"}})", FailureClass::server_error},
      {504, R"({"error":{"code":504,"status":"DEADLINE_EXCEEDED"}})", FailureClass::server_error},
      {400, "[" + key_invalid + "]", FailureClass::provider_auth},  // compat array form
      {422, "not json", FailureClass::client_error},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::to_string(c.status) + " " + c.body.substr(0, 80));
    auto f = adapter()->classify_error(c.status, c.body, std::nullopt);
    EXPECT_EQ(f.cls, c.cls) << api::to_string(f.cls);
    EXPECT_EQ(f.status, c.status);
    EXPECT_EQ(f.message.find("AIza"), std::string::npos);
  }
}

TEST(GeminiErrors, RetryInfoUnlessTheCallerHasRetryAfter) {
  auto body = fixture("vercel-429-retry-info.json");
  auto f = adapter()->classify_error(429, body, std::nullopt);
  EXPECT_EQ(f.cls, api::FailureClass::rate_limited);
  EXPECT_EQ(f.retry_after, std::chrono::milliseconds(34400));
  auto g = adapter()->classify_error(429, body, std::chrono::milliseconds(5000));
  EXPECT_EQ(g.retry_after, std::chrono::milliseconds(5000));
  auto h = adapter()->classify_error(
      429, R"({"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}})", std::nullopt);
  EXPECT_EQ(h.cls, api::FailureClass::rate_limited);
  EXPECT_FALSE(h.retry_after);
}

TEST(GeminiErrors, ClientFaultsReachTheClientInOpenAiShape) {
  auto f = adapter()->classify_error(400, fixture("unary-failure-image-rejected.json"),
                                     std::nullopt);
  auto body = ojson::parse(f.body);
  EXPECT_EQ(body["error"]["message"], "Request contains an invalid argument.");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["code"], "invalid_argument");
  auto too_long = adapter()->classify_error(400, kTooLong, std::nullopt);
  EXPECT_EQ(ojson::parse(too_long.body)["error"]["code"], "context_length_exceeded");
}

}  // namespace
}  // namespace llmgw::providers
