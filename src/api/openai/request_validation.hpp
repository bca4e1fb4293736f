#pragma once
// The OpenAI face's request validation. Checks a client request body before routing, naming the JSON path at fault, so malformed
// input gets a precise 400 instead of a confusing upstream error — and so nothing downstream
// (router, adapters) ever meets a field of the wrong type: every field the gateway reads has
// its type checked here, null meaning "absent" where the OpenAI API allows it.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/face.hpp"
#include "llmgw/api/operation.hpp"

namespace llmgw::api::openai {

/// nullopt when the body may be routed. `body` is the parse result (discarded = invalid JSON).
/// Fills `facts` (when given) for a valid body.
std::optional<api::GatewayError> validate_request(api::Operation op, const nlohmann::json& body,
                                                  api::RequestFacts* facts = nullptr);

}  // namespace llmgw::api::openai
