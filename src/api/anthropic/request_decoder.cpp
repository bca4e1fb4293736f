// The Anthropic face's requests: a Messages body validated (errors name the JSON path) and
// decoded into the canonical chat request. What Anthropic has and the chat format lacks rides
// in the canonical model's extension fields (docs/providers.md, "The canonical model"):
// `thinking` (top level), `cache_control` (on content parts and tools) and `thinking_blocks`
// (assistant turns, signatures included), so Anthropic-to-Anthropic traffic loses nothing.
#include "api/anthropic/anthropic.hpp"

#include "llmgw/api/json.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::api::anthropic {
namespace {

using nlohmann::json;
using Error = std::optional<api::GatewayError>;

Error fail(const std::string& path, const std::string& what) {
  return api::invalid_request("'" + path + "' " + what, path);
}

Error unsupported(const std::string& path, const std::string& why) {
  return api::invalid_request(
      "'" + path + "' is not supported on /v1/messages by this gateway: " + why, path);
}

std::string at(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// Top-level fields: how each one is handled. Anything else is refused (400 naming it), so a
// feature the client relies on is never silently dropped.
bool ignorable_field(std::string_view key) {
  // Billing/latency preferences: the answer means the same without them.
  return key == "service_tier";
}

bool known_field(std::string_view key) {
  for (std::string_view k : {"model", "max_tokens", "messages", "system", "metadata",
                             "stop_sequences", "stream", "temperature", "top_p", "top_k", "tools",
                             "tool_choice", "thinking"}) {
    if (key == k) {
      return true;
    }
  }
  return false;
}

// `o[key]`, which must be a string (and not empty when `non_empty`); the error names
// `path.key`.
Error required_string(const json& o, const char* key, const std::string& path, const json*& out,
                      bool non_empty = false) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_string() ||
      (non_empty && it->get_ref<const std::string&>().empty())) {
    return fail(path + "." + key, "is required and must be a string.");
  }
  out = &*it;
  return std::nullopt;
}

Error text_of_block(const json& block, const std::string& path, std::string& text) {
  const json* t = nullptr;
  if (auto e = required_string(block, "text", path, t)) {
    return e;
  }
  text = t->get<std::string>();
  return std::nullopt;
}

// A block's cache breakpoint, carried onto the canonical part (or tool) as it is.
Error copy_cache_control(const json& block, const std::string& path, json& into) {
  auto c = block.find("cache_control");
  if (c == block.end() || c->is_null()) {
    return std::nullopt;
  }
  if (!c->is_object()) {
    return fail(path + ".cache_control", "must be an object.");
  }
  into["cache_control"] = *c;
  return std::nullopt;
}

Error block_type(const json& block, const std::string& path, std::string& type) {
  if (!block.is_object()) {
    return fail(path, "must be a content block object.");
  }
  const json* t = nullptr;
  if (auto e = required_string(block, "type", path, t)) {
    return e;
  }
  type = t->get<std::string>();
  return std::nullopt;
}

// system: a string or an array of text blocks (each may carry its cache breakpoint).
Error convert_system_content(const json& content, const std::string& path, json& out) {
  if (content.is_string()) {
    out = content;
    return std::nullopt;
  }
  if (!content.is_array()) {
    return fail(path, "must be a string or an array of text blocks.");
  }
  json parts = json::array();
  for (std::size_t j = 0; j < content.size(); ++j) {
    auto bpath = at(path, j);
    std::string type;
    if (auto e = block_type(content[j], bpath, type)) {
      return e;
    }
    if (type != "text") {
      return fail(bpath + ".type", "must be 'text' in a system prompt.");
    }
    std::string text;
    if (auto e = text_of_block(content[j], bpath, text)) {
      return e;
    }
    json part{{"type", "text"}, {"text", std::move(text)}};
    if (auto e = copy_cache_control(content[j], bpath, part)) {
      return e;
    }
    parts.push_back(std::move(part));
  }
  out = std::move(parts);
  return std::nullopt;
}

