#include "api/openai/request_validation.hpp"

#include <algorithm>
#include <array>

namespace llmgw::api::openai {
namespace {

using nlohmann::json;
using Error = std::optional<api::GatewayError>;
using api::Operation;
using api::RequestFacts;

Error fail(std::string message, std::string param) {
  return api::invalid_request(std::move(message), std::move(param));
}

std::string in_quotes(const std::string& path) { return "'" + path + "'"; }

// Where a value sits in the body. Built on the stack as the checks descend and rendered
// ("messages[1].content[0].type") only when something there is wrong: a valid body, the
// common case, costs no string at all.
class Path {
public:
  Path() = default;  // the body itself
  Path operator/(std::string_view key) const { return Path(this, key, 0, false); }
  Path operator[](std::size_t i) const { return Path(this, {}, i, true); }

  std::string str() const {
    if (!parent_) {
      return {};
    }
    auto s = parent_->str();
    if (is_index_) {
      s += '[';
      s += std::to_string(index_);
      s += ']';
    } else {
      if (!s.empty()) {
        s += '.';
      }
      s += key_;
    }
    return s;
  }

private:
  Path(const Path* parent, std::string_view key, std::size_t index, bool is_index)
      : parent_(parent), key_(key), index_(index), is_index_(is_index) {}

