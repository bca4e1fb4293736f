#include "providers/openai/openai_adapter.hpp"
#include "providers/sse_stream_translator.hpp"

#include <nlohmann/json.hpp>

#include "llmgw/api/sse.hpp"
#include "providers/openai/openai_shared.hpp"

namespace llmgw::providers {
namespace {

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// `"key":"` followed by at least one character of the string.
bool has_nonempty_string(std::string_view data, std::string_view key_and_quote) {
  auto pos = data.find(key_and_quote);
  return pos != std::string_view::npos && pos + key_and_quote.size() < data.size() &&
         data[pos + key_and_quote.size()] != '"';
}

// The opening chunk of a chat stream: a role and empty content, nothing of the answer yet.
// Ollama repeats the role (with empty content) on every chunk, also while it streams
// delta.reasoning: reasoning text is part of what the client sees, so it is content.
bool is_role_only(std::string_view data) {
  return contains(data, "\"role\"") &&
         (contains(data, "\"content\":\"\"") || contains(data, "\"content\":null")) &&
         !contains(data, "\"tool_calls\"") && !contains(data, "\"finish_reason\":\"") &&
         !contains(data, "\"refusal\":\"") && !has_nonempty_string(data, "\"reasoning\":\"") &&
         !has_nonempty_string(data, "\"reasoning_content\":\"");
}

// Azure's stream opener: `choices: []` and no usage (the usage chunk has empty choices too).
bool is_empty_choices_without_usage(std::string_view data) {
  if (!contains(data, "\"choices\":[]") && !contains(data, "\"choices\": []")) {
    return false;
  }
  auto j = parse_upstream_json(data);
  if (!j.is_object()) {
    return false;
  }
  auto choices = j.find("choices");
  auto usage = j.find("usage");
  return choices != j.end() && choices->is_array() && choices->empty() &&
         (usage == j.end() || usage->is_null());
}

// An error event in place of a chunk, in any of the shapes OpenAI-compatible servers use:
// {"error":{...}}, Ollama's {"error":"..."}, older vLLM's {"object":"error",...} and Gemini
// compat's [{"error":{...}}]. A chunk merely mentioning "error" in its text is none of these.
bool is_error_event(const nlohmann::json& j) {
  if (j.is_array()) {
    return !j.empty() && j.front().is_object() && j.front().contains("error");
  }
  if (!j.is_object()) {
    return false;
  }
  if (auto it = j.find("error"); it != j.end() && (it->is_object() || it->is_string())) {
    return true;
  }
  auto object = j.find("object");
  return object != j.end() && object->is_string() && *object == "error";
}

class OpenAiStreamTranslator final : public SseStreamTranslator {
public:
  explicit OpenAiStreamTranslator(const OpenAiStreamOptions& options)
      : client_wants_usage_(options.client_wants_usage),
        drop_empty_choices_(options.drop_empty_choices),
        max_depth_(options.max_json_depth) {}

private:
  bool on_end(std::string& out) override {
    if (saw_finish_) {
      // Some compatible servers end without [DONE]; the clients we serve expect it.
      out += "data: [DONE]\n\n";
      done_ = true;
      return true;
    }
    failure_ = bad_response("a stream that ended without finishing (no finish_reason, no [DONE])");
    return false;
  }

