// Golden tests of the Anthropic adapter against the recorded Messages API payloads in
// tests/fixtures/anthropic (see tests/fixtures/README.md for their provenance).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "llmgw/api/sse.hpp"
#include "llmgw/providers/adapter.hpp"
#include "providers/anthropic/anthropic_adapter.hpp"

namespace llmgw::providers {
namespace {

using nlohmann::json;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(LLMGW_SOURCE_DIR) + "/tests/fixtures/anthropic/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A vercel/ai JSONL recording (framing stripped) back in the service's wire form.
std::string jsonl_to_sse(const std::string& jsonl) {
  std::istringstream lines(jsonl);
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) {
      out += "event: " + json::parse(line)["type"].get<std::string>() + "\ndata: " + line + "\n\n";
    }
  }
  return out;
}

// One exchange of a recorded HTTP transcript, whichever of the two recorders wrote it.
struct Exchange {
  json request;  // the request body sent to Anthropic
  int status = 0;
  std::string response;  // the response body as received
  bool stream = false;
};

std::vector<Exchange> transcript(const std::string& name) {
  std::vector<Exchange> out;
  for (const auto& x : json::parse(fixture(name))) {
    Exchange e;
    bool nock = x.contains("scope");
    e.request = nock ? x["body"] : x["request"]["body"];
    e.status = nock ? x["status"].get<int>() : x["response"]["status_code"].get<int>();
    const json& body = nock ? x["response"] : x["response"]["body"];
    e.stream = body.is_string();
    e.response = body.is_string() ? body.get<std::string>() : body.dump();
    out.push_back(std::move(e));
  }
  return out;
}

const char* const kTranscripts[] = {
    "http-400-invalid-tool-result.json", "http-429-then-json.json",
    "http-429-x-should-retry-then-stream.json", "http-nock-tool-runner.json",
    "http-ratelimit-headers.json", "http-stream-beta.json", "http-stream-tool-runner.json"};

struct NamedStream {
  std::string name;
  std::string sse;
};

// Every recorded stream: raw .sse files, JSONL recordings and the SSE bodies in transcripts.
std::vector<NamedStream> all_streams() {
  std::vector<NamedStream> out;
  for (const char* f : {"stream-text.sse", "stream-tool-use.sse", "stream-max-tokens-mid-tool.sse",
                        "stream-refusal.sse"}) {
    out.push_back({f, fixture(f)});
  }
  for (const char* f : {"vercel-json-tool.2.chunks.jsonl", "vercel-mcp.1.chunks.jsonl",
                        "vercel-message-delta-input-tokens.chunks.jsonl",
                        "vercel-text.chunks.jsonl", "vercel-tool-no-args.chunks.jsonl"}) {
    out.push_back({f, jsonl_to_sse(fixture(f))});
  }
  for (const char* f : kTranscripts) {
    int i = 0;
    for (auto& e : transcript(f)) {
      if (e.status == 200 && e.stream) {
        out.push_back({std::string(f) + "#" + std::to_string(i), e.response});
      }
      ++i;
    }
  }
  return out;
}

config::ProviderConfig provider(std::string key = "sk-ant-upstream") {
  config::ProviderConfig p;
  p.name = "claude";
  p.kind = config::ProviderKind::anthropic;
  p.base_url = "https://api.anthropic.com/v1";
  p.url = *common::parse_url(p.base_url);
  p.api_key = std::move(key);
  p.headers["anthropic-beta"] = "prompt-caching-2024-07-31";
  return p;
}

config::TargetConfig target() {
  config::TargetConfig t;
  t.provider = "claude";
  t.model = "claude-sonnet-4-5";
  return t;
}

std::shared_ptr<const ProviderAdapter> adapter() {
  return make_adapter(config::ProviderKind::anthropic);
}

json render(json body, const RequestOptions& options = {}) {
  auto req = adapter()->build_request(Operation::chat, body, provider(), target(), options);
  return json::parse(req.body);
}

std::optional<std::string> why_not(const json& body) {
  return adapter()->unsupported(Operation::chat, body, provider(), target());
}

std::string header(const UpstreamRequest& req, const std::string& name) {
  for (const auto& h : req.headers) {
    if (h.name == name) {
      return h.value;
    }
  }
  return "<absent>";
}

// --- registration and request rendering ------------------------------------------------------

TEST(AnthropicAdapter, RegisteredForItsKindAndChatOnly) {
  auto a = adapter();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind(), config::ProviderKind::anthropic);
  EXPECT_TRUE(a->supports(Operation::chat));
  EXPECT_FALSE(a->supports(Operation::embeddings));
  EXPECT_FALSE(a->supports(Operation::completions));
}

TEST(AnthropicAdapter, RendersMessagesRequest) {
  auto body = json::parse(R"({
    "model":"smart","stream":true,"stream_options":{"include_usage":true},
    "messages":[{"role":"system","content":"You are terse."},
                {"role":"developer","content":[{"type":"text","text":"Answer in French."}]},
                {"role":"user","content":"hi","name":"bob"}],
    "user":"u-1","seed":7,"store":true,"metadata":{"k":"v"},"service_tier":"auto",
    "temperature":1.5,"top_p":0.9,"stop":"END","parallel_tool_calls":true})");
  auto req = adapter()->build_request(Operation::chat, body, provider(), target(), {true, true});
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/v1/messages");
  EXPECT_EQ(header(req, "x-api-key"), "sk-ant-upstream");
  EXPECT_EQ(header(req, "anthropic-version"), "2023-06-01");
  EXPECT_EQ(header(req, "content-type"), "application/json");
  EXPECT_EQ(header(req, "anthropic-beta"), "prompt-caching-2024-07-31");
  EXPECT_EQ(header(req, "Authorization"), "<absent>");
  auto sent = json::parse(req.body);
  auto expected = json::parse(R"({
    "model":"claude-sonnet-4-5","max_tokens":4096,
    "system":"You are terse.\n\nAnswer in French.",
    "messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],
    "stop_sequences":["END"],"temperature":1.0,"top_p":0.9,"stream":true})");
  EXPECT_EQ(sent, expected) << sent.dump(2);
}

TEST(AnthropicAdapter, ApiVersionKeylessProviderAndMaxTokens) {
  auto p = provider("");
  p.api_version = "2026-10-21";
  auto body = json::parse(
      R"({"messages":[{"role":"user","content":"x"}],"max_tokens":50,"stop":["a","b"]})");
  auto req = adapter()->build_request(Operation::chat, body, p, target(), {});
  EXPECT_EQ(header(req, "anthropic-version"), "2026-10-21");
  EXPECT_EQ(header(req, "x-api-key"), "<absent>");
  auto sent = json::parse(req.body);
  EXPECT_EQ(sent["max_tokens"], 50);
  EXPECT_EQ(sent["stop_sequences"], json::parse(R"(["a","b"])"));
  EXPECT_FALSE(sent.contains("stream"));
  EXPECT_FALSE(sent.contains("system"));
  body["max_completion_tokens"] = 70;  // the newer name wins
  EXPECT_EQ(render(body)["max_tokens"], 70);
  body["temperature"] = 0.3;
  EXPECT_EQ(render(body)["temperature"], 0.3);
}

TEST(AnthropicAdapter, RendersToolLoop) {
  auto body = json::parse(R"({
    "messages":[
      {"role":"user","content":"Weather in Paris and Rome?"},
      {"role":"assistant","content":"Checking.","tool_calls":[
        {"id":"toolu_1","type":"function",
         "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
        {"id":"toolu_2","type":"function",
         "function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}},
        {"id":"toolu_3","type":"function","function":{"name":"now","arguments":""}}]},
      {"role":"tool","tool_call_id":"toolu_1","content":"18C"},
      {"role":"tool","tool_call_id":"toolu_2","content":[{"type":"text","text":"21C"}]},
      {"role":"tool","tool_call_id":"toolu_3","content":""},
      {"role":"user","content":"Thanks. Which is warmer?"}],
    "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now",
              "parameters":{"type":"object","properties":{"city":{"type":"string"}},
                            "required":["city"]}}},
             {"type":"function","function":{"name":"now"}}],
    "tool_choice":"required","parallel_tool_calls":false})");
  auto sent = render(body);
  auto expected = json::parse(R"([
    {"role":"user","content":[{"type":"text","text":"Weather in Paris and Rome?"}]},
    {"role":"assistant","content":[{"type":"text","text":"Checking."},
      {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},
      {"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Rome"}},
      {"type":"tool_use","id":"toolu_3","name":"now","input":{}}]},
    {"role":"user","content":[
      {"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},
      {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"21C"}]},
      {"type":"tool_result","tool_use_id":"toolu_3"},
      {"type":"text","text":"Thanks. Which is warmer?"}]}])");
  EXPECT_EQ(sent["messages"], expected) << sent["messages"].dump(2);
  EXPECT_EQ(sent["tools"], json::parse(R"([
    {"name":"get_weather","description":"Weather now",
     "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
    {"name":"now","input_schema":{"type":"object"}}])"));
  EXPECT_EQ(sent["tool_choice"], json::parse(R"({"type":"any","disable_parallel_tool_use":true})"));
}

