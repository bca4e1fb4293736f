#pragma once
// The response cache's key: the sha256 of a normalised canonical request (the body after the
// face decoded it), in a scope (the API key's name).
//
// Normalised: object keys in one order (sorted), top-level fields that do not change the
// answer left out (stream, stream_options, user, metadata, store, ...), a null top-level field
// the same as an absent one, and a number the same whether written 0 or 0.0. Everything else
// is in: model, messages, tools, tool_choice, every sampling parameter, response_format, and
// any field a face or a provider extension carries (a field we do not know could change the
// answer, so it is part of the key rather than left out).
//
// Scope: the canonical form is shared by the faces, and the cache stores canonical answers that
// each face renders in its own format. So an OpenAI-face and an Anthropic-face request that
// decode to the same canonical request share one entry, which is correct (the same upstream
// request) and saves a call; the operation is part of the key (chat, completions, embeddings).
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "llmgw/api/operation.hpp"

namespace llmgw::cache {

/// The scope of a request without an API key (auth.required: false). Keys' scopes are
/// "key:<name>", so no key, whatever its name, shares the anonymous scope.
inline constexpr std::string_view kAnonymousScope = "anonymous";

/// Whether the request asks for log probabilities, which the cache does not keep (a stored
/// stream is joined without them): such a request bypasses the cache.
bool asks_logprobs(const nlohmann::json& body);

/// Whether the request's sampling allows caching: temperature 0 or absent, unless the model's
/// cache says any_temperature.
bool temperature_allows(const nlohmann::json& body, bool any_temperature);

/// The normalised request as the text that is hashed (exposed for tests).
std::string normalised_request(api::Operation op, std::string_view scope,
                               const nlohmann::json& body);

/// sha256 hex (64 characters) of normalised_request().
std::string request_key(api::Operation op, std::string_view scope, const nlohmann::json& body);

}  // namespace llmgw::cache