  const Path* parent_ = nullptr;
  std::string_view key_;
  std::size_t index_ = 0;
  bool is_index_ = false;
};

const Path kBody;

// A member that may be absent; null counts as absent (the OpenAI API's own reading).
// string_view keys: std::map's transparent comparator then compares without strlen.
const json* member(const json& object, std::string_view key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

// The top-level members the checks read, named once: the body's members are walked once and
// each later read is an array index, not a map lookup (a chat body is checked for ~40 keys,
// of which it usually has 4 or 5).
enum class Key : std::uint8_t {
  model,
  stream,
  stream_options,
  temperature,
  top_p,
  n,
  top_k,
  max_tokens,
  max_completion_tokens,
  messages,
  tools,
  tool_choice,
  stop,
  response_format,
  logit_bias,
  presence_penalty,
  frequency_penalty,
  top_logprobs,
  seed,
  logprobs,
  parallel_tool_calls,
  store,
  user,
  reasoning_effort,
  service_tier,
  audio,
  web_search_options,
  metadata,
  prediction,
  modalities,
  prompt,
  input,
  dimensions,
  encoding_format,
  count,
};

constexpr std::array<std::string_view, static_cast<std::size_t>(Key::count)> kKeyNames{{
    "model",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "n",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "messages",
    "tools",
    "tool_choice",
    "stop",
    "response_format",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "top_logprobs",
    "seed",
    "logprobs",
    "parallel_tool_calls",
    "store",
    "user",
    "reasoning_effort",
    "service_tier",
    "audio",
    "web_search_options",
    "metadata",
    "prediction",
    "modalities",
    "prompt",
    "input",
    "dimensions",
    "encoding_format",
}};

std::string_view name(Key k) { return kKeyNames[static_cast<std::size_t>(k)]; }

class Top {
public:
  explicit Top(const json& body) {
    static const auto sorted = [] {
      std::array<std::pair<std::string_view, Key>, kKeyNames.size()> table{};
      for (std::size_t i = 0; i < kKeyNames.size(); ++i) {
        table[i] = {kKeyNames[i], static_cast<Key>(i)};
      }
      std::sort(table.begin(), table.end());
      return table;
    }();
    for (const auto& [key, value] : body.get_ref<const json::object_t&>()) {
      auto it = std::lower_bound(
          sorted.begin(), sorted.end(), std::string_view(key),
          [](const auto& entry, std::string_view k) { return entry.first < k; });
      if (it != sorted.end() && it->first == key && !value.is_null()) {
        values_[static_cast<std::size_t>(it->second)] = &value;
      }
    }
  }

  // Absent or null: nullptr.
  const json* operator[](Key k) const { return values_[static_cast<std::size_t>(k)]; }

private:
  std::array<const json*, kKeyNames.size()> values_{};
};

// "'<path>' <what>", with the path as the error's param.
Error fail_at(const Path& path, const std::string& what) {
  auto p = path.str();
  return fail(in_quotes(p) + " " + what, p);
}

Error want_string_at(const json* v, const Path& at, bool required = false,
                     bool non_empty = false) {
  if (!v) {
    return required ? fail_at(at, "is required.") : std::nullopt;
  }
  if (!v->is_string() || (non_empty && v->get_ref<const std::string&>().empty())) {
    return fail_at(at, std::string("must be a ") + (non_empty ? "non-empty " : "") + "string.");
  }
  return std::nullopt;
}

Error want_string(const json& object, std::string_view key, const Path& path,
                  bool required = false, bool non_empty = false) {
  return want_string_at(member(object, key), path / key, required, non_empty);
}

Error want_bool(const Top& body, Key key) {
  const auto* v = body[key];
  if (v && !v->is_boolean()) {
    return fail_at(kBody / name(key), "must be a boolean.");
  }
  return std::nullopt;
}

Error want_object(const json& object, std::string_view key, const Path& path) {
  const auto* v = member(object, key);
  if (v && !v->is_object()) {
    return fail_at(path / key, "must be an object.");
  }
  return std::nullopt;
}

Error want_number(const Top& body, Key key, double lo, double hi) {
  const auto* v = body[key];
  if (!v) {
    return std::nullopt;
  }
  if (!v->is_number() || v->get<double>() < lo || v->get<double>() > hi) {
    return fail(in_quotes(std::string(name(key))) + " must be a number between " +
                    json(lo).dump() + " and " +
                    json(hi).dump() + ".",
                std::string(name(key)));
  }
  return std::nullopt;
}

Error want_int(const Top& body, Key key, std::int64_t lo, std::int64_t hi) {
  const auto* v = body[key];
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
    return fail(in_quotes(std::string(name(key))) + " must be an integer between " +
                    std::to_string(lo) + " and " + std::to_string(hi) + ".",
                std::string(name(key)));
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

Error check_part(const json& part, Role role, const Path& path) {
  if (!part.is_object()) {
    return fail_at(path, "must be an object.");
  }
  auto type_path = path / "type";
  auto type = part.find("type");
  if (type == part.end() || !type->is_string()) {
    return fail_at(type_path, "is required and must be a string.");
  }
  const auto& t = type->get_ref<const std::string&>();
  if (!part_allowed(role, t)) {
    return fail_at(type_path, "'" + api::echo(t, 32) +
                                  "' is not a content part this message's role may send.");
  }
  if (t == "text" || t == "refusal") {
    return want_string(part, t, path, true);
  }
  if (t == "image_url") {
    const auto* img = member(part, "image_url");
    if (img && img->is_string()) {
      return std::nullopt;  // the flattened form some clients send
    }
    auto ipath = path / "image_url";
    if (!img || !img->is_object()) {
      return fail_at(ipath, "must be an object with a 'url'.");
    }
    if (auto e = want_string(*img, "url", ipath, true, true)) {
      return e;
    }
    return want_string(*img, "detail", ipath);
  }
  if (t == "input_audio") {
    const auto* audio = member(part, "input_audio");
    auto apath = path / "input_audio";
    if (!audio || !audio->is_object()) {
      return fail_at(apath, "must be an object with 'data' and 'format'.");
    }
    if (auto e = want_string(*audio, "data", apath, true)) {
      return e;
    }
    return want_string(*audio, "format", apath, true);
  }
  // file
  const auto* file = member(part, "file");
  auto fpath = path / "file";
  if (!file || !file->is_object()) {
    return fail_at(fpath, "must be an object.");
  }
  for (const char* k : {"file_data", "file_id", "filename"}) {
    if (auto e = want_string(*file, k, fpath)) {
      return e;
    }
  }
  if (!member(*file, "file_data") && !member(*file, "file_id")) {
    return fail_at(fpath, "needs 'file_data' or 'file_id'.");
  }
  return std::nullopt;
}

Error check_tool_calls(const json& calls, const Path& path) {
  if (!calls.is_array()) {
    return fail_at(path, "must be an array.");
  }
  for (std::size_t k = 0; k < calls.size(); ++k) {
    const auto& call = calls[k];
    auto cpath = path[k];
    if (!call.is_object()) {
      return fail_at(cpath, "must be an object.");
    }
    if (auto e = want_string(call, "id", cpath, true)) {
      return e;
    }
    if (auto e = want_string(call, "type", cpath)) {
      return e;
    }
    const auto* fn = member(call, "function");
    auto fpath = cpath / "function";
    if (!fn || !fn->is_object()) {
      return fail_at(fpath, "must be an object with 'name' and 'arguments'.");
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

Error check_message(const json& m, const Path& path) {
  if (!m.is_object()) {
    return fail_at(path, "must be an object.");
  }
  auto role_it = m.find("role");
  if (role_it == m.end() || !role_it->is_string()) {
    return fail_at(path / "role", "is required and must be a string.");
  }
  auto role = parse_role(role_it->get_ref<const std::string&>());
  if (!role) {
    return fail_at(path / "role",
                   "must be one of system, developer, user, assistant, tool, function.");
  }
  const auto* content = member(m, "content");
  auto cpath = path / "content";
  if (!content) {
    if (*role != Role::assistant && *role != Role::function) {
      return fail_at(cpath, "is required for role '" + role_it->get_ref<const std::string&>() +
                                "'.");
    }
  } else if (content->is_array()) {
    if (*role == Role::function) {
      return fail_at(cpath, "must be a string for role 'function'.");
    }
    for (std::size_t j = 0; j < content->size(); ++j) {
      if (auto e = check_part((*content)[j], *role, cpath[j])) {
        return e;
      }
    }
  } else if (!content->is_string()) {
    return fail_at(cpath, "must be a string, an array of parts or null.");
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
      if (auto e = check_tool_calls(*calls, path / "tool_calls")) {
        return e;
      }
    }
    if (const auto* fc = member(m, "function_call")) {
      auto fpath = path / "function_call";
      if (!fc->is_object()) {
        return fail_at(fpath, "must be an object.");
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

Error check_tools(const Top& body) {
  const auto* tools = body[Key::tools];
  if (!tools) {
    return std::nullopt;
  }
  if (!tools->is_array()) {
    return fail("'tools' must be an array.", "tools");
  }
  const auto tools_path = kBody / "tools";
  for (std::size_t i = 0; i < tools->size(); ++i) {
    const auto& t = (*tools)[i];
    auto path = tools_path[i];
    if (!t.is_object()) {
      return fail_at(path, "must be an object.");
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
    auto fpath = path / "function";
    if (!fn || !fn->is_object()) {
      return fail_at(fpath, "must be an object.");
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
      return fail_at(fpath / "strict", "must be a boolean.");
    }
  }
  return std::nullopt;
}

Error check_tool_choice(const Top& body) {
  const auto* choice = body[Key::tool_choice];
  if (!choice || choice->is_string()) {
    return std::nullopt;
  }
  if (!choice->is_object()) {
    return fail("'tool_choice' must be a string or an object.", "tool_choice");
  }
  if (auto e = want_string(*choice, "type", kBody / "tool_choice", true)) {
    return e;
  }
  if ((*choice)["type"] == "function") {
    const auto* fn = member(*choice, "function");
    if (!fn || !fn->is_object()) {
      return fail("'tool_choice.function' must be an object with a 'name'.",
                  "tool_choice.function");
    }
    return want_string(*fn, "name", kBody / "tool_choice" / "function", true, true);
  }
  return std::nullopt;
}

Error check_stop(const Top& body) {
  const auto* stop = body[Key::stop];
  if (!stop || stop->is_string()) {
    return std::nullopt;
  }
  if (stop->is_array()) {
    for (std::size_t i = 0; i < stop->size(); ++i) {
      if (!(*stop)[i].is_string()) {
        return fail_at((kBody / "stop")[i], "must be a string.");
      }
    }
    return std::nullopt;
  }
  return fail("'stop' must be a string or an array of strings.", "stop");
}

Error check_response_format(const Top& body) {
  const auto* rf = body[Key::response_format];
  if (!rf) {
    return std::nullopt;
  }
  if (!rf->is_object()) {
    return fail("'response_format' must be an object.", "response_format");
  }
  const auto rf_path = kBody / "response_format";
  if (auto e = want_string(*rf, "type", rf_path, true)) {
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
    if (auto e = want_string(*js, "name", rf_path / "json_schema")) {
      return e;
    }
    if (auto e = want_object(*js, "schema", rf_path / "json_schema")) {
      return e;
    }
  }
  return std::nullopt;
}

Error check_logit_bias(const Top& body) {
  const auto* lb = body[Key::logit_bias];
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

Error check_chat(const Top& body) {
  const auto* messages = body[Key::messages];
  if (!messages) {
    return fail("'messages' is required.", "messages");
  }
  if (!messages->is_array() || messages->empty()) {
    return fail("'messages' must be a non-empty array.", "messages");
  }
  const auto messages_path = kBody / "messages";
  for (std::size_t i = 0; i < messages->size(); ++i) {
    if (auto e = check_message((*messages)[i], messages_path[i])) {
      return e;
    }
  }
  for (auto check : {check_tools, check_tool_choice, check_stop, check_response_format,
                     check_logit_bias}) {
    if (auto e = check(body)) {
      return e;
    }
  }
  if (auto e = want_number(body, Key::presence_penalty, -2, 2)) {
    return e;
  }
  if (auto e = want_number(body, Key::frequency_penalty, -2, 2)) {
    return e;
  }
  if (auto e = want_int(body, Key::top_logprobs, 0, 20)) {
    return e;
  }
  if (auto e = want_int(body, Key::seed, INT64_MIN, INT64_MAX)) {
    return e;
  }
  for (Key k : {Key::logprobs, Key::parallel_tool_calls, Key::store}) {
    if (auto e = want_bool(body, k)) {
      return e;
    }
  }
  for (Key k : {Key::user, Key::reasoning_effort, Key::service_tier}) {
    if (auto e = want_string_at(body[k], kBody / name(k))) {
      return e;
    }
  }
  for (Key k : {Key::audio, Key::web_search_options, Key::metadata, Key::prediction}) {
    if (const auto* v = body[k]; v && !v->is_object()) {
      return fail_at(kBody / name(k), "must be an object.");
    }
  }
  if (const auto* modalities = body[Key::modalities]) {
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
Error check_text_or_tokens(const Top& body, Key key, bool non_empty) {
  const auto* v = body[key];
  auto bad = [&] {
    return fail_at(kBody / name(key), std::string("is required and must be a ") +
                                          (non_empty ? "non-empty " : "") +
                                          "string or array (of strings, token ids or arrays "
                                          "of token ids).");
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
      return fail_at((kBody / name(key))[i],
                     "must be a string, a token id or an array of token ids.");
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<api::GatewayError> validate_request(Operation op, const json& raw,
                                                  RequestFacts* facts) {
  if (raw.is_discarded()) {
    return fail("The request body is not valid JSON.", "");
  }
  if (!raw.is_object()) {
    return fail("The request body must be a JSON object.", "");
  }
  auto model = raw.find("model");
  if (model == raw.end()) {
    return fail("'model' is required.", "model");
  }
  if (!model->is_string() || model->get_ref<const std::string&>().empty()) {
    return fail("'model' must be a non-empty string.", "model");
  }
  const Top body(raw);
  RequestFacts f;
  if (const auto* s = body[Key::stream]) {
    if (!s->is_boolean()) {
      return fail("'stream' must be a boolean.", "stream");
    }
    f.stream = s->get<bool>();
  }
  if (const auto* so = body[Key::stream_options]) {
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
  if (auto e = want_number(body, Key::temperature, 0, 2)) {
    return e;
  }
  if (auto e = want_number(body, Key::top_p, 0, 1)) {
    return e;
  }
  if (auto e = want_int(body, Key::n, 1, 128)) {
    return e;
  }
  if (auto e = want_int(body, Key::top_k, 1, 1'000'000)) {
    return e;
  }
  for (Key key : {Key::max_tokens, Key::max_completion_tokens}) {
    if (auto e = want_int(body, key, 1, INT32_MAX)) {
      return e;
    }
  }
  for (Key key : {Key::max_completion_tokens, Key::max_tokens}) {
    if (const auto* v = body[key]) {
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
      e = check_text_or_tokens(body, Key::prompt, false);
      if (!e) {
        e = check_stop(body);
      }
      break;
    case Operation::embeddings:
      if (f.stream) {
        return fail("Embeddings cannot be streamed.", "stream");
      }
      e = check_text_or_tokens(body, Key::input, true);
      if (!e) {
        e = want_int(body, Key::dimensions, 1, 1'000'000);
      }
      if (!e) {
        if (const auto* fmt = body[Key::encoding_format]) {
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

}  // namespace llmgw::api::openai
