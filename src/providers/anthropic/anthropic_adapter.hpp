#pragma once
#include "llmgw/providers/adapter.hpp"

namespace llmgw::providers {

/// Anthropic Messages API (`POST {base_url}/messages`). The gateway speaks OpenAI Chat
/// Completions on both sides of the adapter boundary, so this adapter renders an OpenAI request
/// as a Messages request and turns the message / SSE event sequence back into an OpenAI
/// chat.completion / chat.completion.chunk stream. Chat only: Anthropic has no embeddings and
/// no legacy completions.
class AnthropicAdapter final : public ProviderAdapter {
public:
  // ProviderAdapter
  config::ProviderKind kind() const override { return config::ProviderKind::anthropic; }
  api::Dialect dialect() const override { return api::Dialect::anthropic; }
  bool continues_prefill() const override { return true; }
  bool supports(Operation op) const override { return op == Operation::chat; }
  std::optional<std::string> unsupported(Operation op, const nlohmann::json& body,
                                         const config::ProviderConfig& provider,
                                         const config::TargetConfig& target) const override;
  UpstreamRequest build_request(Operation op, nlohmann::json& body,
                                const config::ProviderConfig& provider,
                                const config::TargetConfig& target,
                                const RequestOptions& options) const override;
  using ProviderAdapter::translate_response;
  Translated translate_response(Operation op, std::string body, const RequestOptions& options,
                                Usage& usage) const override;
  std::unique_ptr<StreamTranslator> make_stream_translator(
      Operation op, const RequestOptions& options) const override;
  void add_auth_headers(std::vector<Header>& headers,
                        const config::ProviderConfig& provider) const override;
  api::Failure classify_error(int status, std::string_view body,
                              std::optional<std::chrono::milliseconds> retry_after) const override;
};

/// The OpenAI finish_reason for an Anthropic stop_reason (unknown reasons map to "stop").
std::string_view anthropic_finish_reason(std::string_view stop_reason);

}  // namespace llmgw::providers
