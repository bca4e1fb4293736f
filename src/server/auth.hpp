#pragma once
// Gateway API key checks: the presented key is hashed and compared with every configured
// sha256 in constant time; only hashes are ever stored.
#include <optional>
#include <string_view>

#include "llmgw/api/errors.hpp"
#include "llmgw/config/config.hpp"

namespace llmgw::server {

struct AuthResult {
  const config::KeyConfig* key = nullptr;  // null when auth is off or failed
  std::optional<api::GatewayError> error;  // set when the request must be refused
};

/// `authorization` is the Authorization header, `x_api_key` the x-api-key header.
AuthResult authenticate(const config::Config& cfg, std::string_view authorization,
                        std::string_view x_api_key);

/// Whether the key may use the client-visible model (no key or no allowlist = all).
bool key_allows(const config::KeyConfig* key, std::string_view model);

}  // namespace llmgw::server
