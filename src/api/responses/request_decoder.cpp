// The Responses face's requests: a Responses body validated (errors name the JSON path in the
// Responses API's own terms) and decoded into the canonical chat request.
//  - `instructions` → the first system message; `input` (a string, or items: messages with
//    input_text / input_image / input_file parts, function_call, function_call_output) → chat
//    messages, consecutive function calls joined into one assistant turn with tool_calls;
//  - function tools, tool_choice, text.format, reasoning.effort, max_output_tokens → their
//    chat equivalents. Built-in tools, background runs and server-side conversations are
//    refused: the gateway cannot serve them without changing what the client asked for.
#include <chrono>

#include "api/responses/responses.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::api::responses {
namespace {

using nlohmann::json;
using Error = std::optional<api::GatewayError>;

Error fail(const std::string& path, const std::string& what) {
  return api::invalid_request("'" + path + "' " + what, path);
}

Error unsupported(const std::string& path, const std::string& why) {
  return api::invalid_request(
      "'" + path + "' is not supported on /v1/responses by this gateway: " + why, path);
}

std::string at(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

bool present(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && !it->is_null();
}

// Fields that change nothing the gateway can honour differently: accepted and left out.
bool ignorable_field(std::string_view key) {
  for (std::string_view k : {"include", "truncation", "service_tier", "safety_identifier",
                             "prompt_cache_key", "prompt_cache_retention", "stream_options",
                             "top_logprobs", "max_tool_calls", "user"}) {
    if (key == k) {
      return true;
    }
  }
  return false;
}

bool known_field(std::string_view key) {
  for (std::string_view k : {"model", "input", "instructions", "tools", "tool_choice",
                             "parallel_tool_calls", "max_output_tokens", "temperature", "top_p",
                             "stream", "text", "reasoning", "store", "previous_response_id",
                             "metadata"}) {
    if (key == k) {
      return true;
    }
  }
  return false;
}

Error string_field(const json& o, const char* key, const std::string& path, std::string& out,
                   bool required) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) {
    return required ? fail(path + "." + key, "is required and must be a string.") : Error{};
  }
  if (!it->is_string()) {
    return fail(path + "." + key, "must be a string.");
  }
  out = it->get<std::string>();
  return std::nullopt;
}

// A user/system/developer message's content part → a chat content part.
Error input_part(const json& part, const std::string& path, json& out) {
  if (!part.is_object()) {
    return fail(path, "must be a content part object.");
  }
  std::string type;
  if (auto e = string_field(part, "type", path, type, true)) {
    return e;
  }
  if (type == "input_text" || type == "output_text" || type == "text") {
    std::string text;
    if (auto e = string_field(part, "text", path, text, true)) {
      return e;
    }
    out = json{{"type", "text"}, {"text", std::move(text)}};
    return std::nullopt;
  }
  if (type == "input_image") {
    std::string url;
    if (auto e = string_field(part, "image_url", path, url, false)) {
      return e;
    }
    if (url.empty()) {
      return unsupported(path, "images by file_id (the gateway holds no files); send image_url.");
    }
    json image{{"url", std::move(url)}};
    std::string detail;
    if (auto e = string_field(part, "detail", path, detail, false)) {
      return e;
    }
    if (!detail.empty()) {
      image["detail"] = std::move(detail);
    }
    out = json{{"type", "image_url"}, {"image_url", std::move(image)}};
    return std::nullopt;
  }
  if (type == "input_file") {
    std::string data, name;
    if (auto e = string_field(part, "file_data", path, data, false)) {
      return e;
    }
    if (data.empty()) {
      return unsupported(path, "files by file_id or file_url; send file_data.");
    }
    if (auto e = string_field(part, "filename", path, name, false)) {
      return e;
    }
    json file{{"file_data", std::move(data)}};
    if (!name.empty()) {
      file["filename"] = std::move(name);
    }
    out = json{{"type", "file"}, {"file", std::move(file)}};
    return std::nullopt;
  }
  return fail(path + ".type", "must be input_text, input_image or input_file.");
}

