#include "server/request_validation.hpp"

#include <array>

namespace llmgw::server {
namespace {

using nlohmann::json;
using Error = std::optional<api::GatewayError>;
using providers::Operation;

Error fail(std::string message, std::string param) {
  return api::invalid_request(std::move(message), std::move(param));
}

std::string in_quotes(const std::string& path) { return "'" + path + "'"; }

// A member that may be absent; null counts as absent (the OpenAI API's own reading).
const json* member(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string join(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

std::string index(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

Error want_string(const json& object, const char* key, const std::string& path,
                  bool required = false, bool non_empty = false) {
  const auto* v = member(object, key);
  if (!v) {
    return required ? fail(in_quotes(join(path, key)) + " is required.", join(path, key))
                    : std::nullopt;
  }
  if (!v->is_string() || (non_empty && v->get_ref<const std::string&>().empty())) {
    return fail(in_quotes(join(path, key)) + " must be a " + (non_empty ? "non-empty " : "") +
                    "string.",
                join(path, key));
  }
  return std::nullopt;
}

Error want_bool(const json& object, const char* key) {
  const auto* v = member(object, key);
  if (v && !v->is_boolean()) {
    return fail(in_quotes(key) + " must be a boolean.", key);
  }
  return std::nullopt;
}

Error want_object(const json& object, const char* key, const std::string& path) {
  const auto* v = member(object, key);
  if (v && !v->is_object()) {
    return fail(in_quotes(join(path, key)) + " must be an object.", join(path, key));
  }
  return std::nullopt;
}

Error want_number(const json& body, const char* key, double lo, double hi) {
  const auto* v = member(body, key);
  if (!v) {
    return std::nullopt;
  }
  if (!v->is_number() || v->get<double>() < lo || v->get<double>() > hi) {
    return fail(in_quotes(key) + " must be a number between " + json(lo).dump() + " and " +
                    json(hi).dump() + ".",
                key);
  }
  return std::nullopt;
}

Error want_int(const json& body, const char* key, std::int64_t lo, std::int64_t hi) {
  const auto* v = member(body, key);
  if (!v) {
    return std::nullopt;
  }
  bool ok = v->is_number_integer();
  if (ok && v->is_number_unsigned()) {
    auto n = v->get<std::uint64_t>();
    ok = n <= static_cast<std::uint64_t>(hi) && (lo <= 0 || n >= static_cast<std::uint64_t>(lo));
  } else if (ok) {
    auto n = v->get<std::int64_t>();
    ok = n >= lo && n <= hi;
  }
  if (!ok) {
    return fail(in_quotes(key) + " must be an integer between " + std::to_string(lo) + " and " +
                    std::to_string(hi) + ".",
                key);
  }
  return std::nullopt;
}

// ---- chat -----------------------------------------------------------------------------------

enum class Role { system, developer, user, assistant, tool, function };

std::optional<Role> parse_role(const std::string& r) {
  static constexpr std::array<std::pair<std::string_view, Role>, 6> kRoles{{
      {"system", Role::system},
      {"developer", Role::developer},
      {"user", Role::user},
      {"assistant", Role::assistant},
      {"tool", Role::tool},
      {"function", Role::function},
  }};
  for (const auto& [name, role] : kRoles) {
    if (r == name) {
      return role;
    }
  }
  return std::nullopt;
}

// The content-part types each role may send (the OpenAI API's own rules; the same rules the
// /v1/messages face applies to its blocks), so no target gets a part it would misread.
bool part_allowed(Role role, const std::string& type) {
  switch (role) {
    case Role::system:
    case Role::developer:
    case Role::tool:
      return type == "text";
    case Role::user:
      return type == "text" || type == "image_url" || type == "input_audio" || type == "file";
    case Role::assistant:
      return type == "text" || type == "refusal";
    case Role::function:
      return false;
  }
  return false;
}

Error check_part(const json& part, Role role, const std::string& path) {
  if (!part.is_object()) {
    return fail(in_quotes(path) + " must be an object.", path);
  }
  auto type_path = join(path, "type");
  auto type = part.find("type");
  if (type == part.end() || !type->is_string()) {
    return fail(in_quotes(type_path) + " is required and must be a string.", type_path);
  }
  const auto& t = type->get_ref<const std::string&>();
  if (!part_allowed(role, t)) {
    return fail(in_quotes(type_path) + " '" + api::echo(t, 32) +
                    "' is not a content part this message's role may send.",
                type_path);
  }
  if (t == "text" || t == "refusal") {
    return want_string(part, t.c_str(), path, true);
  }
  if (t == "image_url") {
    const auto* img = member(part, "image_url");
    if (img && img->is_string()) {
      return std::nullopt;  // the flattened form some clients send
    }
    if (!img || !img->is_object()) {
      return fail(in_quotes(join(path, "image_url")) + " must be an object with a 'url'.",
                  join(path, "image_url"));
    }
    auto ipath = join(path, "image_url");
    if (auto e = want_string(*img, "url", ipath, true, true)) {
      return e;
    }
    return want_string(*img, "detail", ipath);
  }
  if (t == "input_audio") {
    const auto* audio = member(part, "input_audio");
    auto apath = join(path, "input_audio");
    if (!audio || !audio->is_object()) {
      return fail(in_quotes(apath) + " must be an object with 'data' and 'format'.", apath);
    }
    if (auto e = want_string(*audio, "data", apath, true)) {
      return e;
    }
    return want_string(*audio, "format", apath, true);
  }
  // file
  const auto* file = member(part, "file");
  auto fpath = join(path, "file");
  if (!file || !file->is_object()) {
    return fail(in_quotes(fpath) + " must be an object.", fpath);
  }
  for (const char* k : {"file_data", "file_id", "filename"}) {
    if (auto e = want_string(*file, k, fpath)) {
      return e;
    }
  }
  if (!member(*file, "file_data") && !member(*file, "file_id")) {
    return fail(in_quotes(fpath) + " needs 'file_data' or 'file_id'.", fpath);
  }
  return std::nullopt;
}

Error check_tool_calls(const json& calls, const std::string& path) {
  if (!calls.is_array()) {
    return fail(in_quotes(path) + " must be an array.", path);
  }
  for (std::size_t k = 0; k < calls.size(); ++k) {
    const auto& call = calls[k];
    auto cpath = index(path, k);
    if (!call.is_object()) {
      return fail(in_quotes(cpath) + " must be an object.", cpath);
    }
    if (auto e = want_string(call, "id", cpath, true)) {
      return e;
    }
    if (auto e = want_string(call, "type", cpath)) {
      return e;
    }
    const auto* fn = member(call, "function");
    auto fpath = join(cpath, "function");
    if (!fn || !fn->is_object()) {
      return fail(in_quotes(fpath) + " must be an object with 'name' and 'arguments'.", fpath);
    }
    if (auto e = want_string(*fn, "name", fpath, true, true)) {
      return e;
    }
    if (auto e = want_string(*fn, "arguments", fpath, true)) {
      return e;
    }
  }
  return std::nullopt;
}

Error check_message(const json& m, std::size_t i) {
  auto path = index("messages", i);
  if (!m.is_object()) {
    return fail(in_quotes(path) + " must be an object.", path);
  }
  auto role_it = m.find("role");
  if (role_it == m.end() || !role_it->is_string()) {
    return fail(in_quotes(path + ".role") + " is required and must be a string.", path + ".role");
  }
  auto role = parse_role(role_it->get_ref<const std::string&>());
  if (!role) {
    return fail(in_quotes(path + ".role") +
                    " must be one of system, developer, user, assistant, tool, function.",
                path + ".role");
  }
  const auto* content = member(m, "content");
  auto cpath = path + ".content";
  if (!content) {
    if (*role != Role::assistant && *role != Role::function) {
      return fail(in_quotes(cpath) + " is required for role '" +
                      role_it->get_ref<const std::string&>() + "'.",
                  cpath);
    }
  } else if (content->is_array()) {
    if (*role == Role::function) {
      return fail(in_quotes(cpath) + " must be a string for role 'function'.", cpath);
    }
    for (std::size_t j = 0; j < content->size(); ++j) {
      if (auto e = check_part((*content)[j], *role, index(cpath, j))) {
        return e;
      }
    }
  } else if (!content->is_string()) {
    return fail(in_quotes(cpath) + " must be a string, an array of parts or null.", cpath);
  }
  if (auto e = want_string(m, "name", path)) {
    return e;
  }
  if (*role == Role::tool) {
    if (auto e = want_string(m, "tool_call_id", path, true)) {
      return e;
    }
  }
  if (*role == Role::assistant) {
    if (const auto* calls = member(m, "tool_calls")) {
      if (auto e = check_tool_calls(*calls, path + ".tool_calls")) {
        return e;
      }
    }
    if (const auto* fc = member(m, "function_call")) {
      auto fpath = path + ".function_call";
      if (!fc->is_object()) {
        return fail(in_quotes(fpath) + " must be an object.", fpath);
      }
      if (auto e = want_string(*fc, "name", fpath, true)) {
        return e;
      }
      if (auto e = want_string(*fc, "arguments", fpath)) {
        return e;
      }
    }
    if (auto e = want_string(m, "refusal", path)) {
      return e;
    }
  }
  return std::nullopt;
}

Error check_tools(const json& body) {
  const auto* tools = member(body, "tools");
  if (!tools) {
    return std::nullopt;
  }
  if (!tools->is_array()) {
    return fail("'tools' must be an array.", "tools");
  }
  for (std::size_t i = 0; i < tools->size(); ++i) {
    const auto& t = (*tools)[i];
    auto path = index("tools", i);
    if (!t.is_object()) {
      return fail(in_quotes(path) + " must be an object.", path);
    }
    if (auto e = want_string(t, "type", path, true)) {
      return e;
    }
    if (auto e = want_object(t, "cache_control", path)) {
      return e;
    }
    if (t["type"] != "function") {
      continue;  // other tool kinds: the adapters decide whether they can serve them
    }
    const auto* fn = member(t, "function");
    auto fpath = path + ".function";
    if (!fn || !fn->is_object()) {
      return fail(in_quotes(fpath) + " must be an object.", fpath);
    }
    if (auto e = want_string(*fn, "name", fpath, true, true)) {
      return e;
    }
    if (auto e = want_string(*fn, "description", fpath)) {
      return e;
    }
    if (auto e = want_object(*fn, "parameters", fpath)) {
      return e;
    }
    if (const auto* strict = member(*fn, "strict"); strict && !strict->is_boolean()) {
      return fail(in_quotes(fpath + ".strict") + " must be a boolean.", fpath + ".strict");
    }
  }
  return std::nullopt;
}

Error check_tool_choice(const json& body) {
  const auto* choice = member(body, "tool_choice");
  if (!choice || choice->is_string()) {
    return std::nullopt;
  }
  if (!choice->is_object()) {
    return fail("'tool_choice' must be a string or an object.", "tool_choice");
  }
  if (auto e = want_string(*choice, "type", "tool_choice", true)) {
    return e;
  }
  if ((*choice)["type"] == "function") {
    const auto* fn = member(*choice, "function");
    if (!fn || !fn->is_object()) {
      return fail("'tool_choice.function' must be an object with a 'name'.",
                  "tool_choice.function");
    }
    return want_string(*fn, "name", "tool_choice.function", true, true);
  }
  return std::nullopt;
}

Error check_stop(const json& body) {
  const auto* stop = member(body, "stop");
  if (!stop || stop->is_string()) {
    return std::nullopt;
  }
  if (stop->is_array()) {
    for (std::size_t i = 0; i < stop->size(); ++i) {
      if (!(*stop)[i].is_string()) {
        return fail(in_quotes(index("stop", i)) + " must be a string.", index("stop", i));
      }
    }
    return std::nullopt;
  }
  return fail("'stop' must be a string or an array of strings.", "stop");
}

Error check_response_format(const json& body) {
  const auto* rf = member(body, "response_format");
  if (!rf) {
    return std::nullopt;
  }
  if (!rf->is_object()) {
    return fail("'response_format' must be an object.", "response_format");
  }
  if (auto e = want_string(*rf, "type", "response_format", true)) {
    return e;
  }
  const auto& type = (*rf)["type"].get_ref<const std::string&>();
  if (type != "text" && type != "json_object" && type != "json_schema") {
    return fail("'response_format.type' must be text, json_object or json_schema.",
                "response_format.type");
  }
  if (type == "json_schema") {
    const auto* js = member(*rf, "json_schema");
    if (!js || !js->is_object()) {
      return fail("'response_format.json_schema' must be an object.",
                  "response_format.json_schema");
    }
    if (auto e = want_string(*js, "name", "response_format.json_schema")) {
      return e;
    }
    if (auto e = want_object(*js, "schema", "response_format.json_schema")) {
      return e;
    }
  }
  return std::nullopt;
}

Error check_logit_bias(const json& body) {
  const auto* lb = member(body, "logit_bias");
  if (!lb) {
    return std::nullopt;
  }
  if (!lb->is_object()) {
    return fail("'logit_bias' must be an object of token ids to numbers.", "logit_bias");
  }
  for (const auto& [token, bias] : lb->items()) {
    if (!bias.is_number() || bias.get<double>() < -100 || bias.get<double>() > 100) {
      return fail("'logit_bias' values must be numbers between -100 and 100.", "logit_bias");
    }
  }
  return std::nullopt;
}

Error check_chat(const json& body) {
  const auto* messages = member(body, "messages");
  if (!messages) {
    return fail("'messages' is required.", "messages");
  }
  if (!messages->is_array() || messages->empty()) {
    return fail("'messages' must be a non-empty array.", "messages");
  }
  for (std::size_t i = 0; i < messages->size(); ++i) {
    if (auto e = check_message((*messages)[i], i)) {
      return e;
    }
  }
  for (auto check : {check_tools, check_tool_choice, check_stop, check_response_format,
                     check_logit_bias}) {
    if (auto e = check(body)) {
      return e;
    }
  }
  if (auto e = want_number(body, "presence_penalty", -2, 2)) {
    return e;
  }
  if (auto e = want_number(body, "frequency_penalty", -2, 2)) {
    return e;
  }
  if (auto e = want_int(body, "top_logprobs", 0, 20)) {
    return e;
  }
  if (auto e = want_int(body, "seed", INT64_MIN, INT64_MAX)) {
    return e;
  }
  for (const char* k : {"logprobs", "parallel_tool_calls", "store"}) {
    if (auto e = want_bool(body, k)) {
      return e;
    }
  }
  for (const char* k : {"user", "reasoning_effort", "service_tier"}) {
    if (auto e = want_string(body, k, "")) {
      return e;
    }
  }
  for (const char* k : {"audio", "web_search_options", "metadata", "prediction"}) {
    if (auto e = want_object(body, k, "")) {
      return e;
    }
  }
  if (const auto* modalities = member(body, "modalities")) {
    if (!modalities->is_array()) {
      return fail("'modalities' must be an array of strings.", "modalities");
    }
    for (const auto& m : *modalities) {
      if (!m.is_string()) {
        return fail("'modalities' must be an array of strings.", "modalities");
      }
    }
  }
  return std::nullopt;
}

// A prompt or an embeddings input: a string, or an array of strings, token ids or arrays of
// token ids.
Error check_text_or_tokens(const json& body, const char* key, bool non_empty) {
  const auto* v = member(body, key);
  auto bad = [&] {
    return fail(in_quotes(key) + " is required and must be a " + (non_empty ? "non-empty " : "") +
                    "string or array (of strings, token ids or arrays of token ids).",
                key);
  };
  if (!v) {
    return bad();
  }
  if (v->is_string()) {
    return non_empty && v->get_ref<const std::string&>().empty() ? bad() : std::nullopt;
  }
  if (!v->is_array() || (non_empty && v->empty())) {
    return bad();
  }
  for (std::size_t i = 0; i < v->size(); ++i) {
    const auto& item = (*v)[i];
    bool ok = item.is_string() || item.is_number_integer();
    if (item.is_array()) {
      ok = true;
      for (const auto& token : item) {
        ok = ok && token.is_number_integer();
      }
    }
    if (!ok) {
      return fail(in_quotes(index(key, i)) + " must be a string, a token id or an array of token ids.",
                  index(key, i));
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<api::GatewayError> validate_request(Operation op, const json& body,
                                                  RequestFacts* facts) {
  if (body.is_discarded()) {
    return fail("The request body is not valid JSON.", "");
  }
  if (!body.is_object()) {
    return fail("The request body must be a JSON object.", "");
  }
  auto model = body.find("model");
  if (model == body.end()) {
    return fail("'model' is required.", "model");
  }
  if (!model->is_string() || model->get_ref<const std::string&>().empty()) {
    return fail("'model' must be a non-empty string.", "model");
  }
  RequestFacts f;
  if (const auto* s = member(body, "stream")) {
    if (!s->is_boolean()) {
      return fail("'stream' must be a boolean.", "stream");
    }
    f.stream = s->get<bool>();
  }
  if (const auto* so = member(body, "stream_options")) {
    if (!so->is_object()) {
      return fail("'stream_options' must be an object.", "stream_options");
    }
    if (!f.stream) {
      return fail("'stream_options' is only allowed when 'stream' is true.", "stream_options");
    }
    if (const auto* iu = member(*so, "include_usage")) {
      if (!iu->is_boolean()) {
        return fail("'stream_options.include_usage' must be a boolean.",
                    "stream_options.include_usage");
      }
      f.include_usage = iu->get<bool>();
    }
  }
  if (auto e = want_number(body, "temperature", 0, 2)) {
    return e;
  }
  if (auto e = want_number(body, "top_p", 0, 1)) {
    return e;
  }
  if (auto e = want_int(body, "n", 1, 128)) {
    return e;
  }
  if (auto e = want_int(body, "top_k", 1, 1'000'000)) {
    return e;
  }
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (auto e = want_int(body, key, 1, INT32_MAX)) {
      return e;
    }
  }
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (const auto* v = member(body, key)) {
      f.max_output_tokens = v->get<std::uint64_t>();
      break;
    }
  }
  Error e;
  switch (op) {
    case Operation::chat:
      e = check_chat(body);
      break;
    case Operation::completions:
      e = check_text_or_tokens(body, "prompt", false);
      if (!e) {
        e = check_stop(body);
      }
      break;
    case Operation::embeddings:
      if (f.stream) {
        return fail("Embeddings cannot be streamed.", "stream");
      }
      e = check_text_or_tokens(body, "input", true);
      if (!e) {
        e = want_int(body, "dimensions", 1, 1'000'000);
      }
      if (!e) {
        if (const auto* fmt = member(body, "encoding_format")) {
          if (!fmt->is_string() || (*fmt != "float" && *fmt != "base64")) {
            return fail("'encoding_format' must be 'float' or 'base64'.", "encoding_format");
          }
          f.base64_embeddings = *fmt == "base64";
        }
      }
      break;
  }
  if (e) {
    return e;
  }
  if (facts) {
    *facts = f;
  }
  return std::nullopt;
}

}  // namespace llmgw::server