TEST(AnthropicAdapter, ToolChoiceMapping) {
  auto body = json::parse(R"({"messages":[{"role":"user","content":"x"}],
    "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]})");
  EXPECT_FALSE(render(body).contains("tool_choice"));  // Anthropic's default is auto too
  const std::pair<const char*, const char*> cases[] = {
      {R"("auto")", R"({"type":"auto"})"},
      {R"("none")", R"({"type":"none"})"},
      {R"("required")", R"({"type":"any"})"},
      {R"({"type":"function","function":{"name":"f"}})", R"({"type":"tool","name":"f"})"},
  };
  for (const auto& [openai, anthropic] : cases) {
    body["tool_choice"] = json::parse(openai);
    EXPECT_EQ(render(body)["tool_choice"], json::parse(anthropic)) << openai;
  }
  body.erase("tool_choice");
  body["parallel_tool_calls"] = false;
  EXPECT_EQ(render(body)["tool_choice"],
            json::parse(R"({"type":"auto","disable_parallel_tool_use":true})"));
  body["tool_choice"] = "none";  // nothing to parallelise: Anthropic's none takes no flag
  EXPECT_EQ(render(body)["tool_choice"], json::parse(R"({"type":"none"})"));
}

TEST(AnthropicAdapter, ToolHistoryWithoutToolsIsSentAsIs) {
  // The API accepts tool blocks without `tools` (http-nock-tool-runner.json, exchange 9, got a
  // 200), so nothing is invented to satisfy the older documented rule.
  auto body = json::parse(R"({"messages":[
    {"role":"user","content":"x"},
    {"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function",
      "function":{"name":"f","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"t1","content":"ok"},
    {"role":"user","content":"and now, without tools?"}]})");
  auto sent = render(body);
  EXPECT_FALSE(sent.contains("tools"));
  EXPECT_FALSE(sent.contains("tool_choice"));
  // null content with tool calls: only the tool_use block, no empty text block.
  EXPECT_EQ(sent["messages"][1]["content"], json::parse(R"([
    {"type":"tool_use","id":"t1","name":"f","input":{}}])"));
}

TEST(AnthropicAdapter, RendersImagesDocumentsAndCacheControl) {
  auto body = json::parse(R"({"messages":[
    {"role":"system","content":[{"type":"text","text":"Long rules",
                                 "cache_control":{"type":"ephemeral"}}]},
    {"role":"user","content":[
      {"type":"text","text":"What is in these?"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
      {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}},
      {"type":"file",
       "file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}},
      {"type":"text","text":""}]}]})");
  auto sent = render(body);
  EXPECT_EQ(sent["system"], json::parse(R"([
    {"type":"text","text":"Long rules","cache_control":{"type":"ephemeral"}}])"));
  EXPECT_EQ(sent["messages"][0]["content"], json::parse(R"([
    {"type":"text","text":"What is in these?"},
    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
    {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}},
    {"type":"document","title":"a.pdf",
     "source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}])"))
      << sent["messages"].dump(2);
}

TEST(AnthropicAdapter, MergesConsecutiveSameRoleMessages) {
  auto sent = render(json::parse(R"({"messages":[
    {"role":"user","content":"a"},{"role":"user","content":"b"},
    {"role":"assistant","content":"c"},{"role":"assistant","content":[{"type":"text","text":"d"}]},
    {"role":"system","content":"late system"},{"role":"user","content":"e"}]})"));
  EXPECT_EQ(sent["system"], "late system");
  EXPECT_EQ(sent["messages"], json::parse(R"([
    {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
    {"role":"assistant","content":[{"type":"text","text":"c"},{"type":"text","text":"d"}]},
    {"role":"user","content":[{"type":"text","text":"e"}]}])"));
}

TEST(AnthropicAdapter, JsonSchemaResponseFormatBecomesOutputConfig) {
  // The recorded request of http-429-then-json.json used output_config; rendering the OpenAI
  // form of it must give the same output_config.
  auto recorded = transcript("http-429-then-json.json").back().request;
  json body = {{"messages", {{{"role", "user"}, {"content", recorded["messages"][0]["content"]}}}},
               {"max_tokens", recorded["max_tokens"]},
               {"response_format",
                {{"type", "json_schema"},
                 {"json_schema",
                  {{"name", "OrderDetails"},
                   {"strict", true},
                   {"schema", recorded["output_config"]["format"]["schema"]}}}}}};
  auto sent = render(body);
  EXPECT_EQ(sent["output_config"], recorded["output_config"]);
  recorded.erase("model");
  sent.erase("model");
  recorded["messages"][0]["content"] =
      json::array({{{"type", "text"}, {"text", recorded["messages"][0]["content"]}}});
  EXPECT_EQ(sent, recorded);
  body["response_format"] = {{"type", "text"}};
  EXPECT_FALSE(render(body).contains("output_config"));
}

// The OpenAI request a client would have sent for a recorded Anthropic request: the inverse of
// the translation map, written independently of the adapter.
json openai_request_for(const json& anthropic) {
  json body = {{"model", "any"}, {"messages", json::array()}};
  if (anthropic.contains("system")) {
    body["messages"].push_back({{"role", "system"}, {"content", anthropic["system"]}});
  }
  for (const auto& m : anthropic["messages"]) {
    if (m["content"].is_string()) {
      body["messages"].push_back(m);
      continue;
    }
    json parts = json::array();
    json text;
    json calls = json::array();
    for (const auto& b : m["content"]) {
      if (b["type"] == "text") {
        parts.push_back({{"type", "text"}, {"text", b["text"]}});
        text = text.is_null() ? b["text"]
                              : json(text.get<std::string>() + b["text"].get<std::string>());
      } else if (b["type"] == "tool_use") {
        calls.push_back({{"id", b["id"]},
                         {"type", "function"},
                         {"function", {{"name", b["name"]}, {"arguments", b["input"].dump()}}}});
      } else if (b["type"] == "tool_result") {
        body["messages"].push_back(
            {{"role", "tool"}, {"tool_call_id", b["tool_use_id"]}, {"content", b["content"]}});
      }
    }
    if (m["role"] == "assistant") {
      json a = {{"role", "assistant"}, {"content", text}};
      if (!calls.empty()) {
        a["tool_calls"] = calls;
      }
      body["messages"].push_back(a);
    } else if (!parts.empty()) {
      body["messages"].push_back({{"role", "user"}, {"content", parts}});
    }
  }
  if (anthropic.contains("tools")) {
    body["tools"] = json::array();
    for (const auto& t : anthropic["tools"]) {
      json f = {{"name", t["name"]}, {"parameters", t["input_schema"]}};
      if (t.contains("description")) {
        f["description"] = t["description"];
      }
      body["tools"].push_back({{"type", "function"}, {"function", f}});
    }
  }
  if (anthropic.contains("max_tokens")) {
    body["max_tokens"] = anthropic["max_tokens"];
  }
  if (anthropic.contains("output_config")) {
    body["response_format"] = {
        {"type", "json_schema"},
        {"json_schema",
         {{"name", "out"}, {"schema", anthropic["output_config"]["format"]["schema"]}}}};
  }
  return body;
}