Error convert_image(const json& block, const std::string& path, json& part) {
  auto source = block.find("source");
  if (source == block.end() || !source->is_object()) {
    return fail(path + ".source", "is required and must be an object.");
  }
  auto stype = source->find("type");
  if (stype == source->end() || !stype->is_string()) {
    return fail(path + ".source.type", "is required and must be a string.");
  }
  std::string url;
  if (*stype == "base64") {
    auto media = source->find("media_type");
    if (media == source->end() || !media->is_string() ||
        media->get_ref<const std::string&>().empty()) {
      return fail(path + ".source.media_type", "is required and must be a string.");
    }
    auto data = source->find("data");
    if (data == source->end() || !data->is_string()) {
      return fail(path + ".source.data", "is required and must be a base64 string.");
    }
    url = "data:" + media->get<std::string>() + ";base64," + data->get<std::string>();
  } else if (*stype == "url") {
    auto u = source->find("url");
    if (u == source->end() || !u->is_string() || u->get_ref<const std::string&>().empty()) {
      return fail(path + ".source.url", "is required and must be a string.");
    }
    url = u->get<std::string>();
  } else {
    return unsupported(path + ".source.type",
                       "only 'base64' and 'url' image sources can be routed.");
  }
  part = json{{"type", "image_url"}, {"image_url", json{{"url", std::move(url)}}}};
  return std::nullopt;
}

// tool_result → one OpenAI role:tool message. Its content: a string, or text blocks joined
// with "\n"; is_error:true is noted in the text ("Error: ..."), OpenAI having no such flag.
Error convert_tool_result(const json& block, const std::string& path, json& message) {
  const json* id = nullptr;
  if (auto e = required_string(block, "tool_use_id", path, id, true)) {
    return e;
  }
  std::string text;
  if (auto c = block.find("content"); c != block.end() && !c->is_null()) {
    if (c->is_string()) {
      text = c->get<std::string>();
    } else if (c->is_array()) {
      for (std::size_t k = 0; k < c->size(); ++k) {
        auto cpath = at(path + ".content", k);
        std::string type;
        if (auto e = block_type((*c)[k], cpath, type)) {
          return e;
        }
        if (type != "text") {
          return unsupported(cpath + ".type",
                             "tool results can only carry text when routed in the OpenAI format.");
        }
        std::string part;
        if (auto e = text_of_block((*c)[k], cpath, part)) {
          return e;
        }
        if (k > 0) {
          text += "\n";
        }
        text += part;
      }
    } else {
      return fail(path + ".content", "must be a string or an array of text blocks.");
    }
  }
  if (auto err = block.find("is_error"); err != block.end() && !err->is_null()) {
    if (!err->is_boolean()) {
      return fail(path + ".is_error", "must be a boolean.");
    }
    if (err->get<bool>()) {
      text = text.empty() ? std::string("Error") : "Error: " + text;
    }
  }
  message = json{{"role", "tool"}, {"tool_call_id", id->get<std::string>()}, {"content", text}};
  return std::nullopt;
}

// A user turn: tool_result blocks become role:tool messages (first, as OpenAI wants them right
// after the assistant's tool_calls), the other blocks one user message.
Error convert_user(const json& content, const std::string& path, json& messages) {
  json parts = json::array();
  bool all_text = true;
  for (std::size_t j = 0; j < content.size(); ++j) {
    auto bpath = at(path, j);
    std::string type;
    if (auto e = block_type(content[j], bpath, type)) {
      return e;
    }
    if (type == "text") {
      std::string text;
      if (auto e = text_of_block(content[j], bpath, text)) {
        return e;
      }
      json part{{"type", "text"}, {"text", std::move(text)}};
      if (auto e = copy_cache_control(content[j], bpath, part)) {
        return e;
      }
      all_text = all_text && !part.contains("cache_control");  // a plain string cannot carry it
      parts.push_back(std::move(part));
    } else if (type == "image") {
      json part;
      if (auto e = convert_image(content[j], bpath, part)) {
        return e;
      }
      if (auto e = copy_cache_control(content[j], bpath, part)) {
        return e;
      }
      parts.push_back(std::move(part));
      all_text = false;
    } else if (type == "tool_result") {
      json message;
      if (auto e = convert_tool_result(content[j], bpath, message)) {
        return e;
      }
      messages.push_back(std::move(message));
    } else if (type == "tool_use" || type == "thinking" || type == "redacted_thinking") {
      return fail(bpath + ".type", "'" + type + "' blocks belong in assistant turns.");
    } else {
      return unsupported(bpath + ".type", "content blocks of type '" + type +
                                              "' cannot be routed in the OpenAI format.");
    }
  }
  if (parts.empty()) {
    return std::nullopt;  // only tool results
  }
  json user{{"role", "user"}};
  if (all_text && parts.size() == 1) {
    user["content"] = std::move(parts[0]["text"]);
  } else {
    user["content"] = std::move(parts);
  }
  messages.push_back(std::move(user));
  return std::nullopt;
}