// An assistant message's content (output_text and refusal parts) → its text.
Error assistant_text(const json& content, const std::string& path, std::string& text) {
  if (content.is_string()) {
    text = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) {
    return fail(path, "must be a string or an array of content parts.");
  }
  for (std::size_t i = 0; i < content.size(); ++i) {
    const auto& part = content[i];
    auto ppath = at(path, i);
    if (!part.is_object()) {
      return fail(ppath, "must be a content part object.");
    }
    std::string type;
    if (auto e = string_field(part, "type", ppath, type, true)) {
      return e;
    }
    const char* key = type == "refusal" ? "refusal" : "text";
    if (type != "output_text" && type != "input_text" && type != "text" && type != "refusal") {
      return fail(ppath + ".type", "must be output_text or refusal in an assistant message.");
    }
    std::string piece;
    if (auto e = string_field(part, key, ppath, piece, true)) {
      return e;
    }
    text += piece;
  }
  return std::nullopt;
}

// The chat conversation built from `input`: consecutive function calls (and the assistant text
// before them) make one assistant turn, as chat completions expects.
class Conversation {
public:
  explicit Conversation(json& messages) : messages_(messages) {}

  Error message(const json& item, const std::string& path) {
    std::string role;
    if (auto e = string_field(item, "role", path, role, true)) {
      return e;
    }
    auto content = item.find("content");
    if (content == item.end() || content->is_null()) {
      return fail(path + ".content", "is required.");
    }
    if (role == "assistant") {
      std::string text;
      if (auto e = assistant_text(*content, path + ".content", text)) {
        return e;
      }
      close_assistant();  // a message starts a turn; the calls after it join that turn
      open_assistant()["content"] = std::move(text);
      return std::nullopt;
    }
    if (role != "user" && role != "system" && role != "developer") {
      return fail(path + ".role", "must be one of user, system, developer, assistant.");
    }
    close_assistant();
    // developer is the Responses API's name for system instructions; every provider kind
    // knows system.
    json m{{"role", role == "developer" ? "system" : role}};
    if (content->is_string()) {
      m["content"] = *content;
    } else if (content->is_array()) {
      json parts = json::array();
      for (std::size_t i = 0; i < content->size(); ++i) {
        json part;
        if (auto e = input_part((*content)[i], at(path + ".content", i), part)) {
          return e;
        }
        parts.push_back(std::move(part));
      }
      m["content"] = std::move(parts);
    } else {
      return fail(path + ".content", "must be a string or an array of content parts.");
    }
    messages_.push_back(std::move(m));
    return std::nullopt;
  }

  Error function_call(const json& item, const std::string& path) {
    std::string call_id, name, arguments;
    if (auto e = string_field(item, "call_id", path, call_id, true)) {
      return e;
    }
    if (auto e = string_field(item, "name", path, name, true)) {
      return e;
    }
    if (auto e = string_field(item, "arguments", path, arguments, true)) {
      return e;
    }
    auto& turn = open_assistant();
    if (!turn.contains("tool_calls")) {
      turn["tool_calls"] = json::array();
    }
    turn["tool_calls"].push_back(
        json{{"id", std::move(call_id)},
             {"type", "function"},
             {"function", json{{"name", std::move(name)}, {"arguments", std::move(arguments)}}}});
    return std::nullopt;
  }

  Error function_output(const json& item, const std::string& path) {
    std::string call_id;
    if (auto e = string_field(item, "call_id", path, call_id, true)) {
      return e;
    }
    auto output = item.find("output");
    if (output == item.end() || (!output->is_string() && !output->is_array())) {
      return fail(path + ".output", "is required and must be a string or an array of parts.");
    }
    close_assistant();
    json m{{"role", "tool"}, {"tool_call_id", std::move(call_id)}};
    if (output->is_string()) {
      m["content"] = *output;
    } else {
      json parts = json::array();
      for (std::size_t i = 0; i < output->size(); ++i) {
        json part;
        if (auto e = input_part((*output)[i], at(path + ".output", i), part)) {
          return e;
        }
        parts.push_back(std::move(part));
      }
      m["content"] = std::move(parts);
    }
    messages_.push_back(std::move(m));
    return std::nullopt;
  }

