#pragma once
// The routing view of one config snapshot: model names to targets, provider names to their
// adapter and upstream endpoint. Immutable; shared by every worker; replaced whole on reload.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmgw/config/config.hpp"
#include "llmgw/health/target_health.hpp"
#include "llmgw/providers/adapter.hpp"
#include "llmgw/resilience/retry_budget.hpp"
#include "llmgw/router/balancer.hpp"
#include "llmgw/router/model_state.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::tokenizer {
class Library;
}

namespace llmgw::router {

struct ProviderRoute {
  const config::ProviderConfig* config = nullptr;
  std::shared_ptr<const providers::ProviderAdapter> adapter;
  upstream::Endpoint endpoint;
  std::shared_ptr<health::TargetHealth> health;  // shared across reloads (HealthRegistry)
  std::string identity;                          // HealthRegistry::identity
};

/// A model's routing view. The balancer and retry budget are shared across reloads while the
/// model's identity is unchanged (ModelStateRegistry).
struct ModelRoute {
  const config::ModelConfig* config = nullptr;
  std::shared_ptr<Balancer> balancer;
  std::shared_ptr<resilience::RetryBudget> retry_budget;
  std::shared_ptr<CanaryState> canary;  // null without models[].canary
  std::string identity;  // ModelStateRegistry::identity
  /// config->targets[i]'s provider (null when the config names none), resolved once per
  /// snapshot: planning a request looks up no names, so its cost does not grow with the names.
  std::vector<const ProviderRoute*> target_providers;
};

/// Name lookups without building a std::string (heterogeneous lookup).
struct NameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
template <class T>
using NameMap = std::unordered_map<std::string, T, NameHash, std::equal_to<>>;

/// Where state that outlives a snapshot comes from. Without them (unit tests) every build
/// starts fresh.
struct StateRegistries {
  health::HealthRegistry* health = nullptr;
  ModelStateRegistry* models = nullptr;
};

class RouteTable {
public:
  /// Builds the table; `problems` receives what cannot be served (e.g. an adapter kind not
  /// implemented yet). Such providers stay in the table without an adapter and are skipped.
  /// Health, balancer and retry-budget state come from `registries` (kept across reloads).
  static std::shared_ptr<const RouteTable> build(std::shared_ptr<const config::Config> config,
                                                 unsigned workers,
                                                 StateRegistries registries = {},
                                                 std::vector<std::string>* problems = nullptr);

  const config::Config& config() const { return *config_; }
  std::shared_ptr<const config::Config> config_ptr() const { return config_; }
  const config::ModelConfig* model(std::string_view name) const;
  const ProviderRoute* provider(std::string_view name) const;
  const ModelRoute* model_route(std::string_view name) const;
  const NameMap<ProviderRoute>& providers() const { return providers_; }
  /// The key whose configured sha256 (lowercase hex) is `digest`, or null. One hash lookup,
  /// so authentication costs the same with 10 keys as with 10,000.
  const config::KeyConfig* key_by_digest(std::string_view digest) const;
  /// Whether user feedback changes anything under this config (some provider watches its
  /// answers): only then are served requests remembered for POST /v1/feedback.
  bool wants_feedback() const { return wants_feedback_; }
  /// The tokenizers context fitting counts with: loaded when some target has a
  /// context_window (null otherwise, or when no tokenizer data was found: bytes / 4 then).
  const tokenizer::Library* tokenizers() const { return tokenizers_.get(); }

private:
  std::shared_ptr<const config::Config> config_;
  NameMap<ModelRoute> models_;
  NameMap<ProviderRoute> providers_;
  NameMap<const config::KeyConfig*> keys_by_digest_;
  bool wants_feedback_ = false;
  std::shared_ptr<const tokenizer::Library> tokenizers_;
};

}  // namespace llmgw::router