  void on_event(const api::SseEvent& ev, std::string& out) override {
    if (done_ || failure_) {
      return;
    }
    std::string_view data = ev.data;
    if (data == "[DONE]") {
      done_ = true;
      out += "data: [DONE]\n\n";
      return;
    }
    if (at_eof_ && !parse_upstream_json(data, max_depth_).is_object()) {
      return;  // an event the upstream cut off mid-way at its end: not relayed broken
    }
    // Relayed without a parse, so checked by scanning: nesting within the limit (the client's
    // parser may recurse), and the one member every chunk has.
    if (api::nesting_exceeds(data, max_depth_)) {
      failure_ = bad_response("a stream event nested deeper than " + std::to_string(max_depth_) +
                              " levels");
      return;
    }
    // Cheap substring checks first: most chunks are plain deltas and are relayed untouched.
    if (contains(data, "\"error\"")) {
      auto j = parse_upstream_json(data, max_depth_);
      if (is_error_event(j)) {
        auto msg = parse_upstream_error(data).message;
        failure_ = api::Failure{api::FailureClass::server_error, 0, std::nullopt,
                                "upstream stream error: " + (msg.empty() ? "error" : msg),
                                std::string(data)};
        return;
      }
    }
    if (!contains(data, "\"choices\"")) {
      failure_ = bad_response("a stream event that is not a chat chunk (no 'choices')");
      return;
    }
    if (drop_empty_choices_ && is_empty_choices_without_usage(data)) {
      return;
    }
    if (contains(data, "\"usage\":{") || contains(data, "\"usage\": {")) {
      auto u = scan_usage(data);
      if (u.present) {
        usage_ = u;
      }
      if (!client_wants_usage_) {
        // We asked for usage on the client's behalf; drop the extra usage-only chunk.
        auto j = parse_upstream_json(data, max_depth_);
        if (j.is_object()) {
          auto it = j.find("choices");
          if (it == j.end() || (it->is_array() && it->empty())) {
            return;
          }
        }
      }
    }
    if (!saw_finish_ && contains(data, "\"finish_reason\":\"")) {
      saw_finish_ = true;
    }
    if (!has_content_ && !is_role_only(data)) {
      has_content_ = true;
    }
    out += "data: ";
    out += data;
    out += "\n\n";
  }

  bool client_wants_usage_;
  bool drop_empty_choices_;
  std::size_t max_depth_;
  bool saw_finish_ = false;
};

}  // namespace

std::unique_ptr<StreamTranslator> make_openai_stream_translator(
    const OpenAiStreamOptions& options) {
  return std::make_unique<OpenAiStreamTranslator>(options);
}

UpstreamRequest OpenAiAdapter::build_request(Operation op, nlohmann::json& body,
                                             const config::ProviderConfig& provider,
                                             const config::TargetConfig& target,
                                             const RequestOptions& options) const {
  UpstreamRequest req;
  req.target = provider.url.path;
  req.target += openai_path_for(op);
  req.headers.reserve(2 + provider.headers.size());
  render_openai_body(op, body, target, options, kind_, req);
  add_credentials(req.headers, provider);
  return req;
}

void OpenAiAdapter::add_auth_headers(std::vector<Header>& headers,
                                     const config::ProviderConfig& provider) const {
  if (!provider.api_key.empty()) {
    headers.emplace_back("Authorization", "Bearer " + provider.api_key);
  }
}

Translated OpenAiAdapter::translate_response(Operation op, std::string body,
                                             const RequestOptions& options, Usage& usage) const {
  if (auto failure = check_openai_answer(op, body, options.max_json_depth)) {
    return common::err(std::move(*failure));
  }
  usage = scan_usage(body);
  return body;
}

std::unique_ptr<StreamTranslator> OpenAiAdapter::make_stream_translator(
    Operation, const RequestOptions& options) const {
  OpenAiStreamOptions stream_options;
  stream_options.client_wants_usage = options.client_wants_usage;
  stream_options.max_json_depth = options.max_json_depth;
  return make_openai_stream_translator(stream_options);
}

api::Failure OpenAiAdapter::classify_error(
    int status, std::string_view body,
    std::optional<std::chrono::milliseconds> retry_after) const {
  // openai too: a proxy in front of it may still answer a non-OpenAI body.
  return classify_openai_family_error(kind_ == config::ProviderKind::openai_compatible
                                          ? ErrorDialect::compatible
                                          : ErrorDialect::openai,
                                      status, body, retry_after);
}

std::optional<std::string> OpenAiAdapter::unsupported(Operation, const nlohmann::json& body,
                                                    const config::ProviderConfig& provider,
                                                    const config::TargetConfig&) const {
  return refuse_thinking(body, provider);
}

}  // namespace llmgw::providers