// What the adapter must send for a recorded request: the same request in the adapter's
// canonical spelling (text blocks, not strings; consecutive turns merged; default max_tokens;
// no recorder-only fields).
json canonical(json anthropic) {
  json messages = json::array();
  for (auto m : anthropic["messages"]) {
    if (m["content"].is_string()) {
      m["content"] = json::array({{{"type", "text"}, {"text", m["content"]}}});
    }
    for (auto& b : m["content"]) {
      b.erase("caller");
    }
    if (!messages.empty() && messages.back()["role"] == m["role"]) {
      for (auto& b : m["content"]) {
        messages.back()["content"].push_back(b);
      }
    } else {
      messages.push_back(m);
    }
  }
  anthropic["messages"] = messages;
  if (anthropic.contains("tools")) {
    for (auto& t : anthropic["tools"]) {
      t.erase("type");  // "custom" is the default tool type
    }
  }
  if (!anthropic.contains("max_tokens")) {
    anthropic["max_tokens"] = 4096;
  }
  if (anthropic.value("stream", false) == false) {
    anthropic.erase("stream");
  }
  anthropic.erase("model");
  return anthropic;
}

// Only requests made of what OpenAI can express (no server tools, containers, thinking).
bool expressible(const json& anthropic) {
  for (const auto& [key, value] : anthropic.items()) {
    if (key != "model" && key != "max_tokens" && key != "messages" && key != "tools" &&
        key != "stream" && key != "output_config" && key != "system") {
      return false;
    }
  }
  for (const auto& m : anthropic["messages"]) {
    if (m["content"].is_array()) {
      for (const auto& b : m["content"]) {
        if (b["type"] != "text" && b["type"] != "tool_use" && b["type"] != "tool_result") {
          return false;
        }
        if (b.contains("caller") && b["caller"]["type"] != "direct") {
          return false;
        }
      }
    }
  }
  for (const auto& t : anthropic.value("tools", json::array())) {
    for (const auto& [key, value] : t.items()) {
      if (key != "name" && key != "description" && key != "input_schema" &&
          (key != "type" || value != "custom")) {
        return false;  // server tools, programmatic-calling options
      }
    }
  }
  return true;
}

TEST(AnthropicAdapter, RecordedRequestsRoundTrip) {
  std::size_t checked = 0;
  for (const char* f : kTranscripts) {
    int i = 0;
    for (const auto& e : transcript(f)) {
      const json& recorded = e.request;
      if (expressible(recorded)) {
        auto body = openai_request_for(recorded);
        ASSERT_FALSE(why_not(body)) << f << "#" << i << ": " << *why_not(body);
        RequestOptions options{recorded.value("stream", false), false};
        auto sent = render(body, options);
        EXPECT_EQ(sent["model"], "claude-sonnet-4-5");
        sent.erase("model");
        EXPECT_EQ(sent.dump(2), canonical(recorded).dump(2)) << f << "#" << i;
        ++checked;
      }
      ++i;
    }
  }
  EXPECT_GE(checked, 15u);  // tool loops with one and two parallel tool results, JSON output
}

TEST(AnthropicAdapter, DoesNotThrowOnOddInput) {
  for (const char* odd : {R"({})", R"({"messages":null})", R"({"messages":[1,"x",{}]})",
                          R"({"messages":[{"role":"assistant","tool_calls":[1,{"function":7}]}]})",
                          R"({"messages":[{"role":"user","content":[1,{"type":"image_url"}]}],)"
                          R"("tools":[{"function":{"parameters":[]}}],"stop":[1],)"
                          R"("tool_choice":3})"}) {
    EXPECT_NO_THROW({
      auto body = json::parse(odd);
      (void)why_not(body);
      (void)render(body);
    }) << odd;
  }
}

// --- unsupported() -----------------------------------------------------------------------------

TEST(AnthropicAdapter, UnsupportedNamesParameterAndProvider) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"n":2})", "n > 1 is not supported by anthropic provider 'claude'"},
      {R"({"logprobs":true})", "logprobs is not supported by anthropic provider 'claude'"},
      {R"({"top_logprobs":3})", "top_logprobs is not supported by anthropic provider 'claude'"},
      {R"({"audio":{"voice":"alloy","format":"mp3"}})",
       "audio output is not supported by anthropic provider 'claude'"},
      {R"({"modalities":["text","audio"]})",
       "modalities other than text is not supported by anthropic provider 'claude'"},
      {R"({"presence_penalty":0.5})",
       "presence_penalty is not supported by anthropic provider 'claude'"},
      {R"({"frequency_penalty":-1})",
       "frequency_penalty is not supported by anthropic provider 'claude'"},
      {R"({"logit_bias":{"50256":-100}})",
       "logit_bias is not supported by anthropic provider 'claude'"},
      {R"({"reasoning_effort":"high"})",
       "reasoning_effort 'high' is not supported by anthropic provider 'claude'"},
      {R"({"web_search_options":{}})",
       "web_search_options is not supported by anthropic provider 'claude'"},
      {R"({"functions":[{"name":"f"}]})",
       "functions/function_call (deprecated; use tools) is not supported by anthropic provider "
       "'claude'"},
      {R"({"response_format":{"type":"json_object"}})",
       "response_format 'json_object' (use json_schema) is not supported by anthropic provider "
       "'claude'"},
      {R"({"response_format":{"type":"json_schema","json_schema":{"name":"x"}}})",
       "response_format json_schema without a schema is not supported by anthropic provider "
       "'claude'"},
      {R"({"tools":[{"type":"custom","custom":{"name":"x"}}]})",
       "tools[0] of type 'custom' is not supported by anthropic provider 'claude'"},
      {R"({"tool_choice":{"type":"allowed_tools","allowed_tools":{}}})",
       "tool_choice of type 'allowed_tools' is not supported by anthropic provider 'claude'"},
      {R"({"stop":["END","  "]})",
       "a stop sequence made only of whitespace is not supported by anthropic provider 'claude'"},
  };
  for (const auto& [extra, message] : cases) {
    auto body = json::parse(R"({"messages":[{"role":"user","content":"hi"}]})");
    body.update(json::parse(extra));
    auto why = why_not(body);
    ASSERT_TRUE(why) << extra;
    EXPECT_EQ(*why, message) << extra;
  }
}

TEST(AnthropicAdapter, UnsupportedMessageContent) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([{"role":"user","content":[
           {"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]}])",
       "messages[0].content[0] of type 'input_audio' is not supported by anthropic provider "
       "'claude'"},
      {R"([{"role":"user","content":[
           {"type":"image_url","image_url":{"url":"data:image/bmp;base64,Qk0="}}]}])",
       "messages[0].content[0]: image type 'image/bmp' is not supported by anthropic provider "
       "'claude'"},
      {R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}])",
       "messages[0].content[0]: an image URL that is neither http(s) nor base64 data is not "
       "supported by anthropic provider 'claude'"},
      {R"([{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}])",
       "messages[0].content[0]: a file other than inline base64 PDF data (file_id) is not "
       "supported by anthropic provider 'claude'"},
      {R"([{"role":"system","content":[
           {"type":"image_url","image_url":{"url":"https://x/y.png"}}]}])",
       "messages[0].content[0] of type 'image_url' is not supported by anthropic provider "
       "'claude'"},
      {R"([{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[
           {"id":"t","type":"function","function":{"name":"f","arguments":"{\"a\": 1"}}]}])",
       "messages[1].tool_calls[0].function.arguments that are not a JSON object is not "
       "supported by anthropic provider 'claude'"},
      {R"([{"role":"user","content":"x"},{"role":"assistant","content":null,"audio":{"id":"a1"}}])",
       "messages[1].audio (an audio reply in the history) is not supported by anthropic "
       "provider 'claude'"},
      {R"([{"role":"function","name":"f","content":"x"}])",
       "messages[0] with role 'function' (deprecated; use tools) is not supported by anthropic "
       "provider 'claude'"},
  };
  for (const auto& [messages, message] : cases) {
    json body = {{"messages", json::parse(messages)}};
    auto why = why_not(body);
    ASSERT_TRUE(why) << messages;
    EXPECT_EQ(*why, message) << messages;
  }
  EXPECT_EQ(*adapter()->unsupported(Operation::embeddings, json::object(), provider(), target()),
            "embeddings is not supported by anthropic provider 'claude'");
}

