// The Anthropic face's answers: error bodies, and a chat.completion rendered as a Message.
#include "api/anthropic/anthropic.hpp"
#include "api/anthropic/detail.hpp"

#include "llmgw/common/strings.hpp"

namespace llmgw::api::anthropic {

using namespace detail;

std::string_view anthropic_error_type(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 409: return "conflict_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    case 504: return "timeout_error";
    default: break;
  }
  return status >= 500 ? "api_error" : "invalid_request_error";
}

namespace {

// tool_calls[].function.arguments (a JSON text) as the tool_use input object. Arguments that
// are empty mean no input; text that is not JSON is relayed as a string so nothing is lost.
ojson tool_input(const json& function) {
  auto a = function.find("arguments");
  if (a == function.end() || !a->is_string() || common::trim(a->get_ref<const std::string&>()).empty()) {
    return ojson::object();
  }
  auto parsed = parse_relayed_ordered(a->get_ref<const std::string&>());
  return parsed.is_discarded() ? ojson(a->get<std::string>()) : parsed;
}

// The answer's thinking, first in the content as Anthropic puts it: the canonical
// thinking_blocks (an Anthropic target's, signatures included) as they are, else the
// reasoning_content text of other reasoning models as one unsigned thinking block.
void append_thinking(const json& message, ojson& content) {
  if (auto blocks = message.find("thinking_blocks");
      blocks != message.end() && blocks->is_array() && !blocks->empty()) {
    for (const auto& b : *blocks) {
      const auto type = string_or(b, "type", "");
      if (type == "thinking") {
        content.push_back(ojson{{"type", "thinking"},
                                {"thinking", string_or(b, "thinking", "")},
                                {"signature", string_or(b, "signature", "")}});
      } else if (type == "redacted_thinking") {
        content.push_back(ojson{{"type", "redacted_thinking"}, {"data", string_or(b, "data", "")}});
      }
    }
    return;
  }
  auto reasoning = string_or(message, "reasoning_content", "");
  if (!reasoning.empty()) {
    content.push_back(
        ojson{{"type", "thinking"}, {"thinking", std::move(reasoning)}, {"signature", ""}});
  }
}

}  // namespace

std::string anthropic_error_body(int status, std::string_view openai_body,
                                 std::string_view request_id) {
  return dump(error_json(anthropic_error_type(status), error_message(openai_body, status),
                         request_id));
}

std::string anthropic_error_body(const api::GatewayError& e, std::string_view request_id) {
  return dump(error_json(anthropic_error_type(e.status), e.message, request_id));
}

std::string anthropic_stream_error_event(const api::GatewayError& e) {
  return "event: error\ndata: " + dump(error_json(anthropic_error_type(e.status), e.message, {})) +
         "\n\n";
}

std::string_view anthropic_stop_reason(std::string_view finish_reason) {
  if (finish_reason == "length") {
    return "max_tokens";
  }
  if (finish_reason == "tool_calls" || finish_reason == "function_call") {
    return "tool_use";
  }
  if (finish_reason == "content_filter") {
    return "refusal";
  }
  return "end_turn";
}

std::optional<std::string> openai_completion_to_anthropic(std::string_view body) {
  auto j = parse_relayed(body);
  if (!j.is_object()) {
    return std::nullopt;
  }
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty() ||
      !(*choices)[0].is_object()) {
    return std::nullopt;
  }
  const auto& choice = (*choices)[0];
  auto message = choice.find("message");
  if (message == choice.end() || !message->is_object()) {
    return std::nullopt;
  }
  ojson content = ojson::array();
  append_thinking(*message, content);
  std::string text = string_or(*message, "content", "");
  if (text.empty()) {
    text = string_or(*message, "refusal", "");
  }
  if (!text.empty()) {
    content.push_back(ojson{{"type", "text"}, {"text", std::move(text)}});
  }
  if (auto calls = message->find("tool_calls"); calls != message->end() && calls->is_array()) {
    for (std::size_t i = 0; i < calls->size(); ++i) {
      const auto& call = (*calls)[i];
      if (!call.is_object()) {
        continue;
      }
      const json& function = object_at(call, "function");
      auto id = string_or(call, "id", "toolu_" + std::to_string(i));
      content.push_back(ojson{{"type", "tool_use"},
                              {"id", std::move(id)},
                              {"name", string_or(function, "name", "")},
                              {"input", tool_input(function)}});
    }
  }
  ojson stop_reason = nullptr;
  if (auto f = choice.find("finish_reason"); f != choice.end() && f->is_string()) {
    stop_reason = anthropic_stop_reason(f->get_ref<const std::string&>());
  }
  ojson usage{{"input_tokens", 0}, {"output_tokens", 0}};
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    auto prompt = token_count(*u, "prompt_tokens");
    auto cached = std::min(cached_count(*u), prompt);
    // Anthropic's input_tokens exclude cache reads (OpenAI's prompt_tokens include them).
    usage["input_tokens"] = prompt - cached;
    usage["output_tokens"] = token_count(*u, "completion_tokens");
    usage["cache_read_input_tokens"] = cached;
    usage["cache_creation_input_tokens"] = 0;
  }
  ojson out{{"id", strip_openai_id(string_or(j, "id", common::random_hex(24)))},
            {"type", "message"},
            {"role", "assistant"},
            {"model", string_or(j, "model", "")},
            {"content", std::move(content)},
            {"stop_reason", std::move(stop_reason)},
            {"stop_sequence", nullptr},
            {"usage", std::move(usage)}};
  return dump(out);
}

}  // namespace llmgw::api::anthropic
