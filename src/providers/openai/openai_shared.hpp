#pragma once
// Pieces shared by the adapters whose upstream already speaks OpenAI Chat Completions (openai,
// openai_compatible, azure): operation paths, the stream translator and error-body handling.
// The shapes differ only in small ways (Azure's filter chunks, the error dialects of vLLM,
// Ollama and Gemini's compat layer); one parametrised implementation keeps them in step.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "llmgw/api/failure.hpp"
#include "llmgw/providers/adapter.hpp"

namespace llmgw::providers {

/// "/chat/completions", "/completions" or "/embeddings".
std::string_view openai_path_for(Operation op);

/// The body and content type of an OpenAI-shaped request for `target`: its model id, usage in
/// streams (so tokens and cost are known; stripped again when the client did not ask), without
/// the Anthropic extensions a server of `kind` must not see (thinking blocks; cache_control
/// unless openai_compatible).
void render_openai_body(Operation op, nlohmann::json& body, const config::TargetConfig& target,
                        const RequestOptions& options, config::ProviderKind kind,
                        UpstreamRequest& request);

struct OpenAiStreamOptions {
  bool client_wants_usage = false;
  // Azure opens a stream with a chunk that has `choices: []`, an empty id and
  // prompt_filter_results. It carries nothing a client can use, and relaying it would count as
  // answer content (committing the 200 before any text exists) and give SDKs an empty id.
  bool drop_empty_choices = false;
  std::size_t max_json_depth = api::kDefaultMaxJsonDepth;
};

/// The shape check of a 2xx OpenAI-format answer relayed as it is: a JSON object within the
/// depth limit with `choices` (chat, completions) or `data` (embeddings) as an array. The
/// failure to report when it is not.
std::optional<api::Failure> check_openai_answer(Operation op, std::string_view body,
                                                std::size_t max_depth);

/// The OpenAI-format stream relay: passes chunks through untouched (unknown fields such as
/// content_filter_results, delta.reasoning or reasoning_content included), records usage, drops
/// what the options say, adds a missing [DONE] and turns in-stream errors into failures.
std::unique_ptr<StreamTranslator> make_openai_stream_translator(const OpenAiStreamOptions& options);

/// What an upstream error body says, whichever OpenAI-family shape it has:
///   {"error":{"message","type","param","code"}}   OpenAI, Azure, Ollama, vLLM (integer code)
///   {"object":"error","message",...,"code":400}    older vLLM, unwrapped
///   [{"error":{"code":400,"message","status"}}]    Gemini's OpenAI-compatible endpoint
///   {"error":"message text"}                       Ollama's native errors
///   anything else (HTML from a proxy, plain text, nothing)
struct UpstreamError {
  std::string message;
  std::string code;        // string codes only: integer codes merely repeat the HTTP status
  std::string type;
  std::string inner_code;  // Azure: error.innererror.code (ResponsibleAIPolicyViolation)
  std::string reason;      // Google: details[].reason of the google.rpc.ErrorInfo
  std::optional<std::chrono::milliseconds> retry_delay;  // Google: google.rpc.RetryInfo
  // {"error":{"message":"..."}}: every OpenAI SDK reads it as it is. openai-node 4-6 show no
  // message at all for a body without the `error` wrapper (wire formats doc §6.1).
  bool openai_shaped = false;
};

UpstreamError parse_upstream_error(std::string_view body);

/// The body a client gets when an upstream error is passed through: the upstream body when it
/// is OpenAI-shaped, else its message wrapped as
/// {"error":{"message":...,"type":"invalid_request_error","param":null,"code":null}}.
std::string openai_error_body(std::string_view body, const UpstreamError& parsed, int status);

/// Whose error conventions a non-2xx answer follows.
enum class ErrorDialect { openai, compatible, azure };

/// Classifies a non-2xx answer with the gateway's OpenAI rules (api::classify_openai_error)
/// applied to whatever shape the body has, plus the dialect's own signals. The failure's body
/// is always OpenAI-shaped, so a client-fault pass-through stays readable by every SDK.
api::Failure classify_openai_family_error(ErrorDialect dialect, int status,
                                          std::string_view body,
                                          std::optional<std::chrono::milliseconds> retry_after);

}  // namespace llmgw::providers
