#pragma once
#include "llmgw/providers/adapter.hpp"

namespace llmgw::providers {

/// OpenAI and OpenAI-compatible servers (vLLM, Ollama, Groq, Together, ...): the ingress format
/// is the upstream format, so translation is mostly pass-through plus model rewrite, usage
/// accounting and removal of the usage chunk the client did not ask for.
class OpenAiAdapter final : public ProviderAdapter {
public:
  explicit OpenAiAdapter(config::ProviderKind kind) : kind_(kind) {}

  // ProviderAdapter
  config::ProviderKind kind() const override { return kind_; }
  bool supports(Operation) const override { return true; }
  /// Anthropic's extended thinking only (refuse_thinking); everything else is relayed as sent.
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

private:
  config::ProviderKind kind_;
};

}  // namespace llmgw::providers
