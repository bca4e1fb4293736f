#include "providers/azure/azure_adapter.hpp"

#include <nlohmann/json.hpp>

#include "llmgw/common/strings.hpp"
#include "providers/openai/openai_shared.hpp"

namespace llmgw::providers {
namespace {

// {resource path}/openai. base_url may already end in /openai (the AzureOpenAI SDK's own
// baseURL does), and doubling it would 404.
std::string openai_root(const config::ProviderConfig& provider) {
  std::string root = provider.url.path;
  if (!root.ends_with("/openai")) {
    root += "/openai";
  }
  return root;
}

std::string api_version_query(const config::ProviderConfig& provider) {
  std::string_view version = provider.api_version.empty()
                                 ? AzureAdapter::kDefaultApiVersion
                                 : std::string_view(provider.api_version);
  return "api-version=" + common::percent_encode(version);
}

}  // namespace

bool AzureAdapter::is_v1_surface(const config::ProviderConfig& provider) {
  return provider.url.path.ends_with("/openai/v1");
}

UpstreamRequest AzureAdapter::build_request(Operation op, nlohmann::json& body,
                                            const config::ProviderConfig& provider,
                                            const config::TargetConfig& target,
                                            const RequestOptions& options) const {
  UpstreamRequest req;
  if (is_v1_surface(provider)) {
    // Dated api-versions belong to the deployments surface; v1 takes none.
    req.target = provider.url.path;
    req.target += openai_path_for(op);
  } else {
    req.target = openai_root(provider);
    req.target += "/deployments/";
    req.target += common::percent_encode(target.model);
    req.target += openai_path_for(op);
    req.target += '?';
    req.target += api_version_query(provider);
  }
  // The deployments surface routes by path and ignores `model`; sending the deployment name
  // anyway keeps the body truthful, and the v1 surface needs it. (Usage in streams is GA on
  // Azure since 2024-10-21.)
  req.headers.reserve(2 + provider.headers.size());
  render_openai_body(op, body, target, options, config::ProviderKind::azure, req);
  add_credentials(req.headers, provider);
  return req;
}

Translated AzureAdapter::translate_response(Operation op, std::string body,
                                            const RequestOptions& options, Usage& usage) const {
  if (auto failure = check_openai_answer(op, body, options.max_json_depth)) {
    return common::err(std::move(*failure));
  }
  // prompt_filter_results / content_filter_results ride along: OpenAI clients ignore them.
  usage = scan_usage(body);
  return body;
}

std::unique_ptr<StreamTranslator> AzureAdapter::make_stream_translator(
    Operation, const RequestOptions& options) const {
  OpenAiStreamOptions stream_options;
  stream_options.client_wants_usage = options.client_wants_usage;
  stream_options.drop_empty_choices = true;
  stream_options.max_json_depth = options.max_json_depth;
  return make_openai_stream_translator(stream_options);
}

void AzureAdapter::add_auth_headers(std::vector<Header>& headers,
                                    const config::ProviderConfig& provider) const {
  // Azure keys go in `api-key`; `Authorization: Bearer` is for Entra ID tokens, which a
  // deployment would set through provider.headers instead of api_key.
  if (!provider.api_key.empty()) {
    headers.emplace_back("api-key", provider.api_key);
  }
}

std::string AzureAdapter::health_target(const config::ProviderConfig& provider,
                                        const config::ActiveHealthConfig& check) const {
  if (is_v1_surface(provider)) {
    return provider.url.path + check.path;
  }
  // Non-deployment paths (models) stay directly under /openai, still with api-version.
  std::string target = openai_root(provider) + check.path;
  target += check.path.find('?') == std::string::npos ? '?' : '&';
  target += api_version_query(provider);
  return target;
}

api::Failure AzureAdapter::classify_error(
    int status, std::string_view body,
    std::optional<std::chrono::milliseconds> retry_after) const {
  // retry-after-ms / retry-after (Azure sends both) were already parsed by the caller.
  return classify_openai_family_error(ErrorDialect::azure, status, body, retry_after);
}

std::optional<std::string> AzureAdapter::unsupported(Operation, const nlohmann::json& body,
                                                    const config::ProviderConfig& provider,
                                                    const config::TargetConfig&) const {
  return refuse_thinking(body, provider);
}

}  // namespace llmgw::providers
