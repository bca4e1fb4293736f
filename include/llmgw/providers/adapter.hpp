#pragma once
// The provider adapter boundary. An adapter TRANSLATES: it renders the upstream request for a
// target, converts the upstream response and stream into the ingress (OpenAI) format, and
// classifies upstream errors. It does no I/O and keeps no state across requests; retries,
// timeouts and connections belong to the router and the upstream client.
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "llmgw/api/dialect.hpp"
#include "llmgw/api/failure.hpp"
#include "llmgw/api/json.hpp"
#include "llmgw/api/operation.hpp"
#include "llmgw/common/header.hpp"
#include "llmgw/common/result.hpp"
#include "llmgw/config/config.hpp"

namespace llmgw::providers {

// The request operation and header types live with the ingress API and common code; the
// adapters name them as their own.
using api::Operation;
using api::to_string;
using common::Header;
using common::make_headers;

/// What to send upstream; the upstream client adds Host, Content-Length and connection headers.
struct UpstreamRequest {
  std::string method = "POST";
  std::string target;  // origin-form: path + query
  std::vector<Header> headers;
  std::string body;
};

struct Usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  bool present = false;
};

/// What `usage` costs at `price` (USD per million tokens each way).
inline double cost_usd(const Usage& usage, const config::Price& price) {
  return (static_cast<double>(usage.prompt_tokens) * price.input_per_mtok +
          static_cast<double>(usage.completion_tokens) * price.output_per_mtok) /
         1e6;
}

struct RequestOptions {
  bool stream = false;
  bool client_wants_usage = false;  // the client set stream_options.include_usage
  bool base64_embeddings = false;   // the client asked for encoding_format: base64
  std::size_t max_json_depth = api::kDefaultMaxJsonDepth;  // server.max_json_depth
  // The client speaks the adapter's own dialect (not the canonical one): a complete answer is
  // checked and its usage read, then relayed as it is; a stream still produces the canonical
  // events (the router tracks them) and, through StreamTranslator::relay_native, the
  // upstream's own ones, which the client gets.
  bool native = false;
};

/// A translated 2xx answer, or why it is no answer at all (FailureClass::bad_response).
using Translated = common::Result<std::string, api::Failure>;

/// The bad_response failure for a 2xx body that is not an answer ("an empty body", ...).
api::Failure bad_response(std::string what);

/// Upstream JSON (answers, stream events, error bodies) parsed within the depth limit;
/// discarded when it is not JSON or nests too deep. Duplicate keys are the provider's business.
nlohmann::json parse_upstream_json(std::string_view text,
                                   std::size_t max_depth = api::kDefaultMaxJsonDepth);
nlohmann::ordered_json parse_upstream_ordered_json(
    std::string_view text, std::size_t max_depth = api::kDefaultMaxJsonDepth);

/// Converts one upstream stream to the ingress stream, chunk by chunk as bytes arrive. An event
/// that is not the provider's shape, or nested deeper than options.max_json_depth, breaks the
/// stream with a bad_response failure; so does a stream that ends without its terminal event.
class StreamTranslator {
public:
  virtual ~StreamTranslator() = default;
  /// Feeds upstream body bytes (any split) and appends complete ingress SSE events to `out`.
  /// Returns false when the stream is broken (malformed, an in-stream error, oversize event).
  virtual bool feed(std::string_view bytes, std::string& out) = 0;
  /// Upstream body ended. Returns true when the stream had finished properly.
  virtual bool finish(std::string& out) = 0;
  virtual const Usage& usage() const = 0;
  /// True once an event with part of the answer (text, tool call, refusal, finish reason)
  /// was produced, as opposed to the opening role-only chunk.
  virtual bool has_content() const = 0;
  /// Set when feed() returned false or finish() found the stream incomplete.
  virtual const std::optional<api::Failure>& failure() const = 0;
  /// Also appends every upstream event the translation accepted, as the upstream wrote it, to
  /// `native` (not an event that broke the stream, nothing after the terminal one).
  virtual void relay_native(std::string* native) = 0;
};