// A thinking or redacted_thinking block of an earlier assistant turn, for `thinking_blocks`:
// Anthropic checks the signature (or the encrypted data) when the turn is replayed to it.
Error convert_thinking_block(const json& block, const std::string& type, const std::string& path,
                             json& blocks) {
  if (type == "redacted_thinking") {
    const json* data = nullptr;
    if (auto e = required_string(block, "data", path, data)) {
      return e;
    }
    blocks.push_back(json{{"type", type}, {"data", *data}});
    return std::nullopt;
  }
  const json* thinking = nullptr;
  const json* signature = nullptr;
  if (auto e = required_string(block, "thinking", path, thinking)) {
    return e;
  }
  if (auto e = required_string(block, "signature", path, signature)) {
    return e;
  }
  blocks.push_back(json{{"type", type}, {"thinking", *thinking}, {"signature", *signature}});
  return std::nullopt;
}

// An assistant turn: text blocks concatenated into `content`, tool_use blocks into tool_calls
// (arguments = the JSON text of `input`), thinking blocks into `thinking_blocks`.
Error convert_assistant(const json& content, const std::string& path, json& messages) {
  std::string text;
  bool has_text = false;
  json calls = json::array();
  json thinking = json::array();
  for (std::size_t j = 0; j < content.size(); ++j) {
    auto bpath = at(path, j);
    std::string type;
    if (auto e = block_type(content[j], bpath, type)) {
      return e;
    }
    if (type == "text") {
      std::string part;
      if (auto e = text_of_block(content[j], bpath, part)) {
        return e;
      }
      text += part;
      has_text = true;
    } else if (type == "tool_use") {
      const auto& block = content[j];
      const json* id = nullptr;
      const json* name = nullptr;
      if (auto e = required_string(block, "id", bpath, id, true)) {
        return e;
      }
      if (auto e = required_string(block, "name", bpath, name, true)) {
        return e;
      }
      auto input = block.find("input");
      if (input == block.end() || !input->is_object()) {
        return fail(bpath + ".input", "is required and must be an object.");
      }
      calls.push_back(json{{"id", *id},
                           {"type", "function"},
                           {"function", json{{"name", *name}, {"arguments", input->dump()}}}});
    } else if (type == "thinking" || type == "redacted_thinking") {
      if (auto e = convert_thinking_block(content[j], type, bpath, thinking)) {
        return e;
      }
    } else if (type == "tool_result" || type == "image") {
      return fail(bpath + ".type", "'" + type + "' blocks belong in user turns.");
    } else {
      return unsupported(bpath + ".type", "content blocks of type '" + type +
                                              "' cannot be routed in the OpenAI format.");
    }
  }
  json message{{"role", "assistant"}};
  if (has_text || calls.empty()) {
    message["content"] = std::move(text);
  } else {
    message["content"] = nullptr;
  }
  if (!calls.empty()) {
    message["tool_calls"] = std::move(calls);
  }
  if (!thinking.empty()) {
    message["thinking_blocks"] = std::move(thinking);
  }
  messages.push_back(std::move(message));
  return std::nullopt;
}

Error convert_messages(const json& in, json& messages) {
  auto it = in.find("messages");
  if (it == in.end()) {
    return fail("messages", "is required.");
  }
  if (!it->is_array() || it->empty()) {
    return fail("messages", "must be a non-empty array.");
  }
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& m = (*it)[i];
    auto path = at("messages", i);
    if (!m.is_object()) {
      return fail(path, "must be an object.");
    }
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) {
      return fail(path + ".role", "is required and must be a string.");
    }
    const auto& r = role->get_ref<const std::string&>();
    if (r != "user" && r != "assistant" && r != "system") {
      return fail(path + ".role", "must be 'user', 'assistant' or 'system'.");
    }
    auto content = m.find("content");
    auto cpath = path + ".content";
    if (content == m.end() || !(content->is_string() || content->is_array())) {
      return fail(cpath, "is required and must be a string or an array of content blocks.");
    }
    if (r == "system") {  // API version 2026-10-21
      json system_content;
      if (auto e = convert_system_content(*content, cpath, system_content)) {
        return e;
      }
      messages.push_back(json{{"role", "system"}, {"content", std::move(system_content)}});
      continue;
    }
    if (content->is_string()) {
      messages.push_back(json{{"role", r}, {"content", *content}});
      continue;
    }
    if (content->empty()) {
      return fail(cpath, "must not be empty.");
    }
    auto e = r == "user" ? convert_user(*content, cpath, messages)
                         : convert_assistant(*content, cpath, messages);
    if (e) {
      return e;
    }
  }
  return std::nullopt;
}