  void close_assistant() { assistant_ = false; }

private:
  json& open_assistant() {
    if (!assistant_) {
      messages_.push_back(json{{"role", "assistant"}, {"content", nullptr}});
      assistant_ = true;
    }
    return messages_.back();
  }

  json& messages_;
  bool assistant_ = false;
};

Error convert_input(const json& input, json& messages) {
  if (input.is_string()) {
    messages.push_back(json{{"role", "user"}, {"content", input}});
    return std::nullopt;
  }
  if (!input.is_array()) {
    return fail("input", "is required and must be a string or an array of input items.");
  }
  Conversation conversation(messages);
  for (std::size_t i = 0; i < input.size(); ++i) {
    const auto& item = input[i];
    auto path = at("input", i);
    if (!item.is_object()) {
      return fail(path, "must be an input item object.");
    }
    std::string type = "message";  // an item without a type is a message (EasyInputMessage)
    if (auto e = string_field(item, "type", path, type, false)) {
      return e;
    }
    Error e;
    if (type == "message") {
      e = conversation.message(item, path);
    } else if (type == "function_call") {
      e = conversation.function_call(item, path);
    } else if (type == "function_call_output") {
      e = conversation.function_output(item, path);
    } else if (type == "reasoning") {
      continue;  // another provider's reasoning state: no chat target can take it back
    } else if (type == "item_reference") {
      e = unsupported(path, "item references; send the items themselves, or continue with "
                            "previous_response_id.");
    } else {
      e = unsupported(path + ".type", "input items of type '" + api::echo(type) + "'.");
    }
    if (e) {
      return e;
    }
  }
  if (messages.empty()) {
    return fail("input", "must contain at least one item.");
  }
  return std::nullopt;
}

Error convert_tools(const json& tools, json& out) {
  if (!tools.is_array()) {
    return fail("tools", "must be an array of tools.");
  }
  json converted = json::array();
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const auto& tool = tools[i];
    auto path = at("tools", i);
    if (!tool.is_object()) {
      return fail(path, "must be a tool object.");
    }
    std::string type, name, description;
    if (auto e = string_field(tool, "type", path, type, true)) {
      return e;
    }
    if (type != "function") {
      return unsupported(path + ".type", "built-in tools ('" + api::echo(type) +
                                             "') run inside OpenAI; only function tools can be "
                                             "served by every provider.");
    }
    if (auto e = string_field(tool, "name", path, name, true)) {
      return e;
    }
    if (auto e = string_field(tool, "description", path, description, false)) {
      return e;
    }
    json function{{"name", std::move(name)}};
    if (!description.empty()) {
      function["description"] = std::move(description);
    }
    if (auto p = tool.find("parameters"); p != tool.end() && !p->is_null()) {
      if (!p->is_object()) {
        return fail(path + ".parameters", "must be a JSON Schema object.");
      }
      function["parameters"] = *p;
    }
    if (auto s = tool.find("strict"); s != tool.end() && !s->is_null()) {
      if (!s->is_boolean()) {
        return fail(path + ".strict", "must be a boolean.");
      }
      function["strict"] = *s;
    }
    converted.push_back(json{{"type", "function"}, {"function", std::move(function)}});
  }
  out["tools"] = std::move(converted);
  return std::nullopt;
}

