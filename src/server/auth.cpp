#include "server/auth.hpp"

#include "llmgw/common/strings.hpp"

namespace llmgw::server {

AuthResult authenticate(const config::Config& cfg, std::string_view authorization,
                        std::string_view x_api_key) {
  AuthResult result;
  if (!cfg.auth.required) {
    return result;
  }
  std::string_view presented;
  if (authorization.size() > 7 && common::iequals(authorization.substr(0, 7), "bearer ")) {
    presented = common::trim(authorization.substr(7));
  } else if (!x_api_key.empty()) {
    presented = common::trim(x_api_key);
  }
  if (presented.empty()) {
    result.error = api::invalid_api_key("Missing API key: send 'Authorization: Bearer <key>'.");
    return result;
  }
  auto digest = common::sha256_hex(presented);
  for (const auto& k : cfg.keys) {
    // No early exit: the time taken says nothing about which key (if any) matched.
    if (common::constant_time_equals(digest, k.sha256)) {
      result.key = &k;
    }
  }
  if (!result.key) {
    result.error = api::invalid_api_key("Invalid API key.");
  }
  return result;
}

bool key_allows(const config::KeyConfig* key, std::string_view model) {
  if (!key || !key->models) {
    return true;
  }
  for (const auto& m : *key->models) {
    if (m == model) {
      return true;
    }
  }
  return false;
}

}  // namespace llmgw::server
