#pragma once
// Gateway API key checks: the presented key is hashed and its digest looked up in the
// snapshot's index of configured sha256 values; only hashes are ever stored.
#include <optional>
#include <string_view>

#include "llmgw/api/errors.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/router/route_table.hpp"

namespace llmgw::server {

struct AuthResult {
  const config::KeyConfig* key = nullptr;  // null when auth is off or failed
  std::optional<api::GatewayError> error;  // set when the request must be refused
};

/// `authorization` is the Authorization header, `x_api_key` the x-api-key header.
AuthResult authenticate(const router::RouteTable& table, std::string_view authorization,
                        std::string_view x_api_key);

/// Whether the key may use the client-visible model (no key or no allowlist = all).
bool key_allows(const config::KeyConfig* key, std::string_view model);

}  // namespace llmgw::server
