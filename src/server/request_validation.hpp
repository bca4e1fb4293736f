#pragma once
// Checks a client request body before routing, naming the JSON path at fault, so malformed
// input gets a precise 400 instead of a confusing upstream error.
#include <nlohmann/json.hpp>
#include <optional>

#include "llmgw/api/errors.hpp"
#include "llmgw/providers/adapter.hpp"

namespace llmgw::server {

/// nullopt when the body may be routed. `body` is the parse result (discarded = invalid JSON).
std::optional<api::GatewayError> validate_request(providers::Operation op,
                                                  const nlohmann::json& body);

}  // namespace llmgw::server
