// Helpers the Anthropic face's answer and stream encoders share.
#include "api/anthropic/detail.hpp"

namespace llmgw::api::anthropic::detail {

ojson error_json(std::string_view type, std::string message, std::string_view request_id) {
  ojson body{{"type", "error"}, {"error", ojson{{"type", type}, {"message", std::move(message)}}}};
  if (!request_id.empty()) {
    body["request_id"] = request_id;
  }
  return body;
}

std::string strip_openai_id(const std::string& id) {
  std::string_view v(id);
  if (v.starts_with("chatcmpl-")) {
    v.remove_prefix(9);
  }
  return "msg_" + std::string(v);
}

}  // namespace llmgw::api::anthropic::detail
