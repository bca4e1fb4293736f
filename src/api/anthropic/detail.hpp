#pragma once
// Helpers the Anthropic face's answer and stream encoders share (module-private).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace llmgw::api::anthropic::detail {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

/// What the router hands this face is partly upstream text relayed as it came: parsed within
/// the depth limit (discarded when too deep or not JSON).
json parse_relayed(std::string_view text);
ojson parse_relayed_ordered(std::string_view text);

const json& object_at(const json& j, const char* key);
std::int64_t int_or(const json& j, const char* key, std::int64_t fallback);
std::string string_or(const json& j, const char* key, std::string fallback);
/// {"type":"error","error":{"type":...,"message":...},"request_id":...}
ojson error_json(std::string_view type, std::string message, std::string_view request_id);
std::string dump(const ojson& j);
/// The message of an OpenAI-shaped error body; the text itself when it is something else.
std::string error_message(std::string_view body, int status);
/// chatcmpl-X → msg_X
std::string strip_openai_id(const std::string& id);
std::uint64_t token_count(const json& usage, const char* key);
std::uint64_t cached_count(const json& usage);

}  // namespace llmgw::api::anthropic::detail
