#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "llmgw/api/sse.hpp"
#include "llmgw/providers/adapter.hpp"
#include "providers/azure/azure_adapter.hpp"

namespace llmgw::providers {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(LLMGW_SOURCE_DIR) + "/tests/fixtures/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> fixture_lines(const std::string& name) {
  std::istringstream in(fixture(name));
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      out.push_back(line);
    }
  }
  return out;
}

config::ProviderConfig provider(std::string base_url = "https://myres.openai.azure.com",
                                std::string api_version = "") {
  config::ProviderConfig p;
  p.name = "azure-east";
  p.kind = config::ProviderKind::azure;
  p.base_url = std::move(base_url);
  p.url = *common::parse_url(p.base_url);
  p.api_key = "azure-key-1";
  p.api_version = std::move(api_version);
  return p;
}

config::TargetConfig target(std::string deployment = "gpt4o-prod") {
  config::TargetConfig t;
  t.provider = "azure-east";
  t.model = std::move(deployment);
  return t;
}

std::string header(const UpstreamRequest& req, std::string_view name) {
  for (const auto& h : req.headers) {
    if (h.name == name) {
      return h.value;
    }
  }
  return "<absent>";
}

std::shared_ptr<const ProviderAdapter> azure() {
  auto adapter = make_adapter(config::ProviderKind::azure);
  EXPECT_TRUE(adapter);
  return adapter;
}

json chat_body() {
  return json::parse(R"({"model":"smart","messages":[{"role":"user","content":"hi"}]})");
}

TEST(AzureAdapter, MadeForAzureKind) {
  auto adapter = azure();
  ASSERT_TRUE(adapter);
  EXPECT_EQ(adapter->kind(), config::ProviderKind::azure);
  EXPECT_TRUE(adapter->supports(Operation::chat));
  EXPECT_TRUE(adapter->supports(Operation::completions));
  EXPECT_TRUE(adapter->supports(Operation::embeddings));
}

TEST(AzureAdapter, DeploymentSurfaceRendering) {
  auto adapter = azure();
  auto body = chat_body();
  body["stream"] = true;
  auto req = adapter->build_request(Operation::chat, body, provider(), target(), {true, false});
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(header(req, "api-key"), "azure-key-1");
  EXPECT_EQ(header(req, "Authorization"), "<absent>");  // Azure keys are not bearer tokens
  EXPECT_EQ(header(req, "Content-Type"), "application/json");
  auto sent = json::parse(req.body);
  EXPECT_EQ(sent["model"], "gpt4o-prod");  // ignored by Azure; the deployment, not the alias
  EXPECT_EQ(sent["stream_options"]["include_usage"], true);
  EXPECT_EQ(sent["messages"][0]["content"], "hi");

  auto completions = json::parse(R"({"model":"smart","prompt":"x"})");
  EXPECT_EQ(adapter->build_request(Operation::completions, completions, provider(), target(), {})
                .target,
            "/openai/deployments/gpt4o-prod/completions?api-version=2024-10-21");
  auto embeddings = json::parse(R"({"model":"e","input":"x","encoding_format":"base64"})");
  auto preview = provider("https://myres.openai.azure.com", "2025-04-01-preview");
  auto emb = adapter->build_request(Operation::embeddings, embeddings, preview, target("ada-002"),
                                    {true, false});
  EXPECT_EQ(emb.target, "/openai/deployments/ada-002/embeddings?api-version=2025-04-01-preview");
  auto emb_body = json::parse(emb.body);
  EXPECT_FALSE(emb_body.contains("stream_options"));
  EXPECT_EQ(emb_body["encoding_format"], "base64");
}

