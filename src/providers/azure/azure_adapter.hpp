#pragma once
#include <string>
#include <string_view>

#include "llmgw/providers/adapter.hpp"

namespace llmgw::providers {

/// Azure OpenAI. The body and the stream are OpenAI's (plus content-filter annotations that
/// clients ignore), so this reuses the OpenAI relay; what differs is addressing, auth, the
/// stream's filter opener and the error dialect.
///
/// Two surfaces, chosen by provider.base_url:
///  - deployments (base_url is the resource endpoint, e.g. https://myres.openai.azure.com):
///    {path}/openai/deployments/{target.model}/chat/completions?api-version={api_version}
///    where target.model is the DEPLOYMENT name;
///  - v1 (base_url path ends in /openai/v1): {path}/chat/completions with the model in the body
///    and no api-version, like OpenAI itself.
/// Both authenticate with `api-key: <api_key>` (an Entra token can go in provider.headers).
class AzureAdapter final : public ProviderAdapter {
public:
  static constexpr std::string_view kDefaultApiVersion = "2024-10-21";  // latest GA

  // ProviderAdapter
  config::ProviderKind kind() const override { return config::ProviderKind::azure; }
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
  std::string health_target(const config::ProviderConfig& provider,
                            const config::ActiveHealthConfig& check) const override;
  api::Failure classify_error(int status, std::string_view body,
                              std::optional<std::chrono::milliseconds> retry_after) const override;

  /// Whether base_url addresses the v1 surface (its path ends in /openai/v1).
  static bool is_v1_surface(const config::ProviderConfig& provider);
};

}  // namespace llmgw::providers
