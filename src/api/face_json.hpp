#pragma once
// Reading what the router hands a face's answer encoders (module-private, shared by the faces
// that translate the canonical answer: api/anthropic, api/responses). Part of it is upstream
// text relayed as it came, so every read is tolerant: a missing or mistyped field reads as
// its fallback.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace llmgw::api::face_json {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

/// Parsed within the depth limit (discarded when too deep or not JSON).
json parse_relayed(std::string_view text);
ojson parse_relayed_ordered(std::string_view text);
const json& object_at(const json& j, const char* key);
std::int64_t int_or(const json& j, const char* key, std::int64_t fallback);
std::string string_or(const json& j, const char* key, std::string fallback);
/// Compact, invalid UTF-8 replaced (upstream text may carry it).
std::string dump(const ojson& j);
/// The message of an OpenAI-shaped error body; the text itself when it is something else.
std::string error_message(std::string_view body, int status);
std::uint64_t token_count(const json& usage, const char* key);
/// usage.prompt_tokens_details.cached_tokens
std::uint64_t cached_count(const json& usage);

}  // namespace llmgw::api::face_json
