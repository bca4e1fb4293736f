#pragma once
// The config entries the router tests build by hand: a provider on loopback, a target of it.
#include <cstdint>
#include <string>

#include "llmgw/common/url.hpp"
#include "llmgw/config/config.hpp"

namespace llmgw::fakes {

/// Provider `name` of `kind` at http://127.0.0.1:`port`/v1 (a port nothing listens on: the
/// tests that send use a scripted transport).
inline config::ProviderConfig provider(const std::string& name,
                                       config::ProviderKind kind =
                                           config::ProviderKind::openai_compatible,
                                       int port = 1) {
  config::ProviderConfig p;
  p.name = name;
  p.kind = kind;
  p.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  p.url = *common::parse_url(p.base_url);
  return p;
}

/// A target on `provider` serving "<provider>-model", with a context window when given.
inline config::TargetConfig target(const std::string& provider, std::uint64_t window = 0) {
  config::TargetConfig t;
  t.provider = provider;
  t.model = provider + "-model";
  if (window > 0) {
    t.context_window = window;
  }
  return t;
}

}  // namespace llmgw::fakes