Error convert_tools(const json& in, json& out) {
  auto it = in.find("tools");
  if (it == in.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_array()) {
    return fail("tools", "must be an array.");
  }
  json tools = json::array();
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& t = (*it)[i];
    auto path = at("tools", i);
    if (!t.is_object()) {
      return fail(path, "must be an object.");
    }
    if (auto type = t.find("type"); type != t.end() && !type->is_null() && *type != "custom") {
      return unsupported(path + ".type",
                         "server tools (" + (type->is_string() ? type->get<std::string>()
                                                              : std::string("?")) +
                             ") run at Anthropic; only client tools can be routed.");
    }
    const json* name = nullptr;
    if (auto e = required_string(t, "name", path, name, true)) {
      return e;
    }
    auto schema = t.find("input_schema");
    if (schema == t.end() || !schema->is_object()) {
      return fail(path + ".input_schema", "is required and must be a JSON Schema object.");
    }
    json function{{"name", *name}, {"parameters", *schema}};
    if (auto d = t.find("description"); d != t.end() && !d->is_null()) {
      if (!d->is_string()) {
        return fail(path + ".description", "must be a string.");
      }
      function["description"] = *d;
    }
    if (auto s = t.find("strict"); s != t.end() && s->is_boolean()) {
      function["strict"] = *s;
    }
    json tool{{"type", "function"}, {"function", std::move(function)}};
    if (auto e = copy_cache_control(t, path, tool)) {
      return e;
    }
    tools.push_back(std::move(tool));
  }
  if (!tools.empty()) {
    out["tools"] = std::move(tools);
  }
  return std::nullopt;
}

Error convert_tool_choice(const json& in, json& out) {
  auto it = in.find("tool_choice");
  if (it == in.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_object()) {
    return fail("tool_choice", "must be an object.");
  }
  auto type = it->find("type");
  if (type == it->end() || !type->is_string()) {
    return fail("tool_choice.type", "is required and must be a string.");
  }
  if (*type == "auto") {
    out["tool_choice"] = "auto";
  } else if (*type == "any") {
    out["tool_choice"] = "required";
  } else if (*type == "none") {
    out["tool_choice"] = "none";
  } else if (*type == "tool") {
    auto name = it->find("name");
    if (name == it->end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
      return fail("tool_choice.name", "is required when tool_choice.type is 'tool'.");
    }
    out["tool_choice"] = json{{"type", "function"}, {"function", json{{"name", *name}}}};
  } else {
    return fail("tool_choice.type", "must be 'auto', 'any', 'tool' or 'none'.");
  }
  if (auto d = it->find("disable_parallel_tool_use"); d != it->end() && !d->is_null()) {
    if (!d->is_boolean()) {
      return fail("tool_choice.disable_parallel_tool_use", "must be a boolean.");
    }
    if (d->get<bool>() && *type != "none") {
      out["parallel_tool_calls"] = false;
    }
  }
  return std::nullopt;
}

// thinking: {type: enabled, budget_tokens} (at least 1024 and below max_tokens, as Anthropic
// requires), {type: adaptive} or {type: disabled}. Carried as it is: only Anthropic targets can
// serve it (the others refuse it in unsupported(), so a model's other targets are skipped).
Error convert_thinking(const json& t, std::int64_t max_tokens, json& out) {
  if (!t.is_object()) {
    return fail("thinking", "must be an object.");
  }
  auto type = t.find("type");
  if (type == t.end() || !type->is_string()) {
    return fail("thinking.type", "is required and must be a string.");
  }
  if (*type == "disabled") {
    return std::nullopt;
  }
  if (*type == "enabled") {
    auto budget = t.find("budget_tokens");
    if (budget == t.end() || !budget->is_number_integer()) {
      return fail("thinking.budget_tokens", "is required and must be an integer.");
    }
    if (budget->get<std::int64_t>() < 1024 || budget->get<std::int64_t>() >= max_tokens) {
      return fail("thinking.budget_tokens", "must be at least 1024 and less than max_tokens.");
    }
  } else if (*type != "adaptive") {
    return fail("thinking.type", "must be 'enabled', 'adaptive' or 'disabled'.");
  }
  out["thinking"] = t;
  return std::nullopt;
}