class ProviderAdapter {
public:
  virtual ~ProviderAdapter() = default;
  virtual config::ProviderKind kind() const = 0;
  /// The wire dialect the provider speaks (RequestOptions::native relays it unchanged).
  virtual api::Dialect dialect() const { return api::Dialect::openai; }
  virtual bool supports(Operation op) const = 0;

  /// Whether this provider can serve the request without changing its meaning. Returns a
  /// client-facing explanation naming the parameter and the provider (e.g. "n > 1 is not
  /// supported by anthropic provider 'claude'") when it cannot; the router then skips this
  /// target, and answers 400 with these explanations when no target can serve the request.
  /// Never drop a parameter silently when that changes what the client gets.
  virtual std::optional<std::string> unsupported(Operation op, const nlohmann::json& body,
                                                 const config::ProviderConfig& provider,
                                                 const config::TargetConfig& target) const {
    (void)op;
    (void)body;
    (void)provider;
    (void)target;
    return std::nullopt;
  }

  /// Whether the provider continues a final assistant turn from where it stops (Anthropic's
  /// prefill). A broken stream is then continued with the partial answer alone; elsewhere an
  /// instruction to continue follows it.
  virtual bool continues_prefill() const { return false; }

  /// Renders the upstream request. `body` is the client's parsed OpenAI request; the adapter
  /// may modify it in place (the caller re-sets anything it needs per attempt), which saves a
  /// deep copy per attempt.
  virtual UpstreamRequest build_request(Operation op, nlohmann::json& body,
                                        const config::ProviderConfig& provider,
                                        const config::TargetConfig& target,
                                        const RequestOptions& options) const = 0;

  /// Converts a complete 2xx upstream body to the ingress body, filling `usage`. A body that
  /// is no answer (empty, not JSON, not the provider's shape, nested deeper than
  /// options.max_json_depth) is a bad_response failure, never relayed as a success.
  virtual Translated translate_response(Operation op, std::string body,
                                        const RequestOptions& options, Usage& usage) const = 0;
  /// The same with default options.
  Translated translate_response(Operation op, std::string body, Usage& usage) const {
    return translate_response(op, std::move(body), RequestOptions{}, usage);
  }

  virtual std::unique_ptr<StreamTranslator> make_stream_translator(
      Operation op, const RequestOptions& options) const = 0;

  /// The provider's credentials and required headers (add_auth_headers), then its configured
  /// extra `headers`: what every request to it carries, answers and health checks alike.
  void add_credentials(std::vector<Header>& headers, const config::ProviderConfig& provider) const;

  /// The provider's own credentials and required headers (key, API version).
  virtual void add_auth_headers(std::vector<Header>& headers,
                                const config::ProviderConfig& provider) const = 0;

  /// The active health check's request target: `check.path` under the base URL by default.
  virtual std::string health_target(const config::ProviderConfig& provider,
                                    const config::ActiveHealthConfig& check) const;

  /// The active health check's request: a GET of health_target() with the credentials.
  UpstreamRequest build_health_request(const config::ProviderConfig& provider,
                                       const config::ActiveHealthConfig& check) const;

  /// Classifies a non-2xx upstream answer.
  virtual api::Failure classify_error(
      int status, std::string_view body,
      std::optional<std::chrono::milliseconds> retry_after) const = 0;
};

/// The adapter for a provider kind; adapters are stateless and shared by all requests.
/// Returns null for kinds not implemented yet.
std::shared_ptr<const ProviderAdapter> make_adapter(config::ProviderKind kind);

/// Whether the canonical request asks for extended thinking (`thinking`, not disabled).
bool thinking_enabled(const nlohmann::json& body);

/// The explanation for unsupported() when the canonical request asks for Anthropic's extended
/// thinking (`thinking`, not disabled): only anthropic targets serve it, and dropping it would
/// change the answer (no thinking blocks, no signatures to replay). nullopt when it does not.
std::optional<std::string> refuse_thinking(const nlohmann::json& body,
                                           const config::ProviderConfig& provider);

/// Finds `"usage":{...}` in a JSON text without parsing the whole document.
Usage scan_usage(std::string_view json_text);

}  // namespace llmgw::providers