TEST(AzureAdapter, EndpointWithPathOrOpenAiSuffixAndOddDeploymentNames) {
  auto adapter = azure();
  auto body = chat_body();
  // An APIM gateway in front of the resource: the path prefix stays.
  EXPECT_EQ(adapter->build_request(Operation::chat, body, provider("https://apim.example/aoai"),
                                   target(), {})
                .target,
            "/aoai/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21");
  // The AzureOpenAI SDK's baseURL form already ends in /openai: not doubled.
  EXPECT_EQ(adapter->build_request(Operation::chat, body,
                                   provider("https://myres.openai.azure.com/openai/"), target(), {})
                .target,
            "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21");
  // Configuration cannot smuggle a path or query through the deployment name.
  EXPECT_EQ(adapter->build_request(Operation::chat, body, provider(), target("a/b?c d"), {}).target,
            "/openai/deployments/a%2Fb%3Fc%20d/chat/completions?api-version=2024-10-21");
}

TEST(AzureAdapter, V1SurfaceRendering) {
  auto adapter = azure();
  auto p = provider("https://myres.openai.azure.com/openai/v1", "2024-10-21");
  EXPECT_TRUE(AzureAdapter::is_v1_surface(p));
  EXPECT_FALSE(AzureAdapter::is_v1_surface(provider()));
  auto body = chat_body();
  auto req = adapter->build_request(Operation::chat, body, p, target("gpt-4o-mini"), {true, true});
  EXPECT_EQ(req.target, "/openai/v1/chat/completions");  // no api-version on v1
  EXPECT_EQ(json::parse(req.body)["model"], "gpt-4o-mini");
  EXPECT_EQ(header(req, "api-key"), "azure-key-1");
  auto emb = json::parse(R"({"model":"e","input":"x"})");
  EXPECT_EQ(adapter->build_request(Operation::embeddings, emb, p, target(), {}).target,
            "/openai/v1/embeddings");
  EXPECT_EQ(adapter->build_request(Operation::completions, emb, p, target(), {}).target,
            "/openai/v1/completions");
}

TEST(AzureAdapter, EntraTokenThroughProviderHeaders) {
  auto adapter = azure();
  auto p = provider();
  p.api_key.clear();
  p.headers["Authorization"] = "Bearer entra-token";
  auto body = chat_body();
  auto req = adapter->build_request(Operation::chat, body, p, target(), {});
  EXPECT_EQ(header(req, "api-key"), "<absent>");
  EXPECT_EQ(header(req, "Authorization"), "Bearer entra-token");
}

TEST(AzureAdapter, HealthRequestOnBothSurfaces) {
  auto adapter = azure();
  config::ActiveHealthConfig check;  // path "/models"
  auto req = adapter->build_health_request(provider(), check);
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/openai/models?api-version=2024-10-21");
  EXPECT_EQ(header(req, "api-key"), "azure-key-1");
  auto dated = provider("https://r.example", "2025-01-01");
  EXPECT_EQ(adapter->build_health_request(dated, check).target,
            "/openai/models?api-version=2025-01-01");
  EXPECT_EQ(
      adapter->build_health_request(provider("https://r.example/openai/v1"), check).target,
      "/openai/v1/models");
  check.path = "/models?x=1";
  EXPECT_EQ(adapter->build_health_request(provider(), check).target,
            "/openai/models?x=1&api-version=2024-10-21");
}

TEST(AzureAdapter, NonStreamResponsePassesThroughWithUsage) {
  auto adapter = azure();
  std::string body =
      R"({"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},)"
      R"("finish_reason":"stop","index":0,"message":{"content":"Hi","role":"assistant"}}],)"
      R"("created":1,"id":"chatcmpl-1","model":"gpt-4o","object":"chat.completion",)"
      R"("prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}],)"
      R"("usage":{"completion_tokens":2,"prompt_tokens":9,"total_tokens":11}})";
  Usage usage;
  EXPECT_EQ(adapter->translate_response(Operation::chat, body, usage).value(), body);
  EXPECT_TRUE(usage.present);
  EXPECT_EQ(usage.prompt_tokens, 9u);
  EXPECT_EQ(usage.completion_tokens, 2u);
}

// The recorded Azure stream in its wire form: the opener (choices [], id "", prompt
// filter results), content chunks with content_filter_results, finish, usage chunk.
std::string azure_stream() {
  std::string out;
  for (const auto& line : fixture_lines("azure/chat-stream-prompt-filter-results.chunks.jsonl")) {
    out += "data: " + line + "\n\n";
  }
  return out + "data: [DONE]\n\n";
}

