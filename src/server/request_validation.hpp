#pragma once
// Checks a client request body before routing, naming the JSON path at fault, so malformed
// input gets a precise 400 instead of a confusing upstream error — and so nothing downstream
// (router, adapters) ever meets a field of the wrong type: every field the gateway reads has
// its type checked here, null meaning "absent" where the OpenAI API allows it.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "llmgw/api/errors.hpp"
#include "llmgw/providers/adapter.hpp"

namespace llmgw::server {

/// The fields of a valid body the front end acts on, read once with their types known.
struct RequestFacts {
  bool stream = false;
  bool include_usage = false;           // stream_options.include_usage
  bool base64_embeddings = false;       // encoding_format: base64
  std::uint64_t max_output_tokens = 0;  // max_completion_tokens, else max_tokens; 0 = unset
};

/// nullopt when the body may be routed. `body` is the parse result (discarded = invalid JSON).
/// Fills `facts` (when given) for a valid body.
std::optional<api::GatewayError> validate_request(providers::Operation op,
                                                  const nlohmann::json& body,
                                                  RequestFacts* facts = nullptr);

}  // namespace llmgw::server