Error convert_tool_choice(const json& choice, json& out) {
  if (choice.is_string()) {
    const auto& s = choice.get_ref<const std::string&>();
    if (s != "auto" && s != "none" && s != "required") {
      return fail("tool_choice", "must be auto, none, required or a function choice.");
    }
    out["tool_choice"] = choice;
    return std::nullopt;
  }
  if (!choice.is_object()) {
    return fail("tool_choice", "must be a string or an object.");
  }
  std::string type, name;
  if (auto e = string_field(choice, "type", "tool_choice", type, true)) {
    return e;
  }
  if (type != "function") {
    return unsupported("tool_choice.type", "only function tools exist here.");
  }
  if (auto e = string_field(choice, "name", "tool_choice", name, true)) {
    return e;
  }
  out["tool_choice"] = json{{"type", "function"}, {"function", json{{"name", std::move(name)}}}};
  return std::nullopt;
}

// text.format → response_format.
Error convert_text(const json& text, json& out) {
  if (!text.is_object()) {
    return fail("text", "must be an object.");
  }
  auto format = text.find("format");
  if (format == text.end() || format->is_null()) {
    return std::nullopt;
  }
  if (!format->is_object()) {
    return fail("text.format", "must be an object.");
  }
  std::string type;
  if (auto e = string_field(*format, "type", "text.format", type, true)) {
    return e;
  }
  if (type == "text") {
    return std::nullopt;
  }
  if (type == "json_object") {
    out["response_format"] = json{{"type", "json_object"}};
    return std::nullopt;
  }
  if (type != "json_schema") {
    return fail("text.format.type", "must be text, json_object or json_schema.");
  }
  std::string name, description;
  if (auto e = string_field(*format, "name", "text.format", name, true)) {
    return e;
  }
  if (auto e = string_field(*format, "description", "text.format", description, false)) {
    return e;
  }
  auto schema = format->find("schema");
  if (schema == format->end() || !schema->is_object()) {
    return fail("text.format.schema", "is required and must be a JSON Schema object.");
  }
  json js{{"name", std::move(name)}, {"schema", *schema}};
  if (!description.empty()) {
    js["description"] = std::move(description);
  }
  if (auto s = format->find("strict"); s != format->end() && !s->is_null()) {
    if (!s->is_boolean()) {
      return fail("text.format.strict", "must be a boolean.");
    }
    js["strict"] = *s;
  }
  out["response_format"] = json{{"type", "json_schema"}, {"json_schema", std::move(js)}};
  return std::nullopt;
}

Error copy_number(const json& in, const char* key, json& out, const char* as = nullptr) {
  auto it = in.find(key);
  if (it == in.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_number()) {
    return fail(key, "must be a number.");
  }
  out[as ? as : key] = *it;
  return std::nullopt;
}

bool bool_or(const json& in, const char* key, bool fallback) {
  auto it = in.find(key);
  return it != in.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// The request fields a response object repeats (with the API's defaults), as the SDKs and
// users read them back.
json echo_fields(const json& in) {
  json echo = json::object();
  for (const char* key : {"instructions", "max_output_tokens", "previous_response_id",
                          "temperature", "top_p", "reasoning", "user"}) {
    auto it = in.find(key);
    echo[key] = it == in.end() ? json(nullptr) : *it;
  }
  echo["metadata"] = in.contains("metadata") && in["metadata"].is_object() ? in["metadata"]
                                                                          : json::object();
  echo["parallel_tool_calls"] = bool_or(in, "parallel_tool_calls", true);
  echo["store"] = bool_or(in, "store", true);
  echo["tool_choice"] = in.contains("tool_choice") ? in["tool_choice"] : json("auto");
  echo["tools"] = in.contains("tools") && in["tools"].is_array() ? in["tools"] : json::array();
  echo["text"] = in.contains("text") && in["text"].is_object()
                     ? in["text"]
                     : json{{"format", json{{"type", "text"}}}};
  echo["truncation"] = "disabled";
  return echo;
}

}  // namespace