TEST(AzureStreamTranslator, DropsPromptFilterOpenerAtEverySplit) {
  auto adapter = azure();
  auto lines = fixture_lines("azure/chat-stream-prompt-filter-results.chunks.jsonl");
  ASSERT_GE(lines.size(), 3u);
  ASSERT_TRUE(json::parse(lines.front())["choices"].empty());  // the opener
  ASSERT_TRUE(json::parse(lines.front()).contains("prompt_filter_results"));
  // Expected: the same bytes minus the opener, usage chunk kept (the client asked for it).
  std::string expected;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    expected += "data: " + lines[i] + "\n\n";
  }
  expected += "data: [DONE]\n\n";

  auto stream = azure_stream();
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    auto tr = adapter->make_stream_translator(Operation::chat, {true, true});
    std::string out;
    ASSERT_TRUE(tr->feed(std::string_view(stream).substr(0, split), out));
    ASSERT_TRUE(tr->feed(std::string_view(stream).substr(split), out));
    ASSERT_TRUE(tr->finish(out));
    ASSERT_EQ(out, expected) << "split " << split;
    ASSERT_TRUE(tr->usage().present);
    EXPECT_EQ(tr->usage().prompt_tokens, 15u);
    EXPECT_EQ(tr->usage().completion_tokens, 78u);
    EXPECT_TRUE(tr->has_content());
  }
}

TEST(AzureStreamTranslator, UsageChunkDroppedWhenClientDidNotAsk) {
  auto adapter = azure();
  auto lines = fixture_lines("azure/chat-stream-prompt-filter-results.chunks.jsonl");
  std::string expected;
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    expected += "data: " + lines[i] + "\n\n";
  }
  expected += "data: [DONE]\n\n";
  auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  ASSERT_TRUE(tr->feed(azure_stream(), out));
  ASSERT_TRUE(tr->finish(out));
  EXPECT_EQ(out, expected);
  EXPECT_EQ(tr->usage().completion_tokens, 78u);  // still accounted
}

TEST(AzureStreamTranslator, OpenerIsNotContent) {
  // The router holds the 200 until content: the opener and the role chunk are not content,
  // so a stream dying right after them still fails over invisibly.
  auto adapter = azure();
  auto lines = fixture_lines("azure/chat-stream-prompt-filter-results.chunks.jsonl");
  auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  ASSERT_TRUE(tr->feed("data: " + lines[0] + "\n\n", out));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(tr->has_content());
  ASSERT_TRUE(tr->feed("data: " + lines[1] + "\n\n", out));
  EXPECT_FALSE(tr->has_content());
  ASSERT_TRUE(tr->feed("data: " + lines[2] + "\n\n", out));
  EXPECT_TRUE(tr->has_content());
  EXPECT_FALSE(tr->finish(out));  // no finish_reason: truncated
}

TEST(AzureStreamTranslator, FilterErrorInsideChunkIsNotAStreamError) {
  // Azure reports a failed content filter run inside content_filter_results, not as an error.
  auto adapter = azure();
  auto tr = adapter->make_stream_translator(Operation::chat, {true, false});
  std::string out;
  EXPECT_TRUE(tr->feed(
      R"(data: {"choices":[{"content_filter_results":{"error":{"code":"content_filter_error",)"
      R"("message":"The contents are not filtered"}},"delta":{"content":"Hi"},)"
      R"("finish_reason":null,"index":0}],"id":"c1","object":"chat.completion.chunk"})"
      "\n\n",
      out));
  EXPECT_FALSE(out.empty());
  EXPECT_FALSE(tr->failure().has_value());
}

struct ErrorCase {
  const char* name;
  int status;
  const char* body;
  api::FailureClass expected;
};

