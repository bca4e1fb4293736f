#include "providers/gemini/gemini_adapter.hpp"
#include "providers/sse_stream_translator.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <vector>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/sse.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::providers {
namespace {

using json = nlohmann::json;
// Everything we emit or read from Gemini keeps key order: clients see OpenAI's field order and
// function-call arguments keep the order the model wrote them in.
using ojson = nlohmann::ordered_json;

// Google's documented placeholder for history whose signature is unknown (turns another
// provider produced, or clients that dropped extra_content): Gemini 3 rejects a function-call
// turn that carries no signature at all.
constexpr const char* kSkipSignature = "skip_thought_signature_validator";
// When the upstream does not name its model (older responses), chunks still need a model.
constexpr const char* kDefaultModel = "gemini";
// Bounds recursion through $ref cycles and absurdly nested client schemas.
constexpr std::size_t kMaxSchemaDepth = 32;

// ---------------------------------------------------------------------------------------------
// Small JSON helpers (no exceptions: parse with allow_exceptions = false, dump with replace).

template <class J>
const J* get(const J& j, const char* key) {
  if (!j.is_object()) {
    return nullptr;
  }
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

template <class J>
std::string get_string(const J& j, const char* key) {
  const J* v = get(j, key);
  return v && v->is_string() ? v->template get<std::string>() : std::string();
}

template <class J>
bool get_true(const J& j, const char* key) {
  const J* v = get(j, key);
  return v && v->is_boolean() && v->template get<bool>();
}

template <class J>
std::uint64_t get_count(const J& j, const char* key) {
  const J* v = get(j, key);
  if (!v || !v->is_number()) {
    return 0;
  }
  double d = v->template get<double>();
  // Upstream numbers: no cast past the range (1e15 tokens is absurd already).
  return d > 0 && std::isfinite(d) ? static_cast<std::uint64_t>(std::min(d, 1e15)) : 0;
}

std::string dump(const ojson& j) {
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

long long now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string why_not(std::string_view what, const config::ProviderConfig& provider) {
  return std::string(what) + " is not supported by gemini provider '" + provider.name + "'";
}

// "gemini-2.5-flash" or "models/gemini-2.5-flash" → "gemini-2.5-flash".
std::string model_id(std::string_view model) {
  if (starts_with(model, "models/")) {
    model.remove_prefix(7);
  }
  return std::string(model);
}

// ---------------------------------------------------------------------------------------------
// Request rendering: OpenAI chat request → GenerateContentRequest.

// The text of a message's content: the string itself, or its text (and refusal) parts joined.
std::string content_text(const json* content) {
  if (!content) {
    return {};
  }
  if (content->is_string()) {
    return content->get<std::string>();
  }
  std::string out;
  if (content->is_array()) {
    for (const auto& p : *content) {
      auto type = get_string(p, "type");
      if (type == "text" || type == "refusal") {
        out += get_string(p, type.c_str());
      }
    }
  }
  return out;
}

std::string mime_from_name(std::string_view name, std::string_view fallback) {
  name = name.substr(0, name.find_first_of("?#"));
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || name.find('/', dot) != std::string_view::npos) {
    return std::string(fallback);
  }
  auto ext = common::to_lower(name.substr(dot + 1));
  static const std::array<std::pair<std::string_view, std::string_view>, 16> kTypes{{
      {"png", "image/png"},        {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},
      {"webp", "image/webp"},      {"gif", "image/gif"},       {"heic", "image/heic"},
      {"heif", "image/heif"},      {"pdf", "application/pdf"}, {"wav", "audio/wav"},
      {"mp3", "audio/mp3"},        {"flac", "audio/flac"},     {"ogg", "audio/ogg"},
      {"mp4", "video/mp4"},        {"txt", "text/plain"},      {"csv", "text/csv"},
      {"json", "application/json"},
  }};
  for (const auto& [e, type] : kTypes) {
    if (ext == e) {
      return std::string(type);
    }
  }
  return std::string(fallback);
}

// data:<mime>[;base64],<payload> → {mimeType, data}; nullopt when `url` is no data URL.
std::optional<ojson> inline_data(std::string_view url, std::string_view fallback_mime) {
  if (!starts_with(url, "data:")) {
    return std::nullopt;
  }
  auto comma = url.find(',');
  if (comma == std::string_view::npos) {
    return std::nullopt;
  }
  auto meta = url.substr(5, comma - 5);
  auto payload = url.substr(comma + 1);
  bool base64 = ends_with(meta, ";base64");
  auto mime = meta.substr(0, meta.find(';'));
  ojson d = ojson::object();
  d["mimeType"] = mime.empty() ? std::string(fallback_mime) : std::string(mime);
  // A plain (non-base64) data URL is rare; Gemini wants base64 bytes either way.
  d["data"] = base64 ? std::string(payload) : common::base64_encode(payload);
  return d;
}

// One OpenAI user content part as a Gemini part; nullopt when there is nothing to send.
std::optional<ojson> user_part(const json& p) {
  auto type = get_string(p, "type");
  ojson part = ojson::object();
  if (type == "text") {
    auto text = get_string(p, "text");
    if (text.empty()) {
      return std::nullopt;  // Gemini rejects empty text parts
    }
    part["text"] = std::move(text);
    return part;
  }
  if (type == "image_url") {
    const json* image = get(p, "image_url");
    std::string url;
    if (image && image->is_string()) {
      url = image->get<std::string>();
    } else if (image) {
      url = get_string(*image, "url");
    }
    if (auto d = inline_data(url, "image/png")) {
      part["inlineData"] = std::move(*d);
    } else if (!url.empty()) {
      ojson f = ojson::object();
      f["mimeType"] = mime_from_name(url, "image/*");
      f["fileUri"] = url;
      part["fileData"] = std::move(f);
    } else {
      return std::nullopt;
    }
    return part;
  }
  if (type == "input_audio") {
    const json* audio = get(p, "input_audio");
    if (!audio) {
      return std::nullopt;
    }
    auto format = get_string(*audio, "format");
    ojson d = ojson::object();
    d["mimeType"] = "audio/" + (format.empty() ? std::string("wav") : format);
    d["data"] = get_string(*audio, "data");
    part["inlineData"] = std::move(d);
    return part;
  }
  if (type == "file") {
    const json* file = get(p, "file");
    if (!file) {
      return std::nullopt;
    }
    auto data = get_string(*file, "file_data");
    if (data.empty()) {
      return std::nullopt;  // file_id: refused by unsupported()
    }
    auto mime = mime_from_name(get_string(*file, "filename"), "application/pdf");
    if (auto d = inline_data(data, mime)) {
      part["inlineData"] = std::move(*d);
    } else {
      ojson d2 = ojson::object();
      d2["mimeType"] = mime;
      d2["data"] = std::move(data);
      part["inlineData"] = std::move(d2);
    }
    return part;
  }
  return std::nullopt;
}

// Appends parts to the conversation, merging into the previous content when the role repeats
// (Gemini wants alternating turns; OpenAI allows e.g. several tool messages in a row).
void append_content(ojson& contents, const char* role, ojson parts) {
  if (parts.empty()) {
    return;  // Gemini rejects a content without parts
  }
  if (!contents.empty() && contents.back()["role"] == role) {
    for (auto& p : parts) {
      contents.back()["parts"].push_back(std::move(p));
    }
    return;
  }
  ojson c = ojson::object();
  c["role"] = role;
  c["parts"] = std::move(parts);
  contents.push_back(std::move(c));
}

// functionCall.args must be an object; OpenAI carries arguments as a JSON string.
// Client text parsed a second time: bounded like the body it came in.
ojson call_args(const std::string& arguments) {
  auto args = parse_upstream_ordered_json(arguments);
  return args.is_object() ? args : ojson::object();
}

std::string thought_signature(const json& tool_call) {
  const json* extra = get(tool_call, "extra_content");
  const json* google = extra ? get(*extra, "google") : nullptr;
  return google ? get_string(*google, "thought_signature") : std::string();
}

void add_assistant(const json& m, ojson& contents,
                   std::unordered_map<std::string, std::string>& call_names) {
  ojson parts = ojson::array();
  auto text = content_text(get(m, "content"));
  if (!text.empty()) {
    ojson t = ojson::object();
    t["text"] = std::move(text);
    parts.push_back(std::move(t));
  }
  bool any_signature = false;
  std::size_t first_call = parts.size();
  auto add_call = [&](const std::string& name, const std::string& arguments,
                      const std::string& signature) {
    ojson fc = ojson::object();
    fc["name"] = name;
    fc["args"] = call_args(arguments);
    ojson part = ojson::object();
    part["functionCall"] = std::move(fc);
    if (!signature.empty()) {
      part["thoughtSignature"] = signature;
      any_signature = true;
    }
    parts.push_back(std::move(part));
  };
  if (const json* calls = get(m, "tool_calls"); calls && calls->is_array()) {
    for (const auto& tc : *calls) {
      const json* fn = get(tc, "function");
      if (!fn) {
        continue;
      }
      auto name = get_string(*fn, "name");
      call_names[get_string(tc, "id")] = name;
      add_call(name, get_string(*fn, "arguments"), thought_signature(tc));
    }
  }
  if (const json* fc = get(m, "function_call"); fc && fc->is_object()) {  // legacy functions
    add_call(get_string(*fc, "name"), get_string(*fc, "arguments"), {});
  }
  if (!any_signature && first_call < parts.size()) {
    parts[first_call]["thoughtSignature"] = kSkipSignature;
  }
  append_content(contents, "model", std::move(parts));
}

// A tool result as a functionResponse part; Gemini wants an object, so the content goes under
// "result" (as parsed JSON when it is JSON, else as the string).
ojson function_response(const std::string& name, const json* content) {
  auto text = content_text(content);
  auto result = parse_upstream_ordered_json(text);  // bounded: client text
  ojson response = ojson::object();
  response["result"] = result.is_discarded() ? ojson(text) : std::move(result);
  ojson fr = ojson::object();
  fr["name"] = name;
  fr["response"] = std::move(response);
  ojson part = ojson::object();
  part["functionResponse"] = std::move(fr);
  ojson parts = ojson::array();
  parts.push_back(std::move(part));
  return parts;
}

bool is_schema_key(std::string_view key) {
  // Gemini's Schema (an OpenAPI subset); anything else (additionalProperties, $schema, strict,
  // examples, patternProperties, ...) is answered with 400 "Unknown name".
  static constexpr std::array<std::string_view, 14> kKeys{
      "title",         "description",   "nullable",  "maxItems",  "minItems",
      "minProperties", "maxProperties", "minLength", "maxLength", "pattern",
      "example",       "minimum",       "maximum",   "default"};
  for (auto k : kKeys) {
    if (k == key) {
      return true;
    }
  }
  return key == "propertyOrdering";
}

// Gemini accepts only these formats; others (uri, email, ...) are answered with 400.
bool is_supported_format(std::string_view format) {
  return format == "enum" || format == "date-time" || format == "int32" || format == "int64" ||
         format == "float" || format == "double";
}

// Inlining $ref can multiply a schema: a $defs node whose properties refer back to it grows as
// k^depth. The budget caps the nodes one schema may produce, so a hostile schema costs
// bounded work (and is refused in unsupported()), whatever kMaxSchemaDepth allows.
constexpr std::size_t kMaxSchemaNodes = 4096;

struct SchemaContext {
  const json& root;
  std::size_t nodes = 0;
  bool exhausted() const { return nodes > kMaxSchemaNodes; }
};

ojson sanitize_schema(const json& schema, SchemaContext& ctx, std::size_t depth);

ojson sanitize_schema(const json& schema) {
  SchemaContext ctx{schema};
  return sanitize_schema(schema, ctx, 0);
}

bool schema_too_large(const json& schema) {
  SchemaContext ctx{schema};
  sanitize_schema(schema, ctx, 0);
  return ctx.exhausted();
}

// Local references are inlined: the schema subset has no $ref (pydantic emits $defs).
const json* resolve_ref(const json& schema, const json& root) {
  auto ref = get_string(schema, "$ref");
  if (!starts_with(ref, "#/")) {
    return nullptr;
  }
  const json* at = &root;
  std::string_view rest(ref);
  rest.remove_prefix(2);
  while (!rest.empty()) {
    auto slash = rest.find('/');
    auto token = std::string(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    at = get(*at, token.c_str());
    if (!at) {
      return nullptr;
    }
  }
  return at;
}

void merge_into(ojson& out, ojson other) {
  for (auto& [k, v] : other.items()) {
    if (!out.contains(k)) {
      out[k] = std::move(v);
    }
  }
}

ojson sanitize_schema(const json& schema, SchemaContext& ctx, std::size_t depth) {
  ojson out = ojson::object();
  if (!schema.is_object() || depth > kMaxSchemaDepth || ++ctx.nodes > kMaxSchemaNodes) {
    return out;
  }
  const json& root = ctx.root;
  if (const json* target = resolve_ref(schema, root)) {
    out = sanitize_schema(*target, ctx, depth + 1);
    if (auto d = get_string(schema, "description"); !d.empty()) {
      out["description"] = d;
    }
    return out;
  }
  for (const auto& [key, value] : schema.items()) {
    if (key == "type") {
      if (value.is_array()) {  // ["string", "null"] → string, nullable
        for (const auto& t : value) {
          if (t == "null") {
            out["nullable"] = true;
          } else if (!out.contains("type") && t.is_string()) {
            out["type"] = t;
          }
        }
      } else {
        out["type"] = ojson(value);
      }
    } else if (key == "properties" && value.is_object()) {
      ojson props = ojson::object();
      for (const auto& [name, sub] : value.items()) {
        props[name] = sanitize_schema(sub, ctx, depth + 1);
      }
      if (!props.empty()) {  // "properties: should be non-empty for OBJECT type"
        out["properties"] = std::move(props);
      }
    } else if (key == "items") {
      const json& item = value.is_array() && !value.empty() ? value[0] : value;
      out["items"] = sanitize_schema(item, ctx, depth + 1);
    } else if ((key == "anyOf" || key == "oneOf") && value.is_array()) {
      // oneOf has no equivalent; anyOf is the closest. {type: null} alternatives (pydantic's
      // Optional) become nullable.
      ojson alternatives = ojson::array();
      for (const auto& alt : value) {
        if (alt.is_object() && alt.size() == 1 && alt.contains("type") && alt["type"] == "null") {
          out["nullable"] = true;
        } else {
          alternatives.push_back(sanitize_schema(alt, ctx, depth + 1));
        }
      }
      if (alternatives.size() == 1) {
        merge_into(out, std::move(alternatives[0]));
      } else if (!alternatives.empty()) {
        out["anyOf"] = std::move(alternatives);
      }
    } else if (key == "allOf" && value.is_array() && value.size() == 1) {
      merge_into(out, sanitize_schema(value[0], ctx, depth + 1));
    } else if (key == "const") {
      out["enum"] = ojson::array({ojson(value)});
    } else if (key == "enum" || key == "required") {
      out[key] = ojson(value);
    } else if (key == "format") {
      if (value.is_string() && is_supported_format(value.get<std::string>())) {
        out["format"] = ojson(value);
      }
    } else if (is_schema_key(key)) {
      out[key] = ojson(value);
    }
  }
  // Gemini's enum is for strings only; other values ({"enum": [1, 2]}) are answered with 400.
  // Keep the constraint as guidance in the description rather than dropping it silently.
  if (auto it = out.find("enum"); it != out.end()) {
    bool strings = it->is_array() && std::all_of(it->begin(), it->end(),
                                                 [](const ojson& v) { return v.is_string(); });
    if (!strings) {
      std::string allowed = "Allowed values: ";
      for (std::size_t i = 0; it->is_array() && i < it->size(); ++i) {
        allowed += (i ? ", " : "") + dump((*it)[i]);
      }
      auto description = get_string(out, "description");
      out["description"] = description.empty() ? allowed : description + " (" + allowed + ")";
      out.erase("enum");
    } else if (!out.contains("type")) {
      out["type"] = "string";  // a bare const/enum: Gemini wants the type spelled out
    }
  }
  return out;
}

// snake_case keys → camelCase (Google's OpenAI-compatible extension fields are snake_case).
ojson camel_keys(const json& j) {
  if (j.is_object()) {
    ojson out = ojson::object();
    for (const auto& [key, value] : j.items()) {
      std::string k;
      bool upper = false;
      for (char c : key) {
        if (c == '_') {
          upper = true;
        } else {
          k += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
          upper = false;
        }
      }
      out[k] = camel_keys(value);
    }
    return out;
  }
  if (j.is_array()) {
    ojson out = ojson::array();
    for (const auto& v : j) {
      out.push_back(camel_keys(v));
    }
    return out;
  }
  return ojson(j);
}

// Provider extras: `google` at the top level (openai-python's extra_body merges there) or under
// `extra_body.google` (the form Google documents for its OpenAI-compatible endpoint).
const json* google_extras(const json& body) {
  if (const json* g = get(body, "google"); g && g->is_object()) {
    return g;
  }
  const json* extra = get(body, "extra_body");
  const json* g = extra ? get(*extra, "google") : nullptr;
  return g && g->is_object() ? g : nullptr;
}

std::optional<std::uint64_t> thinking_budget(std::string_view effort) {
  // Google's own mapping for its OpenAI-compatible endpoint.
  if (effort == "none") {
    return 0;
  }
  if (effort == "minimal" || effort == "low") {
    return 1024;
  }
  if (effort == "medium") {
    return 8192;
  }
  if (effort == "high") {
    return 24576;
  }
  return std::nullopt;
}

ojson generation_config(const json& body) {
  ojson gen = ojson::object();
  if (const json* v = get(body, "temperature")) {
    gen["temperature"] = ojson(*v);
  }
  if (const json* v = get(body, "top_p")) {
    gen["topP"] = ojson(*v);
  }
  if (const json* v = get(body, "top_k")) {
    gen["topK"] = ojson(*v);
  }
  if (const json* v = get(body, "max_completion_tokens")) {
    gen["maxOutputTokens"] = ojson(*v);
  } else if (const json* v2 = get(body, "max_tokens")) {
    gen["maxOutputTokens"] = ojson(*v2);
  }
  if (const json* v = get(body, "stop")) {
    if (v->is_string()) {
      gen["stopSequences"] = ojson::array({ojson(*v)});
    } else if (v->is_array() && !v->empty()) {
      gen["stopSequences"] = ojson(*v);
    }
  }
  if (const json* v = get(body, "n"); v && v->is_number_integer() && v->get<long long>() > 1) {
    gen["candidateCount"] = ojson(*v);
  }
  // Zero is the default; sending it anyway would fail on models without penalty support.
  if (const json* v = get(body, "presence_penalty"); v && v->is_number() && *v != 0) {
    gen["presencePenalty"] = ojson(*v);
  }
  if (const json* v = get(body, "frequency_penalty"); v && v->is_number() && *v != 0) {
    gen["frequencyPenalty"] = ojson(*v);
  }
  if (const json* v = get(body, "seed")) {
    gen["seed"] = ojson(*v);
  }
  if (const json* rf = get(body, "response_format"); rf && rf->is_object()) {
    auto type = get_string(*rf, "type");
    if (type == "json_object" || type == "json_schema") {
      gen["responseMimeType"] = "application/json";
    }
    const json* js = type == "json_schema" ? get(*rf, "json_schema") : nullptr;
    if (const json* schema = js ? get(*js, "schema") : nullptr) {
      gen["responseSchema"] = sanitize_schema(*schema);
    }
  }
  if (auto budget = thinking_budget(get_string(body, "reasoning_effort"))) {
    gen["thinkingConfig"]["thinkingBudget"] = *budget;
  }
  if (const json* g = google_extras(body)) {
    if (const json* tc = get(*g, "thinking_config")) {
      gen["thinkingConfig"] = camel_keys(*tc);  // explicit config wins over reasoning_effort
    }
  }
  return gen;
}

// tool_choice → functionCallingConfig. `only` receives the names allowed_tools narrows the
// declarations to (exact semantics: the model cannot call what it is not shown).
std::optional<ojson> calling_config(const json& choice, std::vector<std::string>& only) {
  ojson cfg = ojson::object();
  if (choice.is_string()) {
    auto c = choice.get<std::string>();
    if (c == "auto") {
      cfg["mode"] = "AUTO";
    } else if (c == "none") {
      cfg["mode"] = "NONE";
    } else if (c == "required") {
      cfg["mode"] = "ANY";
    } else {
      return std::nullopt;
    }
    return cfg;
  }
  if (!choice.is_object()) {
    return std::nullopt;
  }
  auto type = get_string(choice, "type");
  if (type == "function") {
    const json* fn = get(choice, "function");
    cfg["mode"] = "ANY";
    cfg["allowedFunctionNames"] = ojson::array({fn ? get_string(*fn, "name") : std::string()});
    return cfg;
  }
  if (type == "allowed_tools") {
    const json* at = get(choice, "allowed_tools");
    if (!at) {
      return std::nullopt;
    }
    if (const json* tools = get(*at, "tools"); tools && tools->is_array()) {
      for (const auto& t : *tools) {
        const json* fn = get(t, "function");
        only.push_back(fn ? get_string(*fn, "name") : get_string(t, "name"));
      }
    }
    cfg["mode"] = get_string(*at, "mode") == "required" ? "ANY" : "AUTO";
    return cfg;
  }
  return std::nullopt;
}

ojson function_declarations(const json& tools, const std::vector<std::string>& only) {
  ojson decls = ojson::array();
  for (const auto& t : tools) {
    const json* fn = get(t, "function");
    if (!fn) {
      continue;
    }
    auto name = get_string(*fn, "name");
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) {
      continue;
    }
    ojson d = ojson::object();
    d["name"] = name;
    if (auto desc = get_string(*fn, "description"); !desc.empty()) {
      d["description"] = std::move(desc);
    }
    if (const json* params = get(*fn, "parameters")) {
      auto p = sanitize_schema(*params);
      // An object without properties is rejected; a function without parameters is not.
      if (p.contains("properties") || (p.contains("type") && p["type"] != "object")) {
        d["parameters"] = std::move(p);
      }
    }
    decls.push_back(std::move(d));
  }
  return decls;
}

ojson chat_request(const json& body) {
  ojson out = ojson::object();
  ojson system = ojson::array();
  ojson contents = ojson::array();
  // tool_call id → function name; later calls overwrite earlier ones, so a tool message finds
  // the nearest preceding call even if ids repeat across turns.
  std::unordered_map<std::string, std::string> call_names;
  if (const json* messages = get(body, "messages"); messages && messages->is_array()) {
    for (const auto& m : *messages) {
      auto role = get_string(m, "role");
      const json* content = get(m, "content");
      if (role == "system" || role == "developer") {
        if (auto text = content_text(content); !text.empty()) {
          ojson t = ojson::object();
          t["text"] = std::move(text);
          system.push_back(std::move(t));
        }
      } else if (role == "user") {
        ojson parts = ojson::array();
        if (content && content->is_string()) {
          if (auto p = user_part(json{{"type", "text"}, {"text", *content}})) {
            parts.push_back(std::move(*p));
          }
        } else if (content && content->is_array()) {
          for (const auto& p : *content) {
            if (auto part = user_part(p)) {
              parts.push_back(std::move(*part));
            }
          }
        }
        append_content(contents, "user", std::move(parts));
      } else if (role == "assistant") {
        add_assistant(m, contents, call_names);
      } else if (role == "tool") {
        auto id = get_string(m, "tool_call_id");
        auto it = call_names.find(id);
        append_content(contents, "user",
                       function_response(it != call_names.end() ? it->second : id, content));
      } else if (role == "function") {  // legacy functions API
        append_content(contents, "user", function_response(get_string(m, "name"), content));
      }
    }
  }
  if (!system.empty()) {
    out["systemInstruction"]["parts"] = std::move(system);
  }
  out["contents"] = std::move(contents);
  std::vector<std::string> only;
  std::optional<ojson> calling;
  if (const json* choice = get(body, "tool_choice")) {
    calling = calling_config(*choice, only);
  }
  if (const json* tools = get(body, "tools"); tools && tools->is_array()) {
    auto decls = function_declarations(*tools, only);
    if (!decls.empty()) {
      ojson t = ojson::object();
      t["functionDeclarations"] = std::move(decls);
      out["tools"] = ojson::array({std::move(t)});
    }
  }
  if (calling) {
    out["toolConfig"]["functionCallingConfig"] = std::move(*calling);
  }
  auto gen = generation_config(body);
  if (!gen.empty()) {
    out["generationConfig"] = std::move(gen);
  }
  if (const json* g = google_extras(body)) {
    if (const json* s = get(*g, "safety_settings")) {
      out["safetySettings"] = camel_keys(*s);
    }
    if (auto cached = get_string(*g, "cached_content"); !cached.empty()) {
      out["cachedContent"] = std::move(cached);
    }
  }
  return out;
}

ojson embeddings_request(const json& body, const std::string& model) {
  ojson requests = ojson::array();
  auto add = [&](const std::string& text) {
    ojson part = ojson::object();
    part["text"] = text;
    ojson r = ojson::object();
    r["model"] = "models/" + model;
    r["content"]["parts"] = ojson::array({std::move(part)});
    if (const json* d = get(body, "dimensions")) {
      r["outputDimensionality"] = ojson(*d);
    }
    requests.push_back(std::move(r));
  };
  if (const json* input = get(body, "input")) {
    if (input->is_string()) {
      add(input->get<std::string>());
    } else if (input->is_array()) {
      for (const auto& s : *input) {
        if (s.is_string()) {
          add(s.get<std::string>());
        }
      }
    }
  }
  ojson out = ojson::object();
  out["requests"] = std::move(requests);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Response translation: GenerateContentResponse → OpenAI chat.completion / chunk.

struct ToolCall {
  std::string name;
  ojson args = ojson::object();
  std::string signature;
};

// "$.a.b[0]" / "$['a b']" → JSON pointer "/a/b/0"; nullopt for anything else.
constexpr std::size_t kMaxStreamedArrayIndex = 4096;

std::optional<std::string> pointer_from_path(std::string_view path) {
  if (!starts_with(path, "$")) {
    return std::nullopt;
  }
  std::string ptr;
  bool too_far = false;
  auto add = [&](std::string_view key) {
    // A segment of digits is an array index to nlohmann's json_pointer (on an array, or on a
    // null it then turns into one), and writing it resizes the array to it: an upstream could
    // make the gateway allocate gigabytes with "$.a[99999999999]" or "$.a.99999999999" (found
    // by fuzz_provider_gemini). Streamed arguments fill arrays in order; a far index is refused.
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (!key.empty() && std::all_of(key.begin(), key.end(), digit)) {
      std::size_t value = 0;
      auto [next, ec] = std::from_chars(key.data(), key.data() + key.size(), value);
      too_far = too_far || ec != std::errc{} || value > kMaxStreamedArrayIndex;
    }
    ptr += '/';
    for (char c : key) {
      if (c == '~') {
        ptr += "~0";
      } else if (c == '/') {
        ptr += "~1";
      } else {
        ptr += c;
      }
    }
  };
  std::size_t i = 1;
  while (i < path.size()) {
    if (path[i] == '.') {
      auto end = path.find_first_of(".[", i + 1);
      if (end == std::string_view::npos) {
        end = path.size();
      }
      add(path.substr(i + 1, end - i - 1));
      i = end;
    } else if (path[i] == '[' && i + 1 < path.size()) {
      char q = path[i + 1];
      if (q == '\'' || q == '"') {
        auto end = path.find(q, i + 2);
        if (end == std::string_view::npos || end + 1 >= path.size() || path[end + 1] != ']') {
          return std::nullopt;
        }
        add(path.substr(i + 2, end - i - 2));
        i = end + 2;
      } else {
        auto end = path.find(']', i);
        if (end == std::string_view::npos) {
          return std::nullopt;
        }
        add(path.substr(i + 1, end - i - 1));
        i = end + 1;
      }
    } else {
      return std::nullopt;
    }
  }
  if (too_far) {
    return std::nullopt;
  }
  return ptr;
}

// Function calls arrive whole in one part, except on Gemini 3 with streamed arguments, where a
// call opens with {name, willContinue}, fills in through partialArgs and closes with a part
// without willContinue. Both end up as one complete call (OpenAI clients get it in one piece).
class CallAssembler {
public:
  void feed(const ojson& part, std::vector<ToolCall>& done) {
    const ojson& fc = *get(part, "functionCall");  // callers checked it is an object
    auto name = get_string(fc, "name");
    const ojson* args = get(fc, "args");
    const ojson* partial = get(fc, "partialArgs");
    if (pending_ && !name.empty()) {
      done.push_back(take());  // a new call opened without closing the previous one
    }
    if (!pending_) {
      if (name.empty() && !args && !partial) {
        return;  // a stray closing part
      }
      pending_.emplace();
      pending_->name = name;
    }
    auto sig = get_string(part, "thoughtSignature");
    if (!sig.empty() && pending_->signature.empty()) {
      pending_->signature = std::move(sig);
    }
    if (args && args->is_object()) {
      pending_->args = *args;
    }
    if (partial && partial->is_array()) {
      for (const auto& piece : *partial) {
        apply(piece);
      }
    }
    if (!get_true(fc, "willContinue")) {
      done.push_back(take());
    }
  }

  void flush(std::vector<ToolCall>& done) {
    if (pending_) {
      done.push_back(take());
    }
  }

private:
  ToolCall take() {
    ToolCall c = std::move(*pending_);
    pending_.reset();
    continuing_path_.clear();
    return c;
  }

  void apply(const ojson& piece) {
    auto path = get_string(piece, "jsonPath");
    auto ptr = pointer_from_path(path);
    if (!ptr) {
      return;
    }
    // json_pointer and operator[] throw on type clashes; a malformed piece is skipped.
    try {
      ojson::json_pointer p(*ptr);
      auto& args = pending_->args;
      if (const ojson* s = get(piece, "stringValue"); s && s->is_string()) {
        auto& slot = args[p];
        if (continuing_path_ == path && slot.is_string()) {
          slot = slot.get<std::string>() + s->get<std::string>();
        } else {
          slot = *s;
        }
        continuing_path_ = get_true(piece, "willContinue") ? path : std::string();
        return;
      }
      if (const ojson* n = get(piece, "numberValue")) {
        args[p] = *n;
      } else if (const ojson* b = get(piece, "boolValue")) {
        args[p] = *b;
      } else if (piece.contains("nullValue")) {
        args[p] = nullptr;
      }
      continuing_path_.clear();
    } catch (const ojson::exception&) {
      continuing_path_.clear();
    }
  }

  std::optional<ToolCall> pending_;
  std::string continuing_path_;
};

// Reads a candidate's parts: text (thoughts skipped) and function calls.
void read_parts(const ojson& candidate, std::string& text, CallAssembler& calls,
                std::vector<ToolCall>& done) {
  const ojson* content = get(candidate, "content");
  const ojson* parts = content ? get(*content, "parts") : nullptr;
  if (!parts || !parts->is_array()) {
    return;
  }
  for (const auto& part : *parts) {
    if (get_true(part, "thought")) {
      continue;
    }
    if (const ojson* t = get(part, "text"); t && t->is_string()) {
      text += t->get<std::string>();
    }
    if (const ojson* fc = get(part, "functionCall"); fc && fc->is_object()) {
      calls.feed(part, done);
    }
  }
}

// Finish reason policy (the libraries disagree; see docs/providers.md): everything that withheld
// output (safety family, recitation, blocklist, language, OTHER) is content_filter; failed tool
// calls are stop; unknown values are stop.
std::string_view map_finish(std::string_view reason, bool tool_calls) {
  if (reason == "MAX_TOKENS") {
    return "length";
  }
  if (reason == "SAFETY" || reason == "RECITATION" || reason == "BLOCKLIST" ||
      reason == "PROHIBITED_CONTENT" || reason == "SPII" || reason == "IMAGE_SAFETY" ||
      reason == "IMAGE_PROHIBITED_CONTENT" || reason == "IMAGE_RECITATION" ||
      reason == "LANGUAGE" || reason == "OTHER") {
    return "content_filter";
  }
  return tool_calls ? "tool_calls" : "stop";
}

// One OpenAI tool call; `index` is set for stream deltas (tool_calls[].index).
ojson tool_call_json(const ToolCall& c, const std::string& id,
                     std::optional<std::size_t> index = std::nullopt) {
  ojson fn = ojson::object();
  fn["name"] = c.name;
  fn["arguments"] = dump(c.args);
  ojson tc = ojson::object();
  if (index) {
    tc["index"] = *index;
  }
  tc["id"] = id;
  tc["type"] = "function";
  tc["function"] = std::move(fn);
  if (!c.signature.empty()) {
    tc["extra_content"]["google"]["thought_signature"] = c.signature;
  }
  return tc;
}

// Ids stay unique across turns (a conversation replayed to another provider, e.g. Anthropic,
// must not repeat tool ids) yet are stable for one response: derived from responseId.
std::string response_token(const ojson& response) {
  auto id = get_string(response, "responseId");
  return id.empty() ? common::random_hex(24) : id;
}

std::string call_id(const std::string& token, std::size_t k) {
  return "call_" + token + "_" + std::to_string(k);
}

struct GeminiUsage {
  std::uint64_t prompt = 0;
  std::uint64_t completion = 0;
  std::uint64_t total = 0;
  std::uint64_t cached = 0;
  std::uint64_t reasoning = 0;
  bool present = false;
};

GeminiUsage read_usage(const ojson& response) {
  GeminiUsage u;
  const ojson* m = get(response, "usageMetadata");
  if (!m || !(m->contains("promptTokenCount") || m->contains("candidatesTokenCount") ||
              m->contains("totalTokenCount"))) {
    return u;
  }
  u.present = true;
  // promptTokenCount includes cached tokens (as OpenAI's prompt_tokens does); candidates exclude
  // thoughts, which OpenAI counts as completion (reasoning) tokens.
  u.prompt = get_count(*m, "promptTokenCount") + get_count(*m, "toolUsePromptTokenCount");
  u.reasoning = get_count(*m, "thoughtsTokenCount");
  u.completion = get_count(*m, "candidatesTokenCount") + u.reasoning;
  u.cached = get_count(*m, "cachedContentTokenCount");
  u.total = get_count(*m, "totalTokenCount");
  if (u.total == 0) {
    u.total = u.prompt + u.completion;
  }
  return u;
}

ojson usage_json(const GeminiUsage& u) {
  ojson usage = ojson::object();
  usage["prompt_tokens"] = u.prompt;
  usage["completion_tokens"] = u.completion;
  usage["total_tokens"] = u.total;
  usage["prompt_tokens_details"]["cached_tokens"] = u.cached;
  usage["completion_tokens_details"]["reasoning_tokens"] = u.reasoning;
  return usage;
}

std::string model_of(const ojson& response) {
  auto m = get_string(response, "modelVersion");
  return m.empty() ? std::string(kDefaultModel) : m;
}

// `j` is a generateContent answer: an object with candidates, or a blocked prompt's
// promptFeedback (checked by the caller).
std::string translate_chat(const ojson& j, Usage& usage) {
  auto token = response_token(j);
  ojson out = ojson::object();
  out["id"] = "chatcmpl-" + token;
  out["object"] = "chat.completion";
  out["created"] = now_seconds();
  out["model"] = model_of(j);
  ojson choices = ojson::array();
  std::size_t k = 0;
  const ojson* candidates = get(j, "candidates");
  if (candidates && candidates->is_array() && !candidates->empty()) {
    for (std::size_t i = 0; i < candidates->size(); ++i) {
      const ojson& c = (*candidates)[i];
      std::string text;
      CallAssembler assembler;
      std::vector<ToolCall> calls;
      read_parts(c, text, assembler, calls);
      assembler.flush(calls);
      ojson message = ojson::object();
      message["role"] = "assistant";
      message["content"] = text.empty() && !calls.empty() ? ojson() : ojson(text);
      message["refusal"] = nullptr;
      if (!calls.empty()) {
        ojson tcs = ojson::array();
        for (const auto& call : calls) {
          tcs.push_back(tool_call_json(call, call_id(token, k++)));
        }
        message["tool_calls"] = std::move(tcs);
      }
      ojson choice = ojson::object();
      const ojson* index = get(c, "index");
      choice["index"] = index && index->is_number_integer() ? *index : ojson(i);
      choice["message"] = std::move(message);
      choice["logprobs"] = nullptr;
      choice["finish_reason"] =
          std::string(map_finish(get_string(c, "finishReason"), !calls.empty()));
      choices.push_back(std::move(choice));
    }
  } else {
    // No candidates: the prompt itself was blocked (promptFeedback.blockReason).
    const ojson* feedback = get(j, "promptFeedback");
    bool blocked = feedback && !get_string(*feedback, "blockReason").empty();
    ojson message = ojson::object();
    message["role"] = "assistant";
    message["content"] = "";
    message["refusal"] = nullptr;
    ojson choice = ojson::object();
    choice["index"] = 0;
    choice["message"] = std::move(message);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = blocked ? "content_filter" : "stop";
    choices.push_back(std::move(choice));
  }
  out["choices"] = std::move(choices);
  auto u = read_usage(j);
  if (u.present) {
    out["usage"] = usage_json(u);
    usage = Usage{u.prompt, u.completion, true};
  }
  return dump(out);
}

// ---------------------------------------------------------------------------------------------
// Errors.

// google.protobuf.Duration in JSON: "34.4s".
std::optional<std::chrono::milliseconds> parse_delay(std::string_view s) {
  if (!ends_with(s, "s")) {
    return std::nullopt;
  }
  s.remove_suffix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(v) || v < 0) {
    return std::nullopt;
  }
  return api::upstream_delay(v * 1000);
}

api::Failure classify_gemini(int status, std::string_view body,
                             std::optional<std::chrono::milliseconds> retry_after) {
  api::Failure f;
  f.status = status;
  f.retry_after = retry_after;
  std::string message;
  std::string rpc_status;
  std::string reason;
  bool per_day = false;
  std::optional<std::chrono::milliseconds> retry_info;
  auto parsed = parse_upstream_ordered_json(body);
  if (parsed.is_array() && !parsed.empty()) {
    parsed = ojson(parsed[0]);  // Google's OpenAI-compatible surface wraps errors in an array
  }
  if (const ojson* err = get(parsed, "error"); err && err->is_object()) {
    message = get_string(*err, "message");
    rpc_status = get_string(*err, "status");
    if (const ojson* details = get(*err, "details"); details && details->is_array()) {
      for (const auto& d : *details) {
        auto type = get_string(d, "@type");
        if (ends_with(type, "google.rpc.ErrorInfo")) {
          reason = get_string(d, "reason");
        } else if (ends_with(type, "google.rpc.RetryInfo")) {
          retry_info = parse_delay(get_string(d, "retryDelay"));
        } else if (ends_with(type, "google.rpc.QuotaFailure")) {
          if (const ojson* v = get(d, "violations"); v && v->is_array()) {
            for (const auto& violation : *v) {
              per_day |= contains(get_string(violation, "quotaId"), "PerDay");
            }
          }
        }
      }
    }
  }
  if (!f.retry_after) {
    f.retry_after = retry_info;  // Gemini sends no Retry-After header, only RetryInfo
  }
  f.message = "HTTP " + std::to_string(status) + (message.empty() ? "" : ": " + message);
  using api::FailureClass;
  if (starts_with(reason, "API_KEY_") || status == 401) {
    // An invalid key is HTTP 400 INVALID_ARGUMENT with reason API_KEY_INVALID: our key, not the
    // client's mistake.
    f.cls = FailureClass::provider_auth;
  } else if (status == 429) {
    // A per-minute quota clears soon; a daily one does not (fail over, don't retry here).
    f.cls = per_day ? FailureClass::quota_exhausted : FailureClass::rate_limited;
  } else if (status == 404) {
    f.cls = FailureClass::model_not_found;
  } else if (status == 400 && rpc_status == "FAILED_PRECONDITION") {
    // Billing or region of our project ("free tier is not available in your country"):
    // another target can serve it.
    f.cls = FailureClass::provider_auth;
  } else if (status == 400 && (contains(message, "input token count") ||
                               contains(message, "exceeds the maximum number of tokens"))) {
    // Gemini has no structured reason for an over-long prompt; its fixed wording is the only
    // signal (the message does not echo the prompt).
    f.cls = FailureClass::context_length;
  } else {
    f.cls = api::status_failure_class(status);
  }
  if (api::failure_policy(f.cls).client_fault) {
    // Passed to the client: in the OpenAI error shape its SDK understands.
    api::GatewayError e;
    e.status = status;
    e.type = "invalid_request_error";
    e.code = f.cls == FailureClass::context_length
                 ? "context_length_exceeded"
                 : (rpc_status.empty() ? "invalid_request" : common::to_lower(rpc_status));
    e.message = message.empty() ? "The provider rejected the request (HTTP " +
                                      std::to_string(status) + ")."
                                : message;
    f.body = api::openai_error_body(e);
  } else {
    f.body = std::string(body);
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Streaming.

class GeminiStreamTranslator final : public SseStreamTranslator {
public:
  explicit GeminiStreamTranslator(bool client_wants_usage, std::size_t max_depth)
      : client_wants_usage_(client_wants_usage), max_depth_(max_depth), created_(now_seconds()) {}

private:
  bool on_end(std::string& out) override {
    if (finish_reason_.empty() && !blocked_) {
      // Gemini sends no terminator: a finishReason is the only sign the answer is complete.
      failure_ = bad_response("a stream that ended without a finishReason");
      return false;
    }
    std::vector<ToolCall> calls;
    assembler_.flush(calls);
    for (const auto& c : calls) {
      emit_tool_call(c, out);
    }
    ensure_role(out);
    // The finish chunk is held until the stream ends: Gemini may repeat finishReason on every
    // chunk (and RECITATION can follow STOP), so only the last one is the answer's.
    ojson delta = ojson::object();
    auto reason = blocked_ ? std::string_view("content_filter")
                           : map_finish(finish_reason_, tool_calls_ > 0);
    emit(delta, reason, out);
    if (client_wants_usage_ && usage_.present) {
      ojson chunk = chunk_head();
      chunk["choices"] = ojson::array();
      chunk["usage"] = usage_json(usage_full_);
      out += "data: ";
      out += dump(chunk);
      out += "\n\n";
    }
    out += "data: [DONE]\n\n";
    done_ = true;
    has_content_ = true;
    return true;
  }

  void on_event(const api::SseEvent& event, std::string& out) override {
    std::string_view data = event.data;
    if (failure_ || done_) {
      return;
    }
    if (data == "[DONE]") {
      return;  // Gemini sends none; tolerate a relay that adds OpenAI's terminator
    }
    auto j = parse_upstream_ordered_json(data, max_depth_);
    if (j.is_array() && j.size() == 1) {
      j = ojson(j[0]);
    }
    if (!j.is_object()) {
      failure_ = bad_response("a malformed stream event (not JSON, or nested deeper than " +
                              std::to_string(max_depth_) + " levels)");
      return;
    }
    if (const ojson* err = get(j, "error")) {
      on_error(*err, data);
      return;
    }
    if (id_.empty()) {
      token_ = response_token(j);
      id_ = "chatcmpl-" + token_;
      model_ = model_of(j);
    }
    // usageMetadata is cumulative: the last one counts.
    if (auto u = read_usage(j); u.present) {
      usage_full_ = u;
      usage_ = Usage{u.prompt, u.completion, true};
    }
    const ojson* candidates = get(j, "candidates");
    if (!candidates || !candidates->is_array() || candidates->empty()) {
      const ojson* feedback = get(j, "promptFeedback");
      if (feedback && !get_string(*feedback, "blockReason").empty()) {
        blocked_ = true;
      }
      return;
    }
    const ojson& c = (*candidates)[0];  // n > 1 streams are refused by unsupported()
    std::string text;
    std::vector<ToolCall> calls;
    // Text and calls keep their order within the chunk.
    const ojson* content = get(c, "content");
    const ojson* parts = content ? get(*content, "parts") : nullptr;
    if (parts && parts->is_array()) {
      for (const auto& part : *parts) {
        if (get_true(part, "thought")) {
          continue;
        }
        if (const ojson* t = get(part, "text"); t && t->is_string()) {
          auto s = t->get<std::string>();
          if (!s.empty()) {
            ojson delta = ojson::object();
            delta["content"] = std::move(s);
            ensure_role(out);
            emit(delta, {}, out);
            has_content_ = true;
          }
        }
        if (const ojson* fc = get(part, "functionCall"); fc && fc->is_object()) {
          calls.clear();
          assembler_.feed(part, calls);
          for (const auto& call : calls) {
            emit_tool_call(call, out);
          }
        }
      }
    }
    if (auto reason = get_string(c, "finishReason"); !reason.empty()) {
      finish_reason_ = std::move(reason);
    }
  }

  void on_error(const ojson& err, std::string_view data) {
    int code = 500;
    if (const ojson* c = get(err, "code"); c && c->is_number_integer()) {
      code = static_cast<int>(std::clamp<std::int64_t>(c->get<std::int64_t>(), 100, 599));
    }
    auto f = classify_gemini(code, data, std::nullopt);
    // The request was accepted already; an error now is the provider's, not the client's.
    if (api::failure_policy(f.cls).client_fault) {
      f.cls = api::FailureClass::server_error;
    }
    f.status = 200;
    f.message = "upstream stream error: " + f.message;
    f.body = std::string(data);
    failure_ = std::move(f);
  }

  ojson chunk_head() const {
    ojson chunk = ojson::object();
    chunk["id"] = id_.empty() ? std::string("chatcmpl-") + kDefaultModel : id_;
    chunk["object"] = "chat.completion.chunk";
    chunk["created"] = created_;
    chunk["model"] = model_.empty() ? std::string(kDefaultModel) : model_;
    return chunk;
  }

  void emit(ojson delta, std::string_view finish_reason, std::string& out) {
    ojson choice = ojson::object();
    choice["index"] = 0;
    choice["delta"] = std::move(delta);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] =
        finish_reason.empty() ? ojson() : ojson(std::string(finish_reason));
    ojson chunk = chunk_head();
    chunk["choices"] = ojson::array({std::move(choice)});
    out += "data: ";
    out += dump(chunk);
    out += "\n\n";
  }

  void ensure_role(std::string& out) {
    if (role_sent_) {
      return;
    }
    role_sent_ = true;
    ojson delta = ojson::object();
    delta["role"] = "assistant";
    delta["content"] = "";
    emit(delta, {}, out);
  }

  void emit_tool_call(const ToolCall& call, std::string& out) {
    ensure_role(out);
    if (token_.empty()) {
      token_ = common::random_hex(24);
    }
    auto entry = tool_call_json(call, call_id(token_, tool_calls_), tool_calls_);
    ++tool_calls_;
    ojson delta = ojson::object();
    delta["tool_calls"] = ojson::array({std::move(entry)});
    emit(delta, {}, out);
    has_content_ = true;
  }

  CallAssembler assembler_;
  GeminiUsage usage_full_;
  std::string id_;
  std::string token_;
  std::string model_;
  std::string finish_reason_;
  bool client_wants_usage_;
  std::size_t max_depth_;
  long long created_;
  std::size_t tool_calls_ = 0;
  bool role_sent_ = false;
  bool blocked_ = false;
};

}  // namespace

bool GeminiAdapter::supports(Operation op) const {
  return op == Operation::chat || op == Operation::embeddings;
}

std::optional<std::string> GeminiAdapter::unsupported(Operation op, const nlohmann::json& body,
                                                      const config::ProviderConfig& provider,
                                                      const config::TargetConfig&) const {
  if (op == Operation::completions) {
    return why_not("the legacy completions API", provider);
  }
  if (op == Operation::embeddings) {
    if (const json* input = get(body, "input"); input && input->is_array()) {
      for (const auto& v : *input) {
        if (!v.is_string()) {
          return why_not("token-array 'input'", provider);
        }
      }
    }
    return std::nullopt;
  }
  if (auto why = refuse_thinking(body, provider)) {
    return why;  // (Gemini thinks through reasoning_effort or google.thinking_config)
  }
  bool stream = get_true(body, "stream");
  if (const json* n = get(body, "n"); n && n->is_number() && n->get<double>() > 1 && stream) {
    // candidateCount serves n > 1 without streaming; the stream translation is single-choice.
    return why_not("n > 1 with stream", provider);
  }
  if (get_true(body, "logprobs")) {
    return why_not("logprobs", provider);
  }
  if (const json* t = get(body, "top_logprobs"); t && t->is_number() && t->get<double>() > 0) {
    return why_not("top_logprobs", provider);
  }
  if (get(body, "audio")) {
    return why_not("audio output", provider);
  }
  if (const json* m = get(body, "modalities"); m && m->is_array()) {
    for (const auto& v : *m) {
      if (v == "audio") {
        return why_not("audio output", provider);
      }
    }
  }
  if (const json* lb = get(body, "logit_bias"); lb && lb->is_object() && !lb->empty()) {
    return why_not("logit_bias", provider);
  }
  if (get(body, "web_search_options")) {
    return why_not("web_search_options", provider);
  }
  if (const json* tools = get(body, "tools"); tools && tools->is_array()) {
    for (const auto& t : *tools) {
      auto type = get_string(t, "type");
      if (!type.empty() && type != "function") {
        return why_not("tools of type '" + type + "'", provider);
      }
      const json* fn = get(t, "function");
      const json* params = fn ? get(*fn, "parameters") : nullptr;
      if (params && schema_too_large(*params)) {
        return why_not("a tool schema that expands (through $ref) to more than " +
                           std::to_string(kMaxSchemaNodes) + " nodes",
                       provider);
      }
    }
  }
  if (const json* rf = get(body, "response_format")) {
    const json* js = get(*rf, "json_schema");
    const json* schema = js ? get(*js, "schema") : nullptr;
    if (schema && schema_too_large(*schema)) {
      return why_not("a response schema that expands (through $ref) to more than " +
                         std::to_string(kMaxSchemaNodes) + " nodes",
                     provider);
    }
  }
  if (const json* messages = get(body, "messages"); messages && messages->is_array()) {
    for (const auto& m : *messages) {
      const json* content = get(m, "content");
      if (!content || !content->is_array()) {
        continue;
      }
      for (const auto& p : *content) {
        auto type = get_string(p, "type");
        if (type == "file") {
          const json* file = get(p, "file");
          if (!file || get_string(*file, "file_data").empty()) {
            return why_not("file content parts by file_id", provider);
          }
        } else if (type != "text" && type != "image_url" && type != "input_audio" &&
                   type != "refusal") {
          return why_not("content parts of type '" + type + "'", provider);
        }
      }
    }
  }
  return std::nullopt;
}

UpstreamRequest GeminiAdapter::build_request(Operation op, nlohmann::json& body,
                                             const config::ProviderConfig& provider,
                                             const config::TargetConfig& target,
                                             const RequestOptions& options) const {
  UpstreamRequest req;
  // Percent-encoded: a model name from the config must not be able to change the request line.
  auto model = common::percent_encode(model_id(target.model));
  req.target = provider.url.path + "/models/" + model;
  if (op == Operation::embeddings) {
    req.target += ":batchEmbedContents";
    req.body = dump(embeddings_request(body, model));
  } else {
    req.target += options.stream ? ":streamGenerateContent?alt=sse" : ":generateContent";
    req.body = dump(chat_request(body));
  }
  req.headers.reserve(2 + provider.headers.size());
  req.headers.emplace_back("Content-Type", "application/json");
  add_credentials(req.headers, provider);
  return req;
}

Translated GeminiAdapter::translate_response(Operation op, std::string body,
                                             const RequestOptions& options, Usage& usage) const {
  if (common::trim(body).empty()) {
    return common::err(bad_response("an empty body"));
  }
  auto j = parse_upstream_ordered_json(body, options.max_json_depth);
  if (j.is_discarded()) {
    return common::err(bad_response("a body that is not JSON or nests deeper than " +
                                    std::to_string(options.max_json_depth) + " levels"));
  }
  if (!j.is_object()) {
    return common::err(bad_response("JSON that is not an object"));
  }
  if (op == Operation::embeddings) {
    const ojson* embeddings = get(j, "embeddings");
    if (!embeddings || !embeddings->is_array()) {
      return common::err(bad_response("JSON without an 'embeddings' array"));
    }
    return translate_embeddings_answer(j, usage, options.base64_embeddings);
  }
  const ojson* candidates = get(j, "candidates");
  const ojson* feedback = get(j, "promptFeedback");
  bool blocked = feedback && !get_string(*feedback, "blockReason").empty();
  if (!blocked && (!candidates || !candidates->is_array() || candidates->empty())) {
    return common::err(bad_response("JSON without candidates (and no blocked prompt)"));
  }
  return translate_chat(j, usage);
}

std::string GeminiAdapter::translate_embeddings(std::string_view body, Usage& usage,
                                                bool base64) const {
  auto j = parse_upstream_ordered_json(body);
  if (!get(j, "embeddings")) {
    return std::string(body);
  }
  return translate_embeddings_answer(j, usage, base64);
}

std::string GeminiAdapter::translate_embeddings_answer(const nlohmann::ordered_json& j,
                                                       Usage& usage, bool base64) const {
  usage = Usage{};  // Gemini reports no token counts for embeddings
  const ojson* embeddings = get(j, "embeddings");
  if (!embeddings || !embeddings->is_array()) {
    return "{}";
  }
  ojson data = ojson::array();
  std::size_t index = 0;
  for (const auto& e : *embeddings) {
    const ojson* values = get(e, "values");
    ojson item = ojson::object();
    item["object"] = "embedding";
    item["index"] = index++;
    if (base64) {
      std::string bytes;
      if (values && values->is_array()) {
        bytes.reserve(values->size() * 4);
        for (const auto& v : *values) {
          // Clamped first: a double outside float's range converts with undefined behaviour.
          double d = v.is_number() ? std::clamp(v.get<double>(), -3.0e38, 3.0e38) : 0.0;
          auto bits = std::bit_cast<std::uint32_t>(static_cast<float>(d));
          for (int shift = 0; shift < 32; shift += 8) {  // little-endian whatever the host
            bytes.push_back(static_cast<char>((bits >> shift) & 0xFF));
          }
        }
      }
      item["embedding"] = common::base64_encode(bytes);
    } else {
      item["embedding"] = values && values->is_array() ? *values : ojson::array();
    }
    data.push_back(std::move(item));
  }
  ojson out = ojson::object();
  out["object"] = "list";
  out["data"] = std::move(data);
  out["model"] = model_of(j);
  out["usage"]["prompt_tokens"] = 0;
  out["usage"]["total_tokens"] = 0;
  return dump(out);
}

void GeminiAdapter::add_auth_headers(std::vector<Header>& headers,
                                     const config::ProviderConfig& provider) const {
  if (!provider.api_key.empty()) {
    // A header, never ?key=: URLs end up in logs.
    headers.emplace_back("x-goog-api-key", provider.api_key);
  }
}

std::unique_ptr<StreamTranslator> GeminiAdapter::make_stream_translator(
    Operation, const RequestOptions& options) const {
  return std::make_unique<GeminiStreamTranslator>(options.client_wants_usage,
                                                  options.max_json_depth);
}

api::Failure GeminiAdapter::classify_error(
    int status, std::string_view body,
    std::optional<std::chrono::milliseconds> retry_after) const {
  return classify_gemini(status, body, retry_after);
}

}  // namespace llmgw::providers