TEST(AnthropicAdapter, HarmlessParametersAreAccepted) {
  auto body = json::parse(R"({"messages":[
      {"role":"system","content":"s"},
      {"role":"user","content":[{"type":"text","text":"x"},
        {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/"}}]},
      {"role":"assistant","content":[{"type":"refusal","refusal":"no"}],"tool_calls":[
        {"id":"t","type":"function","function":{"name":"f","arguments":""}}]},
      {"role":"tool","tool_call_id":"t","content":"r"}],
    "n":1,"logprobs":false,"top_logprobs":0,"presence_penalty":0,"frequency_penalty":0,
    "user":"u","seed":1,"store":false,"metadata":{},"service_tier":"default","logit_bias":{},
    "parallel_tool_calls":true,"stream_options":{"include_usage":true},"modalities":["text"],
    "response_format":{"type":"text"},"reasoning_effort":"minimal","stop":null,
    "prediction":{"type":"content","content":"x"}})");
  EXPECT_FALSE(why_not(body)) << *why_not(body);
}

// --- non-streaming responses ---------------------------------------------------------------

json translate(const std::string& body, Usage& usage) {
  return json::parse(adapter()->translate_response(Operation::chat, body, usage).value());
}

TEST(AnthropicAdapter, TranslatesTextResponse) {
  Usage usage;
  auto out = translate(fixture("vercel-text.json"), usage);
  EXPECT_EQ(out["id"], "msg_01VdEjxAP5ahtHKrrRdNBteQ");
  EXPECT_EQ(out["object"], "chat.completion");
  EXPECT_TRUE(out["created"].is_number_integer());
  EXPECT_EQ(out["model"], "claude-sonnet-4-5-20250929");
  ASSERT_EQ(out["choices"].size(), 1u);
  const auto& choice = out["choices"][0];
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["finish_reason"], "stop");
  EXPECT_TRUE(choice["logprobs"].is_null());
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_EQ(choice["message"]["content"],
            "Hello! I'm doing well, thanks for asking. How are you doing today? Is there "
            "anything I can help you with?");
  EXPECT_TRUE(choice["message"]["refusal"].is_null());
  EXPECT_FALSE(choice["message"].contains("tool_calls"));
  EXPECT_EQ(out["usage"], json::parse(R"({"prompt_tokens":12,"completion_tokens":29,
    "total_tokens":41,"prompt_tokens_details":{"cached_tokens":0}})"));
  EXPECT_TRUE(usage.present);
  EXPECT_EQ(usage.prompt_tokens, 12u);
  EXPECT_EQ(usage.completion_tokens, 29u);
}

TEST(AnthropicAdapter, TranslatesToolUseResponse) {
  Usage usage;
  auto out = translate(fixture("vercel-tool-no-args.json"), usage);
  const auto& message = out["choices"][0]["message"];
  EXPECT_EQ(out["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_TRUE(message["content"].get<std::string>().starts_with("<thinking>"));
  ASSERT_EQ(message["tool_calls"].size(), 1u);
  EXPECT_EQ(message["tool_calls"][0], json::parse(R"({"id":"toolu_01LRmxn9vGM1d2DZSDBowdZ1",
    "type":"function","function":{"name":"updateIssueList","arguments":"{}"}})"));
  EXPECT_EQ(usage.prompt_tokens, 602u);
  EXPECT_EQ(usage.completion_tokens, 93u);

  // A tool-only answer (http-400-invalid-tool-result.json, first exchange): content is null.
  auto first = transcript("http-400-invalid-tool-result.json").front();
  out = translate(first.response, usage);
  EXPECT_TRUE(out["choices"][0]["message"]["content"].is_null());
  auto call = out["choices"][0]["message"]["tool_calls"][0];
  EXPECT_EQ(call["id"], "toolu_01GHndag5wQmbzNihYmV2UBj");
  EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()),
            json::parse(R"({"location":"San Francisco, CA","units":"c"})"));
}

TEST(AnthropicAdapter, TranslatesEveryRecordedResponse) {
  std::size_t checked = 0;
  for (const char* f : kTranscripts) {
    for (const auto& e : transcript(f)) {
      if (e.status != 200 || e.stream) {
        continue;
      }
      auto msg = json::parse(e.response);
      Usage usage;
      auto out = translate(e.response, usage);
      std::string text;
      bool has_text = false;
      json calls = json::array();
      for (const auto& b : msg["content"]) {
        if (b["type"] == "text") {
          text += b["text"].get<std::string>();
          has_text = true;
        } else if (b["type"] == "tool_use") {
          calls.push_back(b);
        }
      }
      const auto& m = out["choices"][0]["message"];
      EXPECT_EQ(out["id"], msg["id"]);
      EXPECT_EQ(out["model"], msg["model"]);
      EXPECT_EQ(m["content"], has_text ? json(text) : json(nullptr)) << f;
      ASSERT_EQ(m.value("tool_calls", json::array()).size(), calls.size()) << f;
      for (std::size_t i = 0; i < calls.size(); ++i) {
        EXPECT_EQ(m["tool_calls"][i]["id"], calls[i]["id"]);
        EXPECT_EQ(m["tool_calls"][i]["function"]["name"], calls[i]["name"]);
        EXPECT_EQ(json::parse(m["tool_calls"][i]["function"]["arguments"].get<std::string>()),
                  calls[i]["input"]);
      }
      std::string stop = msg["stop_reason"];
      EXPECT_EQ(out["choices"][0]["finish_reason"],
                stop == "tool_use" ? "tool_calls" : stop == "max_tokens" ? "length" : "stop");
      const auto& u = msg["usage"];
      std::uint64_t prompt = u["input_tokens"].get<std::uint64_t>() +
                             u.value("cache_read_input_tokens", std::uint64_t{0}) +
                             u.value("cache_creation_input_tokens", std::uint64_t{0});
      EXPECT_EQ(usage.prompt_tokens, prompt);
      EXPECT_EQ(usage.completion_tokens, u["output_tokens"].get<std::uint64_t>());
      EXPECT_EQ(out["usage"]["total_tokens"], prompt + u["output_tokens"].get<std::uint64_t>());
      ++checked;
    }
  }
  EXPECT_GE(checked, 12u);
}

TEST(AnthropicAdapter, ResponseUsageCountsCachedInput) {
  Usage usage;
  auto out = translate(R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-x",
    "content":[{"type":"thinking","thinking":"Let me think.","signature":"sig"},
               {"type":"text","text":"Done."}],
    "stop_reason":"max_tokens","stop_sequence":null,
    "usage":{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":3000,
             "output_tokens":5}})",
                       usage);
  EXPECT_EQ(out["usage"], json::parse(R"({"prompt_tokens":3210,"completion_tokens":5,
    "total_tokens":3215,"prompt_tokens_details":{"cached_tokens":3000}})"));
  EXPECT_EQ(usage.prompt_tokens, 3210u);
  EXPECT_EQ(out["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(out["choices"][0]["message"]["content"], "Done.");
  EXPECT_EQ(out["choices"][0]["message"]["reasoning_content"], "Let me think.");
}

TEST(AnthropicAdapter, FinishReasonMapping) {
  const std::pair<const char*, const char*> cases[] = {
      {"end_turn", "stop"},           {"stop_sequence", "stop"},
      {"pause_turn", "stop"},         {"max_tokens", "length"},
      {"model_context_window_exceeded", "length"},
      {"tool_use", "tool_calls"},     {"refusal", "content_filter"},
      {"something_new", "stop"},
  };
  for (const auto& [anthropic, openai] : cases) {
    EXPECT_EQ(anthropic_finish_reason(anthropic), openai) << anthropic;
  }
}

// --- streaming -----------------------------------------------------------------------------

// The translator's output with `created` zeroed: it is the wall clock at message_start.
std::string normalised(std::string out) {
  const std::string key = "\"created\":";
  for (auto pos = out.find(key); pos != std::string::npos; pos = out.find(key, pos)) {
    pos += key.size();
    auto end = out.find_first_not_of("0123456789", pos);
    out.replace(pos, end - pos, "0");
  }
  return out;
}

struct Translated {
  std::string out;
  bool ok = true;
  std::unique_ptr<StreamTranslator> translator;
};

Translated run(const std::string& sse, bool wants_usage, std::vector<std::size_t> cuts = {}) {
  Translated t;
  t.translator = adapter()->make_stream_translator(Operation::chat, {true, wants_usage});
  std::size_t from = 0;
  cuts.push_back(sse.size());
  for (auto cut : cuts) {
    t.ok = t.translator->feed(std::string_view(sse).substr(from, cut - from), t.out) && t.ok;
    from = cut;
  }
  t.ok = t.ok && t.translator->finish(t.out);
  return t;
}

// Decodes the ingress stream, checking the OpenAI framing rules on the way.
std::vector<json> chunks(const std::string& out) {
  std::vector<json> events;
  api::SseDecoder decoder;
  decoder.feed(out, [&](const api::SseEvent& e) {
    EXPECT_TRUE(e.event.empty()) << "event: lines break openai-node v4";
    EXPECT_FALSE(e.data.empty()) << "empty data breaks the OpenAI SDKs";
    events.push_back(e.data == "[DONE]" ? json("[DONE]") : json::parse(e.data));
  });
  EXPECT_FALSE(decoder.has_partial());
  return events;
}

struct Answer {
  std::string text;
  struct Call {
    std::string id;
    std::string name;
    std::string arguments;
  };
  std::vector<Call> calls;
  std::string finish_reason;
  json usage;  // the usage chunk's usage, null when none
};

// Checks every chunk's shape and reassembles the answer the way the OpenAI SDKs do.
Answer assemble(const std::vector<json>& events) {
  Answer a;
  EXPECT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string id;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const json& c = events[i];
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    EXPECT_TRUE(c["created"].is_number_integer());
    EXPECT_TRUE(c["model"].is_string());
    if (i == 0) {
      id = c["id"].get<std::string>();
      EXPECT_EQ(c["choices"][0]["delta"], json::parse(R"({"role":"assistant","content":""})"));
    }
    EXPECT_EQ(c["id"], id);
    if (c["choices"].empty()) {
      EXPECT_TRUE(a.usage.is_null()) << "one usage chunk";
      EXPECT_EQ(i + 2, events.size()) << "the usage chunk comes last";
      a.usage = c["usage"];
      continue;
    }
    EXPECT_EQ(c["choices"].size(), 1u);
    const json& choice = c["choices"][0];
    EXPECT_EQ(choice["index"], 0);
    EXPECT_TRUE(choice.contains("logprobs") && choice["logprobs"].is_null());
    EXPECT_TRUE(choice.contains("finish_reason"));
    EXPECT_TRUE(a.finish_reason.empty()) << "nothing after the finish chunk but usage";
    if (choice["finish_reason"].is_string()) {
      a.finish_reason = choice["finish_reason"].get<std::string>();
      EXPECT_EQ(choice["delta"], json::object());
    }
    const json& delta = choice["delta"];
    if (delta.contains("content") && i > 0) {
      a.text += delta["content"].get<std::string>();
    }
    for (const auto& tc : delta.value("tool_calls", json::array())) {
      auto index = tc["index"].get<std::size_t>();
      if (tc.contains("id")) {
        EXPECT_EQ(index, a.calls.size()) << "tool indexes count tool calls from 0";
        EXPECT_EQ(tc["type"], "function");
        a.calls.push_back({tc["id"], tc["function"]["name"], tc["function"]["arguments"]});
      } else {
        EXPECT_LT(index, a.calls.size());
        EXPECT_FALSE(tc["function"]["arguments"].get<std::string>().empty());
        a.calls[index].arguments += tc["function"]["arguments"].get<std::string>();
      }
    }
  }
  EXPECT_FALSE(a.finish_reason.empty());
  return a;
}

