#pragma once
#include "llmgw/providers/adapter.hpp"

namespace llmgw::providers {

/// Google Gemini API (generativelanguage.googleapis.com, v1beta): generateContent,
/// streamGenerateContent?alt=sse and batchEmbedContents, translated to and from the OpenAI
/// formats. Thought signatures travel on OpenAI tool calls as
/// `extra_content.google.thought_signature` (the shape of Google's own OpenAI-compatible
/// endpoint) and are replayed as the part's `thoughtSignature` on the next turn.
class GeminiAdapter final : public ProviderAdapter {
public:
  // ProviderAdapter
  config::ProviderKind kind() const override { return config::ProviderKind::gemini; }
  api::Dialect dialect() const override { return api::Dialect::gemini; }
  bool supports(Operation op) const override;
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

  /// batchEmbedContents answer → OpenAI embeddings list; `base64` packs each vector as base64
  /// of little-endian float32 (what the OpenAI SDKs ask for by default).
  std::string translate_embeddings(std::string_view body, Usage& usage, bool base64) const;
  std::string translate_embeddings_answer(const nlohmann::ordered_json& answer, Usage& usage,
                                          bool base64) const;
};

}  // namespace llmgw::providers
