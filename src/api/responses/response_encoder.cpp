// The Responses face's answers: a chat.completion rendered as a response object, and errors.
#include "api/face_json.hpp"
#include "api/responses/responses.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::api::responses {

using namespace face_json;

std::string item_id(std::string_view prefix) {
  return std::string(prefix) + common::random_hex(48);
}

Usage read_usage(const json& usage) {
  Usage u;
  if (!usage.is_object()) {
    return u;
  }
  u.known = true;
  u.input = token_count(usage, "prompt_tokens");
  u.output = token_count(usage, "completion_tokens");
  u.cached = std::min(cached_count(usage), u.input);
  const json& details = object_at(usage, "completion_tokens_details");
  u.reasoning = token_count(details, "reasoning_tokens");
  return u;
}

ojson usage_json(const Usage& u) {
  return ojson{{"input_tokens", u.input},
               {"input_tokens_details", ojson{{"cached_tokens", u.cached}}},
               {"output_tokens", u.output},
               {"output_tokens_details", ojson{{"reasoning_tokens", u.reasoning}}},
               {"total_tokens", u.input + u.output}};
}

ojson message_item(std::string id, std::string text, bool refusal, std::string_view status) {
  ojson part = refusal ? ojson{{"type", "refusal"}, {"refusal", std::move(text)}}
                       : ojson{{"type", "output_text"},
                               {"text", std::move(text)},
                               {"annotations", ojson::array()},
                               {"logprobs", ojson::array()}};
  return ojson{{"id", std::move(id)},
               {"type", "message"},
               {"status", status},
               {"role", "assistant"},
               {"content", ojson::array({std::move(part)})}};
}

ojson function_call_item(std::string id, std::string call_id, std::string name,
                         std::string arguments, std::string_view status) {
  return ojson{{"id", std::move(id)},         {"type", "function_call"},
               {"status", status},            {"arguments", std::move(arguments)},
               {"call_id", std::move(call_id)}, {"name", std::move(name)}};
}

ojson reasoning_item(std::string id, std::string text) {
  ojson summary = ojson::array();
  if (!text.empty()) {
    summary.push_back(ojson{{"type", "summary_text"}, {"text", std::move(text)}});
  }
  return ojson{{"id", std::move(id)}, {"type", "reasoning"}, {"summary", std::move(summary)}};
}

ojson response_object(const Turn& turn, std::string_view model, ojson output,
                      const std::optional<std::string>& finish_reason, const Usage& usage) {
  std::string_view status = "completed";
  ojson incomplete = nullptr;
  if (finish_reason == "length") {
    status = "incomplete";
    incomplete = ojson{{"reason", "max_output_tokens"}};
  } else if (finish_reason == "content_filter") {
    status = "incomplete";
    incomplete = ojson{{"reason", "content_filter"}};
  }
  auto echo = parse_relayed_ordered(turn.echo);
  if (!echo.is_object()) {
    echo = ojson::object();
  }
  ojson r{{"id", turn.id},
          {"object", "response"},
          {"created_at", turn.created_at},
          {"status", status},
          {"background", false},
          {"error", nullptr},
          {"incomplete_details", std::move(incomplete)},
          {"model", model},
          {"output", std::move(output)}};
  for (auto& [key, value] : echo.items()) {
    r[key] = std::move(value);
  }
  r["usage"] = usage_json(usage);
  // The SDKs' convenience (openai-node computes it for create() but not for a stream's final
  // response): the text of every output_text part.
  std::string text;
  for (const auto& item : r["output"]) {
    if (item.value("type", "") != "message" || !item.contains("content")) {
      continue;
    }
    for (const auto& part : item["content"]) {
      if (part.value("type", "") == "output_text" && part.contains("text") &&
          part["text"].is_string()) {
        text += part["text"].get<std::string>();
      }
    }
  }
  r["output_text"] = std::move(text);
  return r;
}

std::optional<std::string> completion_to_response(std::string_view body, const Turn& turn) {
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
  const json& message = object_at(choice, "message");
  ojson output = ojson::array();
  auto reasoning = string_or(message, "reasoning_content", "");
  if (!reasoning.empty()) {
    output.push_back(reasoning_item(item_id("rs_"), std::move(reasoning)));
  }
  auto text = string_or(message, "content", "");
  auto refusal = string_or(message, "refusal", "");
  if (!text.empty() || !refusal.empty()) {
    const bool is_refusal = text.empty();
    output.push_back(message_item(item_id("msg_"), is_refusal ? std::move(refusal) : std::move(text),
                                  is_refusal, "completed"));
  }
  if (auto calls = message.find("tool_calls"); calls != message.end() && calls->is_array()) {
    for (const auto& call : *calls) {
      if (!call.is_object()) {
        continue;
      }
      const json& function = object_at(call, "function");
      output.push_back(function_call_item(item_id("fc_"),
                                          string_or(call, "id", item_id("call_")),
                                          string_or(function, "name", ""),
                                          string_or(function, "arguments", ""), "completed"));
    }
  }
  if (output.empty()) {
    output.push_back(message_item(item_id("msg_"), "", false, "completed"));
  }
  std::optional<std::string> finish;
  if (auto f = choice.find("finish_reason"); f != choice.end() && f->is_string()) {
    finish = f->get<std::string>();
  }
  Usage usage;
  if (auto u = j.find("usage"); u != j.end()) {
    usage = read_usage(*u);
  }
  return dump(response_object(turn, string_or(j, "model", ""), std::move(output), finish, usage));
}

namespace {

ojson error_fields(const api::GatewayError& e) {
  return ojson{{"message", e.message},
               {"type", e.type},
               {"param", e.param.empty() ? ojson(nullptr) : ojson(e.param)},
               {"code", e.code}};
}

}  // namespace

std::string stream_error_event(const api::GatewayError& e, std::uint64_t seq) {
  ojson data{{"type", "error"},
             {"code", e.code},
             {"message", e.message},
             {"param", e.param.empty() ? ojson(nullptr) : ojson(e.param)},
             {"sequence_number", seq},
             {"error", error_fields(e)}};
  return "event: error\ndata: " + dump(data) + "\n\n";
}

}  // namespace llmgw::api::responses