// The same answer read straight from the Anthropic events (the reference).
Answer expected_answer(const std::string& sse) {
  Answer a;
  std::map<std::uint64_t, std::size_t> tool_blocks;
  json usage = json::object();
  api::SseDecoder decoder;
  decoder.feed(sse + "\n\n", [&](const api::SseEvent& e) {
    auto j = json::parse(e.data);
    std::string type = j["type"];
    if (type == "message_start") {
      usage = j["message"]["usage"];
    } else if (type == "content_block_start" && j["content_block"]["type"] == "tool_use") {
      tool_blocks[j["index"].get<std::uint64_t>()] = a.calls.size();
      a.calls.push_back({j["content_block"]["id"], j["content_block"]["name"], ""});
    } else if (type == "content_block_delta" && j["delta"]["type"] == "text_delta") {
      a.text += j["delta"]["text"].get<std::string>();
    } else if (type == "content_block_delta" && j["delta"]["type"] == "input_json_delta" &&
               tool_blocks.count(j["index"].get<std::uint64_t>())) {
      auto& call = a.calls[tool_blocks[j["index"].get<std::uint64_t>()]];
      call.arguments += j["delta"]["partial_json"].get<std::string>();
    } else if (type == "message_delta") {
      a.finish_reason = anthropic_finish_reason(j["delta"]["stop_reason"].get<std::string>());
      usage.update(j["usage"]);
    }
  });
  for (auto& c : a.calls) {
    if (c.arguments.empty()) {
      c.arguments = "{}";
    }
  }
  std::uint64_t prompt = usage.value("input_tokens", std::uint64_t{0}) +
                         usage.value("cache_read_input_tokens", std::uint64_t{0}) +
                         usage.value("cache_creation_input_tokens", std::uint64_t{0});
  std::uint64_t completion = usage.value("output_tokens", std::uint64_t{0});
  a.usage = {{"prompt_tokens", prompt},
             {"completion_tokens", completion},
             {"total_tokens", prompt + completion},
             {"prompt_tokens_details", {{"cached_tokens", usage.value("cache_read_input_tokens",
                                                                      std::uint64_t{0})}}}};
  return a;
}

TEST(AnthropicStreamTranslator, EveryRecordedStreamTranslatesFaithfully) {
  auto streams = all_streams();
  ASSERT_GE(streams.size(), 13u);
  for (const auto& s : streams) {
    SCOPED_TRACE(s.name);
    auto t = run(s.sse, true);
    ASSERT_TRUE(t.ok) << (t.translator->failure() ? t.translator->failure()->message : "");
    auto got = assemble(chunks(t.out));
    auto want = expected_answer(s.sse);
    EXPECT_EQ(got.text, want.text);
    EXPECT_EQ(got.finish_reason, want.finish_reason);
    ASSERT_EQ(got.calls.size(), want.calls.size());
    for (std::size_t i = 0; i < got.calls.size(); ++i) {
      EXPECT_EQ(got.calls[i].id, want.calls[i].id);
      EXPECT_EQ(got.calls[i].name, want.calls[i].name);
      EXPECT_EQ(got.calls[i].arguments, want.calls[i].arguments);
    }
    EXPECT_EQ(got.usage, want.usage);
    const auto& usage = t.translator->usage();
    EXPECT_TRUE(usage.present);
    EXPECT_EQ(usage.prompt_tokens, want.usage["prompt_tokens"].get<std::uint64_t>());
    EXPECT_EQ(usage.completion_tokens, want.usage["completion_tokens"].get<std::uint64_t>());
    EXPECT_TRUE(t.translator->has_content());
  }
}

TEST(AnthropicStreamTranslator, SameOutputForEverySplit) {
  for (const auto& s : all_streams()) {
    SCOPED_TRACE(s.name);
    for (bool wants_usage : {false, true}) {
      auto whole = run(s.sse, wants_usage);
      ASSERT_TRUE(whole.ok);
      auto expected = normalised(whole.out);
      // Two pieces split at every byte boundary (once is enough: usage only adds a chunk)...
      for (std::size_t split = 0; wants_usage && split <= s.sse.size(); ++split) {
        auto t = run(s.sse, wants_usage, {split});
        ASSERT_TRUE(t.ok) << "split " << split;
        ASSERT_EQ(normalised(t.out), expected) << "split " << split;
      }
      // ...and one byte at a time.
      std::vector<std::size_t> every_byte;
      for (std::size_t i = 1; i < s.sse.size(); ++i) {
        every_byte.push_back(i);
      }
      auto t = run(s.sse, wants_usage, every_byte);
      ASSERT_TRUE(t.ok);
      EXPECT_EQ(normalised(t.out), expected) << "byte by byte";
    }
  }
}

TEST(AnthropicStreamTranslator, TextStream) {
  auto t = run(fixture("stream-text.sse"), false);  // note: no blank line after message_stop
  ASSERT_TRUE(t.ok);
  auto events = chunks(t.out);
  auto a = assemble(events);
  EXPECT_EQ(a.text, "Hello there!");
  EXPECT_EQ(a.finish_reason, "stop");
  EXPECT_TRUE(a.usage.is_null()) << "no usage chunk unless the client asked";
  EXPECT_EQ(events[0]["id"], "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK");
  EXPECT_EQ(events[0]["model"], "claude-3-opus-latest");
  EXPECT_EQ(events.size(), 1u + 3u + 1u + 1u);  // role, three texts, finish, [DONE]
  EXPECT_EQ(t.translator->usage().prompt_tokens, 11u);
  EXPECT_EQ(t.translator->usage().completion_tokens, 6u);
  // OpenAI's own key order, so the bytes look like OpenAI's.
  EXPECT_EQ(normalised(t.out.substr(0, t.out.find("\n\n"))),
            R"(data: {"id":"msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK",)"
            R"("object":"chat.completion.chunk",)"
            R"("created":0,"model":"claude-3-opus-latest","choices":[{"index":0,"delta":{"role":)"
            R"("assistant","content":""},"logprobs":null,"finish_reason":null}]})");
}

