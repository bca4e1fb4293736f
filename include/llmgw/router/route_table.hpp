#pragma once
// The routing view of one config snapshot: model names to targets, provider names to their
// adapter and upstream endpoint. Immutable; shared by every worker; replaced whole on reload.
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmgw/config/config.hpp"
#include "llmgw/providers/adapter.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::router {

struct ProviderRoute {
  const config::ProviderConfig* config = nullptr;
  std::shared_ptr<const providers::ProviderAdapter> adapter;
  upstream::Endpoint endpoint;
};

class RouteTable {
public:
  /// Builds the table; `problems` receives what cannot be served (e.g. an adapter kind not
  /// implemented yet). Such providers stay in the table without an adapter and are skipped.
  static std::shared_ptr<const RouteTable> build(std::shared_ptr<const config::Config> config,
                                                 unsigned workers,
                                                 std::vector<std::string>* problems = nullptr);

  const config::Config& config() const { return *config_; }
  std::shared_ptr<const config::Config> config_ptr() const { return config_; }
  const config::ModelConfig* model(std::string_view name) const;
  const ProviderRoute* provider(std::string_view name) const;

private:
  std::shared_ptr<const config::Config> config_;
  std::unordered_map<std::string, const config::ModelConfig*> models_;
  std::unordered_map<std::string, ProviderRoute> providers_;
};

}  // namespace llmgw::router