std::optional<api::GatewayError> responses_to_chat(const json& in, json& out, Turn& turn) {
  if (!in.is_object()) {
    return api::invalid_request("The request body must be a JSON object.");
  }
  for (const auto& [key, value] : in.items()) {
    if (key == "background" && value.is_boolean() && value.get<bool>()) {
      return unsupported("background", "background responses (the gateway answers at once).");
    }
    if (key == "conversation" && !value.is_null()) {
      return unsupported("conversation", "server-side conversations; continue with "
                                         "previous_response_id.");
    }
    if (key == "prompt" && !value.is_null()) {
      return unsupported("prompt", "OpenAI-hosted prompts; use this gateway's managed prompts "
                                   "(POST /v1/prompts/{name}).");
    }
    if (key != "background" && key != "conversation" && key != "prompt" &&
        !known_field(key) && !ignorable_field(key)) {
      return fail(key, "is not a known Responses API parameter.");
    }
  }
  out = json::object();
  std::string model;
  if (auto e = string_field(in, "model", "", model, false); e || model.empty()) {
    return fail("model", "is required and must be a non-empty string.");
  }
  out["model"] = std::move(model);
  json messages = json::array();
  std::string instructions;
  if (auto e = string_field(in, "instructions", "", instructions, false)) {
    return fail("instructions", "must be a string.");
  }
  if (!instructions.empty()) {
    messages.push_back(json{{"role", "system"}, {"content", std::move(instructions)}});
  }
  const std::size_t before_input = messages.size();
  auto input = in.find("input");
  if (input == in.end() || input->is_null()) {
    return fail("input", "is required and must be a string or an array of input items.");
  }
  if (auto e = convert_input(*input, messages)) {
    return e;
  }
  turn.input_messages = messages.size() - before_input;
  out["messages"] = std::move(messages);
  if (present(in, "tools")) {
    if (auto e = convert_tools(in["tools"], out)) {
      return e;
    }
  }
  if (present(in, "tool_choice")) {
    if (auto e = convert_tool_choice(in["tool_choice"], out)) {
      return e;
    }
  }
  if (present(in, "parallel_tool_calls")) {
    if (!in["parallel_tool_calls"].is_boolean()) {
      return fail("parallel_tool_calls", "must be a boolean.");
    }
    if (out.contains("tools")) {
      out["parallel_tool_calls"] = in["parallel_tool_calls"];
    }
  }
  if (present(in, "max_output_tokens")) {
    const auto& m = in["max_output_tokens"];
    if (!m.is_number_integer() || m.get<std::int64_t>() < 1) {
      return fail("max_output_tokens", "must be a positive integer.");
    }
    out["max_completion_tokens"] = m;
  }
  for (const char* key : {"temperature", "top_p"}) {
    if (auto e = copy_number(in, key, out)) {
      return e;
    }
  }
  if (present(in, "stream")) {
    if (!in["stream"].is_boolean()) {
      return fail("stream", "must be a boolean.");
    }
    if (in["stream"].get<bool>()) {
      // The usage chunk feeds response.completed's usage.
      out["stream"] = true;
      out["stream_options"] = json{{"include_usage", true}};
    }
  }
  if (present(in, "text")) {
    if (auto e = convert_text(in["text"], out)) {
      return e;
    }
  }
  if (present(in, "reasoning")) {
    const auto& r = in["reasoning"];
    if (!r.is_object()) {
      return fail("reasoning", "must be an object.");
    }
    std::string effort;
    if (auto e = string_field(r, "effort", "reasoning", effort, false)) {
      return e;
    }
    if (!effort.empty()) {
      out["reasoning_effort"] = std::move(effort);
    }
  }
  if (present(in, "metadata") && !in["metadata"].is_object()) {
    return fail("metadata", "must be an object.");
  }
  if (present(in, "store")) {
    if (!in["store"].is_boolean()) {
      return fail("store", "must be a boolean.");
    }
    turn.store = in["store"].get<bool>();
  }
  if (auto e = string_field(in, "previous_response_id", "", turn.previous_response_id, false)) {
    return fail("previous_response_id", "must be a string.");
  }
  turn.id = "resp_" + common::random_hex(48);
  turn.created_at = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  turn.echo = echo_fields(in).dump();
  return std::nullopt;
}

}  // namespace llmgw::api::responses