TEST(AnthropicStreamTranslator, ToolUseStreamUsesToolIndexNotBlockIndex) {
  auto t = run(fixture("stream-tool-use.sse"), true);
  ASSERT_TRUE(t.ok);
  auto events = chunks(t.out);
  auto a = assemble(events);
  EXPECT_EQ(a.text, "I'll check the current weather in Paris for you.");
  ASSERT_EQ(a.calls.size(), 1u);
  EXPECT_EQ(a.calls[0].id, "toolu_01NRLabsLyVHZPKxbKvkfSMn");
  EXPECT_EQ(a.calls[0].name, "get_weather");
  EXPECT_EQ(json::parse(a.calls[0].arguments), json::parse(R"({"location": "Paris"})"));
  EXPECT_EQ(a.finish_reason, "tool_calls");
  EXPECT_EQ(a.usage, json::parse(R"({"prompt_tokens":377,"completion_tokens":65,
    "total_tokens":442,"prompt_tokens_details":{"cached_tokens":0}})"));
  bool saw_start = false;
  for (const auto& e : events) {
    if (e.is_object() && !e["choices"].empty() && e["choices"][0]["delta"].contains("tool_calls")) {
      const auto& tc = e["choices"][0]["delta"]["tool_calls"][0];
      EXPECT_EQ(tc["index"], 0) << "block index 1 is tool call 0";
      if (!saw_start) {
        EXPECT_EQ(tc, json::parse(R"({"index":0,"id":"toolu_01NRLabsLyVHZPKxbKvkfSMn",
          "type":"function","function":{"name":"get_weather","arguments":""}})"));
        saw_start = true;
      }
    }
  }
  EXPECT_TRUE(saw_start);
}

TEST(AnthropicStreamTranslator, ToolArgumentsConcatenateToValidJson) {
  for (const char* f : {"stream-tool-use.sse", "vercel-json-tool.2.chunks.jsonl",
                        "vercel-tool-no-args.chunks.jsonl", "http-stream-tool-runner.json#0"}) {
    SCOPED_TRACE(f);
    std::string sse;
    for (const auto& s : all_streams()) {
      if (s.name == f) {
        sse = s.sse;
      }
    }
    ASSERT_FALSE(sse.empty());
    auto a = assemble(chunks(run(sse, false).out));
    ASSERT_FALSE(a.calls.empty());
    for (const auto& c : a.calls) {
      auto args = json::parse(c.arguments, nullptr, false);
      EXPECT_TRUE(args.is_object()) << c.arguments;
    }
  }
  // A tool without arguments streams only "": the client gets "{}", as OpenAI sends.
  auto no_args = jsonl_to_sse(fixture("vercel-tool-no-args.chunks.jsonl"));
  auto a = assemble(chunks(run(no_args, false).out));
  EXPECT_EQ(a.calls[0].arguments, "{}");
}

TEST(AnthropicStreamTranslator, MaxTokensMidToolCall) {
  auto t = run(fixture("stream-max-tokens-mid-tool.sse"), false);
  ASSERT_TRUE(t.ok);
  auto a = assemble(chunks(t.out));
  EXPECT_EQ(a.finish_reason, "length");
  ASSERT_EQ(a.calls.size(), 1u);
  EXPECT_EQ(a.calls[0].name, "make_file");
  EXPECT_TRUE(json::parse(a.calls[0].arguments, nullptr, false).is_discarded())
      << "cut off, as OpenAI's own truncated calls are";
  EXPECT_EQ(t.translator->usage().prompt_tokens, 450u);
  EXPECT_EQ(t.translator->usage().completion_tokens, 124u);
}

TEST(AnthropicStreamTranslator, RefusalIsContentFilter) {
  auto t = run(fixture("stream-refusal.sse"), false);
  ASSERT_TRUE(t.ok);
  auto a = assemble(chunks(t.out));
  EXPECT_EQ(a.finish_reason, "content_filter");
  EXPECT_EQ(a.text, "");
  EXPECT_TRUE(t.translator->has_content()) << "the finish reason is the answer";
}

TEST(AnthropicStreamTranslator, ServerToolBlocksAreNotClientToolCalls) {
  auto t = run(jsonl_to_sse(fixture("vercel-mcp.1.chunks.jsonl")), false);
  ASSERT_TRUE(t.ok);
  auto a = assemble(chunks(t.out));
  EXPECT_TRUE(a.calls.empty());
  EXPECT_EQ(a.finish_reason, "stop");
  EXPECT_EQ(t.out.find("tool_calls"), std::string::npos);
  EXPECT_NE(a.text.find("hello world"), std::string::npos);
}

TEST(AnthropicStreamTranslator, MessageDeltaInputTokensAreFinal) {
  auto t = run(jsonl_to_sse(fixture("vercel-message-delta-input-tokens.chunks.jsonl")), true);
  ASSERT_TRUE(t.ok);
  auto a = assemble(chunks(t.out));
  EXPECT_EQ(a.text, "pong");
  EXPECT_EQ(a.usage["prompt_tokens"], 61);
  EXPECT_EQ(a.usage["completion_tokens"], 2);
  EXPECT_EQ(t.translator->usage().prompt_tokens, 61u);
}

TEST(AnthropicStreamTranslator, PaddedJsonFromTheRealService) {
  auto e = transcript("http-429-x-should-retry-then-stream.json").back();
  ASSERT_TRUE(e.stream);
  ASSERT_NE(e.response.find("   }"), std::string::npos) << "the recording is padded";
  auto t = run(e.response, true);
  ASSERT_TRUE(t.ok);
  auto a = assemble(chunks(t.out));
  EXPECT_EQ(json::parse(a.text), json::parse("[12345,67890]"));
  EXPECT_EQ(a.usage["prompt_tokens"], 135);
}

TEST(AnthropicStreamTranslator, RoleChunkAloneIsNotContent) {
  auto tr = adapter()->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  std::string sse = fixture("stream-text.sse");
  auto first_delta = sse.find("event: content_block_delta");
  ASSERT_TRUE(tr->feed(std::string_view(sse).substr(0, first_delta), out));
  EXPECT_FALSE(out.empty());
  EXPECT_FALSE(tr->has_content());
  EXPECT_TRUE(tr->usage().present);
  ASSERT_TRUE(tr->feed(std::string_view(sse).substr(first_delta), out));
  EXPECT_TRUE(tr->has_content());
}

TEST(AnthropicStreamTranslator, InStreamErrors) {
  const std::string start =
      "event: message_start\ndata: "
      R"({"type":"message_start","message":{"id":"msg_1","model":"claude-x",)"
      R"("usage":{"input_tokens":3,"output_tokens":1}}})"
      "\n\n";
  const std::pair<const char*, api::FailureClass> cases[] = {
      {R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}   })",
       api::FailureClass::overloaded},
      {R"({"type":"error","error":{"type":"api_error","message":"Internal server error"}})",
       api::FailureClass::server_error},
  };
  for (const auto& [data, cls] : cases) {
    auto tr = adapter()->make_stream_translator(Operation::chat, {true, false});
    std::string out;
    ASSERT_TRUE(tr->feed(start, out));
    EXPECT_FALSE(tr->feed(std::string("event: error\ndata: ") + data + "\n\n", out));
    ASSERT_TRUE(tr->failure());
    EXPECT_EQ(tr->failure()->cls, cls);
    EXPECT_EQ(tr->failure()->body, data);
    EXPECT_FALSE(tr->finish(out));
    EXPECT_EQ(out.find("[DONE]"), std::string::npos);
  }
  auto tr = adapter()->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  EXPECT_FALSE(tr->feed("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                        "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
                        out));
  EXPECT_EQ(tr->failure()->cls, api::FailureClass::overloaded);
  EXPECT_NE(tr->failure()->message.find("Overloaded"), std::string::npos);
  EXPECT_TRUE(out.empty());
}

