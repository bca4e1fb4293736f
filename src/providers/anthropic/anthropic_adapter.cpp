#include "providers/anthropic/anthropic_adapter.hpp"
#include "providers/sse_stream_translator.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>

#include "llmgw/api/sse.hpp"

namespace llmgw::providers {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr std::string_view kDefaultApiVersion = "2023-06-01";
// Anthropic requires max_tokens; OpenAI clients usually omit it. 4096 is within every Claude
// model's output limit (Claude 3 Haiku's is 4096) and is what LiteLLM picks too.
constexpr std::uint64_t kDefaultMaxTokens = 4096;
// OpenAI's temperature range is 0..2, Anthropic's 0..1: anything hotter is Anthropic's hottest.
constexpr double kMaxTemperature = 1.0;

const json kNull;  // stands in for a missing member, so lookups never copy

// ---- small JSON accessors that never throw (no exceptions on the data plane) ----

const json* member(const json& j, const char* key) {
  if (!j.is_object()) {
    return nullptr;
  }
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

bool is_set(const json* v) { return v != nullptr && !v->is_null(); }

std::string string_member(const json& j, const char* key) {
  const json* v = member(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

std::uint64_t count_member(const json& j, const char* key) {
  const json* v = member(j, key);
  if (v == nullptr) {
    return 0;
  }
  if (v->is_number_unsigned()) {
    return v->get<std::uint64_t>();
  }
  if (v->is_number_integer() && v->get<std::int64_t>() > 0) {
    return static_cast<std::uint64_t>(v->get<std::int64_t>());
  }
  return 0;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string dump(const ordered_json& j) {
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](unsigned char c) { return std::isspace(c) != 0; });
}

long long now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- request rendering ----

std::string rejected(const config::ProviderConfig& provider, std::string_view what) {
  std::string out(what);
  out += " is not supported by anthropic provider '";
  out += provider.name;
  out += "'";
  return out;
}

struct DataUrl {
  std::string media_type;
  std::string_view data;
};

// "data:image/png;base64,AAAA" -> {image/png, AAAA}. Anthropic takes base64 payloads only.
std::optional<DataUrl> parse_data_url(std::string_view url) {
  if (url.substr(0, 5) != "data:") {
    return std::nullopt;
  }
  auto comma = url.find(',');
  if (comma == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view meta = url.substr(5, comma - 5);
  constexpr std::string_view kBase64 = ";base64";
  if (meta.size() < kBase64.size() || meta.substr(meta.size() - kBase64.size()) != kBase64) {
    return std::nullopt;
  }
  return DataUrl{to_lower(meta.substr(0, meta.find(';'))), url.substr(comma + 1)};
}

bool is_http_url(std::string_view url) {
  return url.substr(0, 7) == "http://" || url.substr(0, 8) == "https://";
}

bool anthropic_image_type(std::string_view media_type) {
  return media_type == "image/jpeg" || media_type == "image/png" || media_type == "image/gif" ||
         media_type == "image/webp";
}

std::string image_url_of(const json& part) {
  const json* image = member(part, "image_url");
  if (image != nullptr && image->is_string()) {
    return image->get<std::string>();  // some clients flatten {url} to a string
  }
  return image != nullptr ? string_member(*image, "url") : std::string();
}

std::string file_data_of(const json& part) {
  const json* file = member(part, "file");
  return file != nullptr ? string_member(*file, "file_data") : std::string();
}

// Why one content part cannot be sent, or nullopt. `allowed` lists the part types the role
// may carry on Anthropic.
std::optional<std::string> check_part(const json& part, const std::string& path,
                                      std::initializer_list<std::string_view> allowed,
                                      const config::ProviderConfig& provider) {
  std::string type = string_member(part, "type");
  if (std::find(allowed.begin(), allowed.end(), type) == allowed.end()) {
    return rejected(provider, path + " of type '" + type + "'");
  }
  if (type == "image_url") {
    std::string url = image_url_of(part);
    if (auto data = parse_data_url(url)) {
      if (!anthropic_image_type(data->media_type)) {
        return rejected(provider, path + ": image type '" + data->media_type + "'");
      }
    } else if (!is_http_url(url)) {
      return rejected(provider, path + ": an image URL that is neither http(s) nor base64 data");
    }
  } else if (type == "file") {
    // parse_data_url returns views: keep the string they point into alive.
    const std::string file_data = file_data_of(part);
    auto data = parse_data_url(file_data);
    if (!data || data->media_type != "application/pdf") {
      return rejected(provider, path + ": a file other than inline base64 PDF data (file_id)");
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_content(const json& content, const std::string& path,
                                         std::initializer_list<std::string_view> allowed,
                                         const config::ProviderConfig& provider) {
  if (!content.is_array()) {
    return std::nullopt;  // a string or null
  }
  for (std::size_t i = 0; i < content.size(); ++i) {
    auto why = check_part(content[i], path + ".content[" + std::to_string(i) + "]", allowed,
                          provider);
    if (why) {
      return why;
    }
  }
  return std::nullopt;
}

// Tool-call arguments must become an object (tool_use.input). "" is what some servers emit for
// a call without arguments, so it counts as {}.
std::optional<json> arguments_object(const json& call) {
  const json* function = member(call, "function");
  std::string args = function != nullptr ? string_member(*function, "arguments") : std::string();
  if (blank(args)) {
    return json::object();
  }
  // Client text parsed a second time: bounded like the body it came in.
  auto parsed = parse_upstream_json(args);
  if (!parsed.is_object()) {
    return std::nullopt;
  }
  return parsed;
}

std::optional<std::string> check_messages(const json& messages,
                                          const config::ProviderConfig& provider) {
  if (!messages.is_array()) {
    return std::nullopt;  // validation already answered this
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    std::string path = "messages[" + std::to_string(i) + "]";
    std::string role = string_member(m, "role");
    const json* content = member(m, "content");
    const json& c = content != nullptr ? *content : kNull;
    std::optional<std::string> why;
    if (role == "system" || role == "developer") {
      why = check_content(c, path, {"text"}, provider);
    } else if (role == "user") {
      why = check_content(c, path, {"text", "image_url", "file"}, provider);
    } else if (role == "tool") {
      why = check_content(c, path, {"text", "image_url"}, provider);
    } else if (role == "assistant") {
      why = check_content(c, path, {"text", "refusal"}, provider);
      if (!why && is_set(member(m, "audio"))) {
        why = rejected(provider, path + ".audio (an audio reply in the history)");
      }
      if (!why && is_set(member(m, "function_call"))) {
        why = rejected(provider, path + ".function_call (deprecated; use tool_calls)");
      }
      const json* calls = member(m, "tool_calls");
      for (std::size_t k = 0; !why && calls != nullptr && calls->is_array() && k < calls->size();
           ++k) {
        const json& call = (*calls)[k];
        std::string call_path = path + ".tool_calls[" + std::to_string(k) + "]";
        std::string type = string_member(call, "type");
        if (!type.empty() && type != "function") {
          why = rejected(provider, call_path + " of type '" + type + "'");
        } else if (!arguments_object(call)) {
          // Anthropic needs the arguments as an object; inventing one would rewrite history.
          why = rejected(provider, call_path + ".function.arguments that are not a JSON object");
        }
      }
    } else {
      why = rejected(provider, path + " with role '" + role + "' (deprecated; use tools)");
    }
    if (why) {
      return why;
    }
  }
  return std::nullopt;
}

std::optional<double> number(const json* v) {
  if (v == nullptr || !v->is_number()) {
    return std::nullopt;
  }
  return v->get<double>();
}

json text_block(std::string text, const json& part) {
  json block = {{"type", "text"}, {"text", std::move(text)}};
  if (const json* cache = member(part, "cache_control"); is_set(cache)) {
    block["cache_control"] = *cache;  // prompt caching: an Anthropic extra carried in the part
  }
  return block;
}

json image_block(const json& part) {
  std::string url = image_url_of(part);
  json source;
  if (auto data = parse_data_url(url)) {
    source = {{"type", "base64"}, {"media_type", data->media_type}, {"data", data->data}};
  } else {
    source = {{"type", "url"}, {"url", std::move(url)}};
  }
  json block = {{"type", "image"}, {"source", std::move(source)}};
  if (const json* cache = member(part, "cache_control"); is_set(cache)) {
    block["cache_control"] = *cache;
  }
  return block;
}

json document_block(const json& part) {
  // parse_data_url returns views: keep the string they point into alive.
  const std::string file_data = file_data_of(part);
  auto data = parse_data_url(file_data);
  json source = {{"type", "base64"},
                 {"media_type", data ? data->media_type : std::string("application/pdf")},
                 {"data", data ? data->data : std::string_view()}};
  json block = {{"type", "document"}, {"source", std::move(source)}};
  if (const json* file = member(part, "file")) {
    if (std::string name = string_member(*file, "filename"); !name.empty()) {
      block["title"] = std::move(name);
    }
  }
  return block;
}

// Appends the Anthropic blocks for an OpenAI `content` (string or parts). Anthropic rejects
// empty text blocks, and an empty OpenAI text carries nothing, so those are skipped.
void append_content(const json* content, json& blocks) {
  if (content == nullptr) {
    return;
  }
  if (content->is_string()) {
    if (!content->get_ref<const std::string&>().empty()) {
      blocks.push_back(text_block(content->get<std::string>(), kNull));
    }
    return;
  }
  if (!content->is_array()) {
    return;
  }
  for (const json& part : *content) {
    std::string type = string_member(part, "type");
    if (type == "text" || type == "refusal") {
      std::string text = string_member(part, type == "text" ? "text" : "refusal");
      if (!text.empty()) {
        blocks.push_back(text_block(std::move(text), part));
      }
    } else if (type == "image_url") {
      blocks.push_back(image_block(part));
    } else if (type == "file") {
      blocks.push_back(document_block(part));
    }
  }
}

// Anthropic requires user and assistant turns to alternate, so a message with the same role as
// the previous one joins it (consecutive tool results become one user message this way).
void push_turn(json& messages, const char* role, json blocks) {
  if (blocks.empty()) {
    return;
  }
  if (!messages.empty() && messages.back()["role"] == role) {
    auto& content = messages.back()["content"];
    for (auto& b : blocks) {
      content.push_back(std::move(b));
    }
    return;
  }
  messages.push_back({{"role", role}, {"content", std::move(blocks)}});
}

struct RenderedMessages {
  json messages = json::array();
  json system = json::array();  // text blocks, in order
};

RenderedMessages render_messages(const json& in) {
  RenderedMessages r;
  if (!in.is_array()) {
    return r;
  }
  for (const json& m : in) {
    std::string role = string_member(m, "role");
    const json* content = member(m, "content");
    json blocks = json::array();
    if (role == "system" || role == "developer") {
      append_content(content, r.system);
    } else if (role == "user") {
      append_content(content, blocks);
      push_turn(r.messages, "user", std::move(blocks));
    } else if (role == "assistant") {
      // Thinking comes first in an assistant turn, signatures untouched (Anthropic verifies
      // them when a tool loop replays the turn). An unsigned one came from another model's
      // reasoning: Anthropic would refuse it, and ignores earlier turns' thinking anyway.
      if (const json* thinking = member(m, "thinking_blocks");
          thinking != nullptr && thinking->is_array()) {
        for (const json& block : *thinking) {
          if (block.is_object() && (!string_member(block, "signature").empty() ||
                                    string_member(block, "type") == "redacted_thinking")) {
            blocks.push_back(block);
          }
        }
      }
      append_content(content, blocks);
      const json* calls = member(m, "tool_calls");
      if (calls != nullptr && calls->is_array()) {
        for (const json& call : *calls) {
          const json* function = member(call, "function");
          json block = {{"type", "tool_use"},
                        {"id", string_member(call, "id")},
                        {"name", function ? string_member(*function, "name") : std::string()},
                        {"input", arguments_object(call).value_or(json::object())}};
          blocks.push_back(std::move(block));
        }
      }
      push_turn(r.messages, "assistant", std::move(blocks));
    } else if (role == "tool") {
      json result = {{"type", "tool_result"}, {"tool_use_id", string_member(m, "tool_call_id")}};
      if (content != nullptr && content->is_string()) {
        if (!content->get_ref<const std::string&>().empty()) {
          result["content"] = *content;
        }
      } else {
        json parts = json::array();
        append_content(content, parts);
        if (!parts.empty()) {
          result["content"] = std::move(parts);
        }
      }
      blocks.push_back(std::move(result));
      push_turn(r.messages, "user", std::move(blocks));
    }
  }
  return r;
}

json render_tools(const json& tools) {
  json out = json::array();
  for (const json& t : tools) {
    const json* function = member(t, "function");
    if (function == nullptr) {
      continue;
    }
    json tool = {{"name", string_member(*function, "name")}};
    if (std::string description = string_member(*function, "description"); !description.empty()) {
      tool["description"] = std::move(description);
    }
    const json* parameters = member(*function, "parameters");
    json schema = parameters != nullptr && parameters->is_object() ? *parameters : json::object();
    if (!schema.contains("type")) {
      schema["type"] = "object";  // Anthropic insists on an object schema; OpenAI defaults to one
    }
    tool["input_schema"] = std::move(schema);
    if (const json* cache = member(t, "cache_control"); is_set(cache)) {
      tool["cache_control"] = *cache;
    }
    out.push_back(std::move(tool));
  }
  return out;
}

json render_tool_choice(const json* choice) {
  if (choice != nullptr && choice->is_string()) {
    const auto& s = choice->get_ref<const std::string&>();
    if (s == "none") {
      return {{"type", "none"}};
    }
    if (s == "required") {
      return {{"type", "any"}};
    }
  } else if (choice != nullptr && choice->is_object()) {
    const json* function = member(*choice, "function");
    if (function != nullptr) {
      return {{"type", "tool"}, {"name", string_member(*function, "name")}};
    }
  }
  return {{"type", "auto"}};
}

// ---- response translation ----

struct TokenCounts {
  std::uint64_t input = 0;
  std::uint64_t cache_read = 0;
  std::uint64_t cache_creation = 0;
  std::uint64_t output = 0;

  // Anthropic's input_tokens excludes cached input; OpenAI's prompt_tokens includes it.
  std::uint64_t prompt() const { return input + cache_read + cache_creation; }

  // Takes the counters present in an Anthropic usage object; absent ones keep their value.
  void read(const json& usage) {
    read_one(usage, "input_tokens", input);
    read_one(usage, "cache_read_input_tokens", cache_read);
    read_one(usage, "cache_creation_input_tokens", cache_creation);
    read_one(usage, "output_tokens", output);
  }

  static void read_one(const json& usage, const char* key, std::uint64_t& into) {
    if (const json* v = member(usage, key); v != nullptr && v->is_number()) {
      into = count_member(usage, key);
    }
  }

  ordered_json openai() const {
    ordered_json u;
    u["prompt_tokens"] = prompt();
    u["completion_tokens"] = output;
    u["total_tokens"] = prompt() + output;
    u["prompt_tokens_details"] = {{"cached_tokens", cache_read}};
    return u;
  }

  Usage gateway() const { return Usage{prompt(), output, true}; }
};

// ---- streaming ----

class AnthropicStreamTranslator final : public SseStreamTranslator {
public:
  AnthropicStreamTranslator(bool client_wants_usage, std::size_t max_depth)
      : client_wants_usage_(client_wants_usage), max_depth_(max_depth) {}

private:
  bool on_end(std::string& out) override {
    if (finish_sent_) {
      end(out);  // the finish reason arrived; only message_stop is missing
      return true;
    }
    fail(api::FailureClass::bad_response,
         "upstream answered 2xx with a stream that ended before message_stop", {});
    return false;
  }

  enum class BlockKind { text, tool, thinking, other };
  struct Block {
    BlockKind kind = BlockKind::other;
    std::size_t tool_index = 0;  // OpenAI tool_calls[].index: counts tool blocks only
    bool has_arguments = false;
  };

  void fail(api::FailureClass cls, std::string message, std::string body) {
    failure_ = api::Failure{cls, 0, std::nullopt, std::move(message), std::move(body)};
  }

  void on_event(const api::SseEvent& ev, std::string& out) override {
    if (done_ || failure_ || blank(ev.data)) {
      return;
    }
    auto j = parse_upstream_json(ev.data, max_depth_);
    if (!j.is_object()) {
      fail(api::FailureClass::bad_response,
           at_eof_ ? "upstream answered 2xx with a stream that ended mid-event"
                   : "upstream answered 2xx with a malformed stream event (not JSON, or nested "
                     "deeper than " + std::to_string(max_depth_) + " levels)",
           ev.data);
      return;
    }
    // Dispatch on the type inside the data (always present, padded or not); the event: line
    // repeats it.
    std::string type = string_member(j, "type");
    if (ev.event.empty()) {
      unnamed_type_ = type;
    }
    if (type == "error" || ev.event == "error") {
      on_error(j, ev.data);
    } else if (type == "ping") {
      return;
    } else if (type == "message_start") {
      on_message_start(j, out);
    } else if (!started_) {
      fail(api::FailureClass::bad_response, "upstream stream did not begin with message_start",
           ev.data);
    } else if (type == "content_block_start") {
      on_block_start(j, out);
    } else if (type == "content_block_delta") {
      on_block_delta(j, out);
    } else if (type == "content_block_stop") {
      on_block_stop(j, out);
    } else if (type == "message_delta") {
      on_message_delta(j, out);
    } else if (type == "message_stop") {
      if (!finish_sent_) {
        emit_finish("stop", out);  // never seen, but the client must get a finish reason
      }
      end(out);
    }
    // Unknown event types are ignored: the API adds new ones and says clients should.
  }

  void on_error(const json& j, const std::string& data) {
    const json* err = member(j, "error");
    std::string type = err != nullptr ? string_member(*err, "type") : std::string();
    std::string message = err != nullptr ? string_member(*err, "message") : std::string();
    auto cls = type == "overloaded_error" ? api::FailureClass::overloaded
                                          : api::FailureClass::server_error;
    fail(cls, "upstream stream error: " + (message.empty() ? type : message), data);
  }

  void on_message_start(const json& j, std::string& out) {
    if (started_) {
      return;
    }
    started_ = true;
    const json* message = member(j, "message");
    const json& m = message != nullptr ? *message : kNull;
    head_ = R"({"id":)" + dump(json(string_member(m, "id"))) +
            R"(,"object":"chat.completion.chunk","created":)" + std::to_string(now_seconds()) +
            R"(,"model":)" + dump(json(string_member(m, "model")));
    if (const json* usage = member(m, "usage")) {
      tokens_.read(*usage);
    }
    usage_ = tokens_.gateway();
    ordered_json delta;
    delta["role"] = "assistant";
    delta["content"] = "";
    emit(delta, {}, out);
  }

  void on_block_start(const json& j, std::string& out) {
    const json* cb = member(j, "content_block");
    const json& block = cb != nullptr ? *cb : kNull;
    std::string type = string_member(block, "type");
    Block b;
    if (type == "text") {
      b.kind = BlockKind::text;
      emit_text(string_member(block, "text"), out);  // "" in practice
    } else if (type == "thinking") {
      b.kind = BlockKind::thinking;
    } else if (type == "redacted_thinking") {
      // Whole in its start event; relayed so an Anthropic client can replay it.
      ordered_json item;
      item["type"] = "redacted_thinking";
      item["data"] = string_member(block, "data");
      emit_thinking_block(std::move(item), out);
    } else if (type == "tool_use") {
      // Only client tools become OpenAI tool calls; server tools (server_tool_use,
      // mcp_tool_use, ...) ran on Anthropic's side and their blocks are not the client's.
      b.kind = BlockKind::tool;
      b.tool_index = tool_count_++;
      ordered_json function;
      function["name"] = string_member(block, "name");
      function["arguments"] = "";
      // The API sends input {} here and the arguments as deltas; a whole input here (some
      // compatible servers) is the arguments.
      const json* input = member(block, "input");
      if (input != nullptr && input->is_object() && !input->empty()) {
        function["arguments"] = dump(*input);
        b.has_arguments = true;
      }
      ordered_json call;
      call["index"] = b.tool_index;
      call["id"] = string_member(block, "id");
      call["type"] = "function";
      call["function"] = std::move(function);
      ordered_json delta;
      delta["tool_calls"] = ordered_json::array({std::move(call)});
      emit(delta, {}, out);
      has_content_ = true;
    }
    blocks_[count_member(j, "index")] = b;
  }

  void on_block_delta(const json& j, std::string& out) {
    const json* d = member(j, "delta");
    if (d == nullptr) {
      return;
    }
    std::string type = string_member(*d, "type");
    auto it = blocks_.find(count_member(j, "index"));
    if (type == "text_delta") {
      emit_text(string_member(*d, "text"), out);
    } else if (type == "input_json_delta") {
      if (it == blocks_.end() || it->second.kind != BlockKind::tool) {
        return;  // a server tool's input
      }
      std::string partial = string_member(*d, "partial_json");
      if (partial.empty()) {
        return;  // the API opens every tool input with an empty fragment
      }
      it->second.has_arguments = true;
      emit_arguments(it->second.tool_index, std::move(partial), out);
    } else if (type == "thinking_delta") {
      // Not part of OpenAI's schema; reasoning_content is the convention of DeepSeek, xAI and
      // LiteLLM, and clients that don't know it ignore it.
      std::string thinking = string_member(*d, "thinking");
      if (!thinking.empty()) {
        ordered_json delta;
        delta["reasoning_content"] = std::move(thinking);
        emit(delta, {}, out);
        has_content_ = true;
      }
    } else if (type == "signature_delta") {
      // The end of a thinking block: its signature, which Anthropic checks when the turn is
      // replayed (the canonical model's thinking_blocks, LiteLLM's name and shape).
      ordered_json item;
      item["type"] = "thinking";
      item["thinking"] = "";
      item["signature"] = string_member(*d, "signature");
      emit_thinking_block(std::move(item), out);
    }
    // citations_delta: nothing in the canonical model carries it yet.
  }

  void emit_thinking_block(ordered_json item, std::string& out) {
    ordered_json delta;
    delta["thinking_blocks"] = ordered_json::array({std::move(item)});
    emit(delta, {}, out);
    has_content_ = true;
  }

  void on_block_stop(const json& j, std::string& out) {
    auto it = blocks_.find(count_member(j, "index"));
    if (it != blocks_.end() && it->second.kind == BlockKind::tool && !it->second.has_arguments) {
      // A call without arguments streams only "": the client would parse "" and fail, and
      // OpenAI itself sends "{}" for such calls.
      it->second.has_arguments = true;
      emit_arguments(it->second.tool_index, "{}", out);
    }
  }

  void on_message_delta(const json& j, std::string& out) {
    if (const json* usage = member(j, "usage")) {
      // output_tokens is cumulative; newer API versions repeat the input counts here, and
      // those are the final ones.
      tokens_.read(*usage);
      usage_ = tokens_.gateway();
    }
    const json* d = member(j, "delta");
    std::string stop_reason = d != nullptr ? string_member(*d, "stop_reason") : std::string();
    if (stop_reason.empty() || finish_sent_) {
      return;
    }
    std::string_view reason = anthropic_finish_reason(stop_reason);
    if (reason == "tool_calls" && tool_count_ == 0) {
      reason = "stop";  // only server tools were used: there is nothing for the client to run
    }
    emit_finish(reason, out);
  }

  void emit_finish(std::string_view reason, std::string& out) {
    finish_sent_ = true;
    has_content_ = true;
    emit(ordered_json::object(), reason, out);
  }

  // After the finish chunk: the usage chunk when the client asked for it, then [DONE].
  void end(std::string& out) {
    if (client_wants_usage_) {
      out += "data: ";
      out += head_;
      out += R"(,"choices":[],"usage":)";
      out += dump(tokens_.openai());
      out += "}\n\n";
    }
    out += "data: [DONE]\n\n";
    done_ = true;
  }

  void emit_text(std::string text, std::string& out) {
    if (text.empty()) {
      return;
    }
    ordered_json delta;
    delta["content"] = std::move(text);
    emit(delta, {}, out);
    has_content_ = true;
  }

  void emit_arguments(std::size_t tool_index, std::string arguments, std::string& out) {
    ordered_json call;
    call["index"] = tool_index;
    call["function"] = {{"arguments", std::move(arguments)}};
    ordered_json delta;
    delta["tool_calls"] = ordered_json::array({std::move(call)});
    emit(delta, {}, out);
  }

  // One OpenAI chunk: {id, object, created, model, choices:[{index, delta, logprobs,
  // finish_reason}]}, in OpenAI's own key order.
  void emit(const ordered_json& delta, std::string_view finish_reason, std::string& out) {
    out += "data: ";
    out += head_;
    out += R"(,"choices":[{"index":0,"delta":)";
    out += dump(delta);
    out += R"(,"logprobs":null,"finish_reason":)";
    if (finish_reason.empty()) {
      out += "null";
    } else {
      out += '"';
      out += finish_reason;
      out += '"';
    }
    out += "}]}\n\n";
  }

  TokenCounts tokens_;
  std::string head_;  // `{"id":…,"object":…,"created":…,"model":…` shared by every chunk
  std::map<std::uint64_t, Block> blocks_;  // by Anthropic block index
  std::size_t tool_count_ = 0;
  bool client_wants_usage_;
  std::size_t max_depth_;
  bool started_ = false;
  bool finish_sent_ = false;
};

}  // namespace

std::string_view anthropic_finish_reason(std::string_view stop_reason) {
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded" ||
      stop_reason == "compaction") {
    return "length";
  }
  if (stop_reason == "tool_use") {
    return "tool_calls";
  }
  if (stop_reason == "refusal") {
    return "content_filter";
  }
  return "stop";  // end_turn, stop_sequence, pause_turn, and reasons added later
}

std::optional<std::string> AnthropicAdapter::unsupported(
    Operation op, const nlohmann::json& body, const config::ProviderConfig& provider,
    const config::TargetConfig&) const {
  if (op != Operation::chat) {
    return rejected(provider, std::string(to_string(op)));
  }
  if (auto n = number(member(body, "n")); n && *n > 1) {
    return rejected(provider, "n > 1");
  }
  if (const json* v = member(body, "logprobs"); v != nullptr && v->is_boolean() && v->get<bool>()) {
    return rejected(provider, "logprobs");
  }
  if (auto v = number(member(body, "top_logprobs")); v && *v > 0) {
    return rejected(provider, "top_logprobs");
  }
  if (is_set(member(body, "audio"))) {
    return rejected(provider, "audio output");
  }
  if (const json* m = member(body, "modalities"); m != nullptr && m->is_array()) {
    for (const json& modality : *m) {
      if (!modality.is_string() || modality.get<std::string>() != "text") {
        return rejected(provider, "modalities other than text");
      }
    }
  }
  for (const char* penalty : {"presence_penalty", "frequency_penalty"}) {
    if (auto v = number(member(body, penalty)); v && *v != 0) {
      return rejected(provider, std::string(penalty));
    }
  }
  if (const json* bias = member(body, "logit_bias"); bias != nullptr && bias->is_object() &&
                                                     !bias->empty()) {
    return rejected(provider, "logit_bias");
  }
  if (const json* effort = member(body, "reasoning_effort"); is_set(effort)) {
    // Extended thinking needs a token budget, constrains sampling and its blocks must be
    // replayed in tool loops; "none"/"minimal" is what Claude does without it.
    std::string e = effort->is_string() ? effort->get<std::string>() : std::string();
    if (e != "none" && e != "minimal") {
      return rejected(provider, "reasoning_effort '" + e + "'");
    }
  }
  if (is_set(member(body, "web_search_options"))) {
    return rejected(provider, "web_search_options");
  }
  if (is_set(member(body, "functions")) || is_set(member(body, "function_call"))) {
    return rejected(provider, "functions/function_call (deprecated; use tools)");
  }
  if (const json* format = member(body, "response_format"); is_set(format)) {
    std::string type = string_member(*format, "type");
    if (type == "json_schema") {
      const json* spec = member(*format, "json_schema");
      const json* schema = spec != nullptr ? member(*spec, "schema") : nullptr;
      if (schema == nullptr || !schema->is_object()) {
        return rejected(provider, "response_format json_schema without a schema");
      }
    } else if (type != "text") {
      // json_object has no Anthropic equivalent that guarantees JSON without a schema.
      return rejected(provider, "response_format '" + type + "' (use json_schema)");
    }
  }
  if (const json* tools = member(body, "tools"); tools != nullptr && tools->is_array()) {
    for (std::size_t i = 0; i < tools->size(); ++i) {
      std::string type = string_member((*tools)[i], "type");
      if (type != "function" || member((*tools)[i], "function") == nullptr) {
        return rejected(provider, "tools[" + std::to_string(i) + "] of type '" + type + "'");
      }
    }
  }
  if (const json* choice = member(body, "tool_choice"); choice != nullptr && choice->is_object()) {
    if (string_member(*choice, "type") != "function") {
      return rejected(provider, "tool_choice of type '" + string_member(*choice, "type") + "'");
    }
  }
  if (const json* stop = member(body, "stop"); is_set(stop)) {
    auto check = [&](const json& s) -> std::optional<std::string> {
      if (s.is_string() && blank(s.get_ref<const std::string&>())) {
        return rejected(provider, "a stop sequence made only of whitespace");
      }
      return std::nullopt;
    };
    if (stop->is_array()) {
      for (const json& s : *stop) {
        if (auto why = check(s)) {
          return why;
        }
      }
    } else if (auto why = check(*stop)) {
      return why;
    }
  }
  if (const json* messages = member(body, "messages")) {
    return check_messages(*messages, provider);
  }
  return std::nullopt;
}

UpstreamRequest AnthropicAdapter::build_request(Operation, nlohmann::json& body,
                                                const config::ProviderConfig& provider,
                                                const config::TargetConfig& target,
                                                const RequestOptions& options) const {
  json out = json::object();
  out["model"] = target.model;

  std::uint64_t max_tokens = count_member(body, "max_completion_tokens");
  if (max_tokens == 0) {
    max_tokens = count_member(body, "max_tokens");
  }
  out["max_tokens"] = max_tokens > 0 ? max_tokens : kDefaultMaxTokens;

  const json* messages = member(body, "messages");
  auto rendered = render_messages(messages != nullptr ? *messages : kNull);
  if (!rendered.system.empty()) {
    bool cached = std::any_of(rendered.system.begin(), rendered.system.end(),
                              [](const json& b) { return b.contains("cache_control"); });
    if (cached) {
      out["system"] = std::move(rendered.system);  // blocks keep their cache breakpoints
    } else {
      std::string system;
      for (const json& b : rendered.system) {
        if (!system.empty()) {
          system += "\n\n";
        }
        system += string_member(b, "text");
      }
      out["system"] = std::move(system);
    }
  }
  out["messages"] = std::move(rendered.messages);

  const json* tools = member(body, "tools");
  json rendered_tools = tools != nullptr && tools->is_array() ? render_tools(*tools) : json();
  if (rendered_tools.is_array() && !rendered_tools.empty()) {
    json choice = render_tool_choice(member(body, "tool_choice"));
    const json* parallel = member(body, "parallel_tool_calls");
    if (parallel != nullptr && parallel->is_boolean() && !parallel->get<bool>() &&
        choice["type"] != "none") {
      choice["disable_parallel_tool_use"] = true;
    }
    out["tools"] = std::move(rendered_tools);
    if (member(body, "tool_choice") != nullptr || choice.contains("disable_parallel_tool_use")) {
      out["tool_choice"] = std::move(choice);
    }
  }
  // A history with tool_use/tool_result blocks and no `tools` is sent as it is: the API accepts
  // it (recorded in http-nock-tool-runner.json), older documentation notwithstanding.

  if (const json* stop = member(body, "stop"); is_set(stop)) {
    json sequences = json::array();
    if (stop->is_string()) {
      sequences.push_back(*stop);
    } else if (stop->is_array()) {
      for (const json& s : *stop) {
        if (s.is_string()) {
          sequences.push_back(s);
        }
      }
    }
    if (!sequences.empty()) {
      out["stop_sequences"] = std::move(sequences);
    }
  }
  if (auto t = number(member(body, "temperature"))) {
    out["temperature"] = std::min(*t, kMaxTemperature);
  }
  if (auto p = number(member(body, "top_p"))) {
    out["top_p"] = *p;
  }
  if (const json* k = member(body, "top_k"); k != nullptr && k->is_number_integer()) {
    out["top_k"] = *k;  // not OpenAI's, but vLLM-style clients send it and Anthropic has it
  }
  if (const json* format = member(body, "response_format");
      is_set(format) && string_member(*format, "type") == "json_schema") {
    const json* spec = member(*format, "json_schema");
    const json* schema = spec != nullptr ? member(*spec, "schema") : nullptr;
    if (schema != nullptr) {
      out["output_config"] = {{"format", {{"type", "json_schema"}, {"schema", *schema}}}};
    }
  }
  if (const json* thinking = member(body, "thinking"); is_set(thinking)) {
    out["thinking"] = *thinking;  // the Anthropic face's extension, Anthropic's own shape
  }
  if (options.stream) {
    out["stream"] = true;
  }
  // Dropped without a word because they do not change the answer: user, seed (best effort
  // only), store, metadata, service_tier, prediction, stream_options (Anthropic streams always
  // carry usage), parallel_tool_calls true (Anthropic's default).

  UpstreamRequest req;
  req.target = provider.url.path + "/messages";
  req.body = dump(out);
  req.headers.reserve(3 + provider.headers.size());
  req.headers.emplace_back("content-type", "application/json");
  add_credentials(req.headers, provider);
  return req;
}

Translated AnthropicAdapter::translate_response(Operation, std::string body,
                                                const RequestOptions& options,
                                                Usage& usage) const {
  if (blank(body)) {
    return common::err(bad_response("an empty body"));
  }
  auto msg = parse_upstream_json(body, options.max_json_depth);
  if (msg.is_discarded()) {
    return common::err(bad_response("a body that is not JSON or nests deeper than " +
                                    std::to_string(options.max_json_depth) + " levels"));
  }
  if (!msg.is_object() || !msg.contains("content") || !msg["content"].is_array()) {
    return common::err(bad_response("JSON that is not a message (no 'content' array)"));
  }
  if (options.native) {
    // The client speaks Messages too: the answer goes as Anthropic wrote it.
    TokenCounts tokens;
    if (const json* u = member(msg, "usage")) {
      tokens.read(*u);
    }
    usage = tokens.gateway();
    return body;
  }
  std::string text;
  bool has_text = false;
  std::string reasoning;
  ordered_json thinking_blocks = ordered_json::array();
  ordered_json tool_calls = ordered_json::array();
  if (const json* content = member(msg, "content"); content != nullptr && content->is_array()) {
    for (const json& block : *content) {
      std::string type = string_member(block, "type");
      if (type == "text") {
        text += string_member(block, "text");
        has_text = true;
      } else if (type == "thinking") {
        reasoning += string_member(block, "thinking");
        ordered_json item;
        item["type"] = "thinking";
        item["thinking"] = string_member(block, "thinking");
        item["signature"] = string_member(block, "signature");
        thinking_blocks.push_back(std::move(item));
      } else if (type == "redacted_thinking") {
        ordered_json item;
        item["type"] = "redacted_thinking";
        item["data"] = string_member(block, "data");
        thinking_blocks.push_back(std::move(item));
      } else if (type == "tool_use") {
        const json* input = member(block, "input");
        ordered_json call;
        call["id"] = string_member(block, "id");
        call["type"] = "function";
        call["function"] = {{"name", string_member(block, "name")},
                            {"arguments", input != nullptr ? dump(*input) : std::string("{}")}};
        tool_calls.push_back(std::move(call));
      }
      // Server-tool blocks (server_tool_use, web_search_tool_result, mcp_*) ran upstream and
      // have no OpenAI form; their outcome is in the text.
    }
  }
  std::string_view finish = anthropic_finish_reason(string_member(msg, "stop_reason"));
  if (finish == "tool_calls" && tool_calls.empty()) {
    finish = "stop";
  }

  TokenCounts tokens;
  if (const json* u = member(msg, "usage")) {
    tokens.read(*u);
  }
  usage = tokens.gateway();

  ordered_json message;
  message["role"] = "assistant";
  message["content"] = has_text ? ordered_json(text) : ordered_json(nullptr);
  if (!tool_calls.empty()) {
    message["tool_calls"] = std::move(tool_calls);
  }
  message["refusal"] = nullptr;
  if (!reasoning.empty()) {
    message["reasoning_content"] = std::move(reasoning);
  }
  if (!thinking_blocks.empty()) {
    message["thinking_blocks"] = std::move(thinking_blocks);
  }
  ordered_json choice;
  choice["index"] = 0;
  choice["message"] = std::move(message);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish;

  ordered_json out;
  out["id"] = string_member(msg, "id");
  out["object"] = "chat.completion";
  out["created"] = now_seconds();
  out["model"] = string_member(msg, "model");
  out["choices"] = ordered_json::array({std::move(choice)});
  out["usage"] = tokens.openai();
  return dump(out);
}

void AnthropicAdapter::add_auth_headers(std::vector<Header>& headers,
                                        const config::ProviderConfig& provider) const {
  if (!provider.api_key.empty()) {
    headers.emplace_back("x-api-key", provider.api_key);
  }
  headers.emplace_back("anthropic-version", provider.api_version.empty()
                                                ? std::string(kDefaultApiVersion)
                                                : provider.api_version);
}

std::unique_ptr<StreamTranslator> AnthropicAdapter::make_stream_translator(
    Operation, const RequestOptions& options) const {
  return std::make_unique<AnthropicStreamTranslator>(options.client_wants_usage,
                                                     options.max_json_depth);
}

api::Failure AnthropicAdapter::classify_error(
    int status, std::string_view body,
    std::optional<std::chrono::milliseconds> retry_after) const {
  using api::FailureClass;
  api::Failure f;
  f.status = status;
  f.retry_after = retry_after;
  std::string type;
  std::string message;
  std::string error_code;
  auto parsed = parse_upstream_json(body);
  if (const json* err = member(parsed, "error"); err != nullptr && err->is_object()) {
    type = string_member(*err, "type");
    message = string_member(*err, "message");
    if (const json* details = member(*err, "details")) {
      error_code = string_member(*details, "error_code");
    }
  }
  f.message = "HTTP " + std::to_string(status) + (message.empty() ? "" : ": " + message);

  // The error type first, the status when the body has none (a proxy's page, an empty body).
  if (type.empty()) {
    type = status == 429   ? "rate_limit_error"
           : status == 529 ? "overloaded_error"
           : status == 401 ? "authentication_error"
           : status == 402 ? "billing_error"
           : status == 403 ? "permission_error"
           : status == 404 ? "not_found_error"
           : status == 408 || status == 409 ? "conflict_error"
           : status == 413 ? "request_too_large"
           : status >= 500 ? "api_error"
                           : "invalid_request_error";
  }
  if (type == "rate_limit_error") {
    // A monthly spend cap is not transient: retrying the same key only burns the budget.
    f.cls = error_code == "enforced_spend_limit_reached" ? FailureClass::quota_exhausted
                                                         : FailureClass::rate_limited;
  } else if (type == "overloaded_error") {
    f.cls = FailureClass::overloaded;
  } else if (type == "api_error" || type == "timeout_error") {
    f.cls = FailureClass::server_error;
  } else if (type == "authentication_error" || type == "permission_error") {
    f.cls = FailureClass::provider_auth;  // the key is the gateway's, not the client's
  } else if (type == "billing_error") {
    f.cls = FailureClass::quota_exhausted;
  } else if (type == "not_found_error") {
    f.cls = FailureClass::model_not_found;
  } else if (type == "conflict_error") {
    f.cls = FailureClass::conflict;
  } else if (type == "invalid_request_error") {
    // Anthropic has no code for context overflow; these two phrasings are its messages for
    // it ("prompt is too long: 208310 tokens > 200000 maximum", "input length and `max_tokens`
    // exceed context limit: ...").
    std::string lower = to_lower(message);
    bool overflow = lower.find("prompt is too long") != std::string::npos ||
                    lower.find("exceed context limit") != std::string::npos;
    f.cls = overflow ? FailureClass::context_length : FailureClass::client_error;
  } else {
    f.cls = status >= 500 ? FailureClass::server_error : FailureClass::client_error;
  }

  // A client fault is passed to the client, which speaks OpenAI: give it OpenAI's error shape
  // (every OpenAI SDK reads error.message/type/code from it) with Anthropic's message and type.
  std::string client_message = message;
  if (client_message.empty()) {
    client_message = parsed.is_discarded() && !body.empty()
                         ? std::string(body.substr(0, 1000))
                         : "upstream answered HTTP " + std::to_string(status);
  }
  json error = {{"message", std::move(client_message)},
                {"type", type},
                {"param", nullptr},
                {"code", f.cls == FailureClass::context_length ? json("context_length_exceeded")
                                                               : json(nullptr)}};
  f.body = dump(json{{"error", std::move(error)}});
  return f;
}

}  // namespace llmgw::providers