TEST(AzureAdapter, ErrorClassificationTable) {
  const ErrorCase cases[] = {
      {"content filter", 400,
       R"({"error":{"message":"The response was filtered due to the prompt triggering Azure )"
       R"(OpenAI's content management policy.","type":null,"param":"prompt",)"
       R"("code":"content_filter","status":400,"innererror":{"code":)"
       R"("ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,)"
       R"("severity":"high"}}}}})",
       api::FailureClass::content_policy},
      {"policy violation without the code", 400,
       R"({"error":{"message":"filtered","code":null,"innererror":{"code":)"
       R"("ResponsibleAIPolicyViolation"}}})",
       api::FailureClass::content_policy},
      {"bad key", 401,
       R"({"error":{"code":"401","message":"Access denied due to invalid subscription key or )"
       R"(wrong API endpoint."}})",
       api::FailureClass::provider_auth},
      {"forbidden", 403, R"({"error":{"code":"403","message":"Public access is disabled."}})",
       api::FailureClass::provider_auth},
      {"deployment missing", 404,
       R"({"error":{"code":"DeploymentNotFound","message":"The API deployment for this )"
       R"(resource does not exist."}})",
       api::FailureClass::model_not_found},
      {"wrong endpoint", 404, R"({"error":{"code":"404","message":"Resource not found"}})",
       api::FailureClass::model_not_found},
      {"deployment cannot do this", 400,
       R"({"error":{"code":"OperationNotSupported","message":"The embeddings operation does )"
       R"(not work with the specified model, gpt-4o."}})",
       api::FailureClass::model_not_found},
      {"rate limited", 429,
       R"({"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation )"
       R"(have exceeded token rate limit. Please retry after 6 seconds."}})",
       api::FailureClass::rate_limited},
      {"context length", 400,
       R"({"error":{"message":"This model's maximum context length is 128000 tokens.",)"
       R"("type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}})",
       api::FailureClass::context_length},
      {"bad request", 400,
       R"({"error":{"message":"Invalid value for 'temperature'","type":)"
       R"("invalid_request_error","param":"temperature","code":null}})",
       api::FailureClass::client_error},
      {"server", 500, R"({"error":{"code":"InternalServerError","message":"Backend error"}})",
       api::FailureClass::server_error},
      {"gateway html", 502, "<html><body>Bad Gateway</body></html>",
       api::FailureClass::server_error},
  };
  auto adapter = azure();
  for (const auto& c : cases) {
    auto f = adapter->classify_error(c.status, c.body, std::nullopt);
    EXPECT_EQ(api::to_string(f.cls), api::to_string(c.expected)) << c.name;
    EXPECT_EQ(f.status, c.status) << c.name;
    auto body = json::parse(f.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << c.name;
    ASSERT_TRUE(body["error"]["message"].is_string()) << c.name;
  }
}

TEST(AzureAdapter, ContentFilterBodyPassedThroughUnchanged) {
  std::string body =
      R"({"error":{"message":"The response was filtered","type":null,"param":"prompt",)"
      R"("code":"content_filter","status":400,"innererror":{"code":)"
      R"("ResponsibleAIPolicyViolation","content_filter_result":{}}}})";
  auto f = azure()->classify_error(400, body, std::nullopt);
  EXPECT_EQ(f.cls, api::FailureClass::content_policy);
  EXPECT_TRUE(api::failure_policy(f.cls).client_fault);
  EXPECT_EQ(f.body, body);
  EXPECT_NE(f.message.find("filtered"), std::string::npos);
}

TEST(AzureAdapter, RateLimitKeepsRetryAfter) {
  // The router parses retry-after-ms first, then retry-after (Azure sends both).
  auto retry = api::parse_retry_after("1500", "2");
  auto f = azure()->classify_error(429, R"({"error":{"code":"429","message":"slow down"}})", retry);
  EXPECT_EQ(f.cls, api::FailureClass::rate_limited);
  ASSERT_TRUE(f.retry_after.has_value());
  EXPECT_EQ(*f.retry_after, milliseconds(1500));
  f = azure()->classify_error(429, R"({"error":{"code":"429","message":"slow down"}})",
                              api::parse_retry_after("", "6"));
  EXPECT_EQ(*f.retry_after, milliseconds(6000));
}

}  // namespace
}  // namespace llmgw::providers