// A client that speaks Messages gets the upstream's own events (RequestOptions::native): every
// event the translation accepted, byte for byte, ping included, while the canonical events the
// router tracks come out as before.
TEST(AnthropicStreamTranslator, NativeRelayCarriesEveryEventAsItCame) {
  const std::string sse = fixture("stream-text.sse");
  ASSERT_NE(sse.find("event: ping"), std::string::npos);
  for (std::size_t step : {1u, 7u, 64u, 100000u}) {
    RequestOptions options{true, false};
    options.native = true;
    auto native_tr = adapter()->make_stream_translator(Operation::chat, options);
    auto plain_tr = adapter()->make_stream_translator(Operation::chat, {true, false});
    std::string native;
    native_tr->relay_native(&native);
    std::string out;
    std::string plain;
    for (std::size_t at = 0; at < sse.size(); at += step) {
      ASSERT_TRUE(native_tr->feed(std::string_view(sse).substr(at, step), out));
      ASSERT_TRUE(plain_tr->feed(std::string_view(sse).substr(at, step), plain));
    }
    ASSERT_TRUE(native_tr->finish(out));
    ASSERT_TRUE(plain_tr->finish(plain));
    // (The recording's last event lacks its blank line; the relay completes it.)
    EXPECT_EQ(native, sse.ends_with("\n\n") ? sse : sse + "\n\n") << "step " << step;
    // The canonical events are the same, but for the creation time in each chunk.
    EXPECT_EQ(chunks(out).size(), chunks(plain).size());
  }
}

TEST(AnthropicStreamTranslator, NativeRelayStopsAtTheFailureAndNamesUnnamedEvents) {
  RequestOptions options{true, false};
  options.native = true;
  auto tr = adapter()->make_stream_translator(Operation::chat, options);
  std::string native;
  tr->relay_native(&native);
  std::string out;
  // A compatible server that writes no event: lines; the relay names each event by its type.
  ASSERT_TRUE(tr->feed("data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\"}}\n\n", out));
  EXPECT_EQ(native, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
                    "{\"id\":\"msg_1\"}}\n\n");
  native.clear();
  EXPECT_FALSE(tr->feed("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                        "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
                        "event: ping\ndata: {\"type\":\"ping\"}\n\n",
                        out));
  EXPECT_EQ(native, "") << "the event that broke the stream, and what follows, is not relayed";
}

TEST(AnthropicAdapter, ANativeAnswerIsCheckedAndRelayedAsItIs) {
  RequestOptions options;
  options.native = true;
  const std::string body =
      R"({"id":"msg_1","type":"message","role":"assistant","content":[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}},{"type":"text","text":"hi","citations":[]}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}})";
  Usage usage;
  auto answer = adapter()->translate_response(Operation::chat, body, options, usage);
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, body);
  EXPECT_EQ(usage.prompt_tokens, 5u);
  EXPECT_EQ(usage.completion_tokens, 2u);
  EXPECT_FALSE(adapter()->translate_response(Operation::chat, "{\"id\":1}", options, usage));
  EXPECT_EQ(adapter()->dialect(), api::Dialect::anthropic);
}

TEST(AnthropicStreamTranslator, Endings) {
  std::string sse = fixture("stream-text.sse");
  // Cut before message_delta: the answer never finished.
  {
    auto tr = adapter()->make_stream_translator(Operation::chat, {true, false});
    std::string out;
    ASSERT_TRUE(tr->feed(sse.substr(0, sse.find("event: message_delta")), out));
    EXPECT_FALSE(tr->finish(out));
    ASSERT_TRUE(tr->failure());
    EXPECT_EQ(tr->failure()->cls, api::FailureClass::bad_response);
    EXPECT_EQ(out.find("[DONE]"), std::string::npos);
  }
  // Cut after message_delta, before message_stop: the answer is complete.
  {
    auto tr = adapter()->make_stream_translator(Operation::chat, {true, true});
    std::string out;
    ASSERT_TRUE(tr->feed(sse.substr(0, sse.find("event: message_stop")), out));
    EXPECT_TRUE(tr->finish(out));
    auto a = assemble(chunks(out));
    EXPECT_EQ(a.finish_reason, "stop");
    EXPECT_FALSE(a.usage.is_null());
  }
  // Cut inside the final event's JSON.
  {
    auto tr = adapter()->make_stream_translator(Operation::chat, {true, false});
    std::string out;
    ASSERT_TRUE(tr->feed(sse.substr(0, sse.find("event: message_delta") + 40), out));
    EXPECT_FALSE(tr->finish(out));
    EXPECT_EQ(tr->failure()->cls, api::FailureClass::bad_response);
  }
  // Garbage mid-stream is a protocol failure; so is a stream that does not start properly.
  {
    auto tr = adapter()->make_stream_translator(Operation::chat, {true, false});
    std::string out;
    EXPECT_FALSE(tr->feed("event: message_start\ndata: {not json\n\n", out));
    EXPECT_EQ(tr->failure()->cls, api::FailureClass::bad_response);
    auto tr2 = adapter()->make_stream_translator(Operation::chat, {true, false});
    EXPECT_FALSE(tr2->feed("event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                           "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
                           out));
    EXPECT_EQ(tr2->failure()->cls, api::FailureClass::bad_response);
  }
  // Nothing after [DONE], and unknown events in between are ignored.
  {
    std::string extra = sse.substr(0, sse.find("event: message_delta")) +
                        "event: future_event\ndata: {\"type\":\"future_event\"}\n\n" +
                        sse.substr(sse.find("event: message_delta")) +
                        "\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n";
    auto t = run(extra, false);
    ASSERT_TRUE(t.ok);
    EXPECT_EQ(assemble(chunks(t.out)).text, "Hello there!");
  }
}

// --- errors and health -----------------------------------------------------------------------

TEST(AnthropicAdapter, ClassifiesRecordedErrors) {
  auto rate = transcript("http-429-then-json.json").front();
  ASSERT_EQ(rate.status, 429);
  auto f = adapter()->classify_error(429, rate.response, std::chrono::milliseconds(7000));
  EXPECT_EQ(f.cls, api::FailureClass::rate_limited);
  EXPECT_EQ(f.status, 429);
  ASSERT_TRUE(f.retry_after);
  EXPECT_EQ(f.retry_after->count(), 7000);
  EXPECT_TRUE(f.message.starts_with("HTTP 429: This request would exceed your organization's "));

  auto bad = transcript("http-400-invalid-tool-result.json").back();
  ASSERT_EQ(bad.status, 400);
  f = adapter()->classify_error(400, bad.response, std::nullopt);
  EXPECT_EQ(f.cls, api::FailureClass::client_error);
  auto upstream = json::parse(bad.response);
  EXPECT_EQ(f.message, "HTTP 400: " + upstream["error"]["message"].get<std::string>());
  // Passed to an OpenAI client: OpenAI's error shape, Anthropic's words.
  auto body = json::parse(f.body);
  EXPECT_EQ(body["error"]["message"], upstream["error"]["message"]);
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(body["error"].contains("param"));
  EXPECT_TRUE(body["error"].contains("code"));
}