Error copy_unit_number(const json& in, const char* key, json& out) {
  auto it = in.find(key);
  if (it == in.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 1) {
    return fail(key, "must be a number between 0 and 1.");
  }
  out[key] = *it;
  return std::nullopt;
}

}  // namespace

std::optional<api::GatewayError> anthropic_to_openai(const json& in, json& out) {
  if (in.is_discarded()) {
    return api::invalid_request("The request body is not valid JSON.");
  }
  if (!in.is_object()) {
    return api::invalid_request("The request body must be a JSON object.");
  }
  for (const auto& [key, value] : in.items()) {
    if (!known_field(key) && !ignorable_field(key)) {
      return unsupported(key, "it would change the answer and has no OpenAI-format equivalent.");
    }
  }
  out = json::object();
  auto model = in.find("model");
  if (model == in.end()) {
    return fail("model", "is required.");
  }
  if (!model->is_string() || model->get_ref<const std::string&>().empty()) {
    return fail("model", "must be a non-empty string.");
  }
  out["model"] = *model;

  auto max_tokens = in.find("max_tokens");
  if (max_tokens == in.end()) {
    return fail("max_tokens", "is required.");
  }
  if (!max_tokens->is_number_integer() || max_tokens->get<long long>() < 1) {
    return fail("max_tokens", "must be an integer of at least 1.");
  }

  json messages = json::array();
  if (auto s = in.find("system"); s != in.end() && !s->is_null()) {
    json system_content;
    if (auto e = convert_system_content(*s, "system", system_content)) {
      return e;
    }
    if (!(system_content.is_string() && system_content.get_ref<const std::string&>().empty()) &&
        !(system_content.is_array() && system_content.empty())) {
      messages.push_back(json{{"role", "system"}, {"content", std::move(system_content)}});
    }
  }
  if (auto e = convert_messages(in, messages)) {
    return e;
  }
  out["messages"] = std::move(messages);
  out["max_tokens"] = *max_tokens;

  if (auto s = in.find("stream"); s != in.end() && !s->is_null()) {
    if (!s->is_boolean()) {
      return fail("stream", "must be a boolean.");
    }
    out["stream"] = *s;
  }
  if (auto e = copy_unit_number(in, "temperature", out)) {
    return e;
  }
  if (auto e = copy_unit_number(in, "top_p", out)) {
    return e;
  }
  if (auto k = in.find("top_k"); k != in.end() && !k->is_null()) {
    return unsupported("top_k", "OpenAI-format targets have no top-k sampling.");
  }
  if (auto s = in.find("stop_sequences"); s != in.end() && !s->is_null()) {
    if (!s->is_array()) {
      return fail("stop_sequences", "must be an array of strings.");
    }
    for (std::size_t i = 0; i < s->size(); ++i) {
      if (!(*s)[i].is_string() || common::trim((*s)[i].get_ref<const std::string&>()).empty()) {
        return fail(at("stop_sequences", i), "must be a string that is not only whitespace.");
      }
    }
    if (!s->empty()) {
      out["stop"] = *s;
    }
  }
  if (auto e = convert_tools(in, out)) {
    return e;
  }
  if (auto e = convert_tool_choice(in, out)) {
    return e;
  }
  if (auto m = in.find("metadata"); m != in.end() && !m->is_null()) {
    if (!m->is_object()) {
      return fail("metadata", "must be an object.");
    }
    if (auto u = m->find("user_id"); u != m->end() && !u->is_null()) {
      if (!u->is_string()) {
        return fail("metadata.user_id", "must be a string.");
      }
      out["user"] = *u;
    }
  }
  if (auto t = in.find("thinking"); t != in.end() && !t->is_null()) {
    if (auto e = convert_thinking(*t, max_tokens->get<std::int64_t>(), out)) {
      return e;
    }
  }
  return std::nullopt;
}

std::optional<api::GatewayError> decode_anthropic_request(json& body) {
  json converted;
  auto error = anthropic_to_openai(body, converted);
  if (!error) {
    body = std::move(converted);
  }
  return error;
}

}  // namespace llmgw::api::anthropic
