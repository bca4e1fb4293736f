#pragma once
// Helpers the Anthropic face's answer and stream encoders share (module-private).
#include <string>
#include <string_view>

#include "api/face_json.hpp"

namespace llmgw::api::anthropic::detail {

using namespace llmgw::api::face_json;  // the tolerant readers every translating face uses

/// {"type":"error","error":{"type":...,"message":...},"request_id":...}
ojson error_json(std::string_view type, std::string message, std::string_view request_id);
/// chatcmpl-X → msg_X
std::string strip_openai_id(const std::string& id);

}  // namespace llmgw::api::anthropic::detail