TEST(AnthropicAdapter, ErrorClassificationTable) {
  auto err = [](const char* type, const char* message) {
    return json{{"type", "error"},
                {"error", {{"type", type}, {"message", message}}},
                {"request_id", "req_011"}}
        .dump();
  };
  struct Case {
    int status;
    std::string body;
    api::FailureClass cls;
  };
  using C = api::FailureClass;
  const Case cases[] = {
      {429, err("rate_limit_error", "Number of request tokens has exceeded your limit."),
       C::rate_limited},
      {429,
       R"({"type":"error","error":{"type":"rate_limit_error","message":"Spend limit reached.",)"
       R"("details":{"error_code":"enforced_spend_limit_reached"}}})",
       C::quota_exhausted},
      {529, err("overloaded_error", "Overloaded"), C::overloaded},
      {500, err("api_error", "Internal server error"), C::server_error},
      {504, err("timeout_error", "Request timed out"), C::server_error},
      {401, err("authentication_error", "invalid x-api-key"), C::provider_auth},
      {403, err("permission_error", "Your API key does not have permission"), C::provider_auth},
      {402, err("billing_error", "Your credit balance is too low"), C::quota_exhausted},
      {404, err("not_found_error", "model: claude-9"), C::model_not_found},
      {409, err("conflict_error", "Conflict"), C::conflict},
      {413, err("request_too_large", "Request exceeds the maximum allowed number of bytes."),
       C::client_error},
      {400, err("invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum"),
       C::context_length},
      {400,
       err("invalid_request_error",
           "input length and `max_tokens` exceed context limit: 198000 + 4096 > 200000, "
           "decrease input length or `max_tokens` and try again"),
       C::context_length},
      {400, err("invalid_request_error", "messages: text content blocks must be non-empty"),
       C::client_error},
      // No Anthropic body (a proxy in between): the status decides.
      {429, "", C::rate_limited},
      {529, "", C::overloaded},
      {502, "<html>Bad Gateway</html>", C::server_error},
      {503, "", C::server_error},
      {401, "", C::provider_auth},
      {404, "Not Found", C::model_not_found},
      {408, "", C::conflict},
      {413, "", C::client_error},
      {400, "bad", C::client_error},
  };
  for (const auto& c : cases) {
    auto f = adapter()->classify_error(c.status, c.body, std::nullopt);
    EXPECT_EQ(f.cls, c.cls) << c.status << " " << c.body << " -> " << api::to_string(f.cls);
    EXPECT_EQ(f.status, c.status);
    EXPECT_TRUE(f.message.starts_with("HTTP " + std::to_string(c.status))) << f.message;
    auto body = json::parse(f.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << f.body;
    EXPECT_TRUE(body["error"]["message"].is_string()) << f.body;
  }
  auto f = adapter()->classify_error(
      400, err("invalid_request_error", "Prompt is too long: 300000 tokens"), std::nullopt);
  EXPECT_EQ(json::parse(f.body)["error"]["code"], "context_length_exceeded");
}

TEST(AnthropicAdapter, HealthRequest) {
  config::ActiveHealthConfig check;
  auto req = adapter()->build_health_request(provider(), check);
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/v1/models");
  EXPECT_EQ(header(req, "x-api-key"), "sk-ant-upstream");
  EXPECT_EQ(header(req, "anthropic-version"), "2023-06-01");
  EXPECT_TRUE(req.body.empty());
}

// ---- the canonical model's Anthropic extensions: thinking, signatures, cache breakpoints ----

TEST(AnthropicThinking, RequestCarriesThinkingAndReplaysSignedBlocksFirst) {
  auto body = json::parse(R"({"model":"m","max_tokens":4096,
    "thinking":{"type":"enabled","budget_tokens":2048},
    "messages":[
      {"role":"user","content":[{"type":"text","text":"doc","cache_control":{"type":"ephemeral"}}]},
      {"role":"assistant","content":"Let me look.",
       "thinking_blocks":[{"type":"thinking","thinking":"hmm","signature":"c2ln"},
                          {"type":"redacted_thinking","data":"EnC"},
                          {"type":"thinking","thinking":"unsigned","signature":""}],
       "tool_calls":[{"id":"toolu_1","type":"function",
                      "function":{"name":"f","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"toolu_1","content":"ok"}],
    "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]})");
  EXPECT_FALSE(why_not(body).has_value());
  auto out = render(body);
  EXPECT_EQ(out["thinking"], json::parse(R"({"type":"enabled","budget_tokens":2048})"));
  EXPECT_EQ(out["messages"][0]["content"][0]["cache_control"],
            json::parse(R"({"type":"ephemeral"})"));
  // Signed and redacted blocks first, as Anthropic wants them; the unsigned one (another
  // model's reasoning) is not replayed.
  EXPECT_EQ(out["messages"][1]["content"], json::parse(R"([
    {"type":"thinking","thinking":"hmm","signature":"c2ln"},
    {"type":"redacted_thinking","data":"EnC"},
    {"type":"text","text":"Let me look."},
    {"type":"tool_use","id":"toolu_1","name":"f","input":{}}])"));
}

TEST(AnthropicThinking, ResponseKeepsThinkingBlocksAndSignatures) {
  Usage usage;
  auto out = translate(R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-x",
    "content":[{"type":"thinking","thinking":"2+2","signature":"c2ln"},
               {"type":"redacted_thinking","data":"EnC"},
               {"type":"text","text":"4"}],
    "stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":5}})",
                       usage);
  const auto& message = out["choices"][0]["message"];
  EXPECT_EQ(message["content"], "4");
  EXPECT_EQ(message["reasoning_content"], "2+2");
  EXPECT_EQ(message["thinking_blocks"], json::parse(R"([
    {"type":"thinking","thinking":"2+2","signature":"c2ln"},
    {"type":"redacted_thinking","data":"EnC"}])"));
}

TEST(AnthropicThinking, StreamCarriesTheSignatureAndRedactedBlocks) {
  const std::string sse =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_t\","
      "\"model\":\"claude-x\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"2+2\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"c2ln\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
      "\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"EnC\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,"
      "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"4\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"end_turn\"},\"usage\":{\"output_tokens\":7}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  auto t = run(sse, false);
  ASSERT_TRUE(t.ok);
  std::string reasoning;
  json blocks = json::array();
  std::string text;
  for (const auto& chunk : chunks(t.out)) {
    if (!chunk.contains("choices") || chunk["choices"].empty()) {
      continue;
    }
    const auto& delta = chunk["choices"][0]["delta"];
    reasoning += delta.value("reasoning_content", "");
    text += delta.value("content", "");
    for (const auto& b : delta.value("thinking_blocks", json::array())) {
      blocks.push_back(b);
    }
  }
  EXPECT_EQ(reasoning, "2+2");
  EXPECT_EQ(text, "4");
  EXPECT_EQ(blocks, json::parse(R"([{"type":"thinking","thinking":"","signature":"c2ln"},
                                    {"type":"redacted_thinking","data":"EnC"}])"));
}

TEST(AnthropicThinking, OtherKindsRefuseThinkingAndDropForeignExtensions) {
  auto body = json::parse(R"({"model":"m","thinking":{"type":"enabled","budget_tokens":1024},
    "messages":[{"role":"user","content":"x"}]})");
  for (auto kind : {config::ProviderKind::openai, config::ProviderKind::azure,
                    config::ProviderKind::openai_compatible, config::ProviderKind::gemini}) {
    auto p = provider();
    p.kind = kind;
    p.name = "other";
    auto why = make_adapter(kind)->unsupported(Operation::chat, body, p, target());
    ASSERT_TRUE(why.has_value()) << config::to_string(kind);
    EXPECT_NE(why->find("'thinking'"), std::string::npos) << *why;
    EXPECT_NE(why->find("provider 'other'"), std::string::npos) << *why;
  }
  auto disabled = json::parse(R"({"model":"m","thinking":{"type":"disabled"},"messages":[]})");
  EXPECT_FALSE(make_adapter(config::ProviderKind::openai)
                   ->unsupported(Operation::chat, disabled, provider(), target())
                   .has_value());

  // An OpenAI server never sees thinking blocks or cache breakpoints; the canonical body keeps
  // them for the next attempt, which may go to Anthropic.
  auto history = json::parse(R"({"model":"m","messages":[
      {"role":"user","content":[{"type":"text","text":"doc","cache_control":{"type":"ephemeral"}}]},
      {"role":"assistant","content":"a","thinking_blocks":[{"type":"thinking","thinking":"t","signature":"s"}]}],
    "tools":[{"type":"function","function":{"name":"f"},"cache_control":{"type":"ephemeral"}}]})");
  const auto before = history;
  auto p = provider();
  p.kind = config::ProviderKind::openai;
  p.base_url = "https://api.openai.com/v1";
  p.url = *common::parse_url(p.base_url);
  auto sent = json::parse(make_adapter(config::ProviderKind::openai)
                              ->build_request(Operation::chat, history, p, target(), {})
                              .body);
  EXPECT_FALSE(sent["messages"][0]["content"][0].contains("cache_control")) << sent;
  EXPECT_FALSE(sent["messages"][1].contains("thinking_blocks")) << sent;
  EXPECT_FALSE(sent["tools"][0].contains("cache_control")) << sent;
  history["model"] = before["model"];
  EXPECT_EQ(history, before) << "the canonical body is untouched";
  // An OpenAI-compatible server (OpenRouter acts on it) keeps the cache breakpoints.
  p.kind = config::ProviderKind::openai_compatible;
  sent = json::parse(make_adapter(config::ProviderKind::openai_compatible)
                         ->build_request(Operation::chat, history, p, target(), {})
                         .body);
  EXPECT_TRUE(sent["messages"][0]["content"][0].contains("cache_control")) << sent;
  EXPECT_FALSE(sent["messages"][1].contains("thinking_blocks")) << sent;
}

}  // namespace
}  // namespace llmgw::providers
