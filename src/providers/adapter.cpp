#include "llmgw/providers/adapter.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "providers/anthropic/anthropic_adapter.hpp"
#include "providers/azure/azure_adapter.hpp"
#include "providers/gemini/gemini_adapter.hpp"
#include "providers/openai/openai_adapter.hpp"
#include "providers/sse_stream_translator.hpp"

namespace llmgw::providers {

std::string ProviderAdapter::health_target(const config::ProviderConfig& provider,
                                           const config::ActiveHealthConfig& check) const {
  return provider.url.path + check.path;
}

void ProviderAdapter::add_credentials(std::vector<Header>& headers,
                                      const config::ProviderConfig& provider) const {
  add_auth_headers(headers, provider);
  for (const auto& [name, value] : provider.headers) {
    headers.emplace_back(name, value);
  }
}

UpstreamRequest ProviderAdapter::build_health_request(
    const config::ProviderConfig& provider, const config::ActiveHealthConfig& check) const {
  UpstreamRequest req;
  req.method = "GET";
  req.target = health_target(provider, check);
  req.headers.reserve(2 + provider.headers.size());
  add_credentials(req.headers, provider);
  return req;
}

bool SseStreamTranslator::feed(std::string_view bytes, std::string& out) {
  if (failure_ || done_) {
    return !failure_;
  }
  const bool ok = decoder_.feed(bytes, [&](const api::SseEvent& event) { accept(event, out); });
  if (!ok && !failure_) {
    failure_ = bad_response("a stream event that is too large");
  }
  return !failure_;
}

void SseStreamTranslator::accept(const api::SseEvent& event, std::string& out) {
  if (failure_ || done_) {
    return;  // one feed() may carry events past the end
  }
  unnamed_type_.clear();
  on_event(event, out);
  if (native_ == nullptr || failure_) {
    return;
  }
  // The event as the upstream wrote it, in a normal form (comments and ids dropped; the SDKs
  // read neither). The data is relayed as it came: no parse, no re-serialisation.
  const std::string_view name = event.event.empty() ? unnamed_type_ : event.event;
  if (!name.empty()) {
    *native_ += "event: ";
    *native_ += name;
    *native_ += '\n';
  }
  std::string_view data = event.data;
  for (;;) {
    const auto nl = data.find('\n');
    *native_ += "data: ";
    *native_ += data.substr(0, nl);
    *native_ += '\n';
    if (nl == std::string_view::npos) {
      break;
    }
    data.remove_prefix(nl + 1);
  }
  *native_ += '\n';
}

bool SseStreamTranslator::finish(std::string& out) {
  if (failure_) {
    return false;
  }
  if (!done_ && decoder_.has_partial()) {
    at_eof_ = true;
    decoder_.feed("\n\n", [&](const api::SseEvent& event) { accept(event, out); });
    if (failure_) {
      return false;
    }
  }
  return done_ || on_end(out);
}

api::Failure bad_response(std::string what) {
  return api::Failure{api::FailureClass::bad_response, 200, std::nullopt,
                      "upstream answered 2xx with " + what, {}};
}

nlohmann::json parse_upstream_json(std::string_view text, std::size_t max_depth) {
  auto parsed = api::parse_json(text, api::JsonLimits{max_depth, false});
  return parsed ? std::move(*parsed) : nlohmann::json(nlohmann::json::value_t::discarded);
}

nlohmann::ordered_json parse_upstream_ordered_json(std::string_view text, std::size_t max_depth) {
  auto parsed = api::parse_ordered_json(text, api::JsonLimits{max_depth, false});
  return parsed ? std::move(*parsed)
                : nlohmann::ordered_json(nlohmann::ordered_json::value_t::discarded);
}

std::shared_ptr<const ProviderAdapter> make_adapter(config::ProviderKind kind) {
  switch (kind) {
    case config::ProviderKind::openai:
    case config::ProviderKind::openai_compatible:
      return std::make_shared<OpenAiAdapter>(kind);
    case config::ProviderKind::azure:
      return std::make_shared<AzureAdapter>();
    case config::ProviderKind::anthropic:
      return std::make_shared<AnthropicAdapter>();
    case config::ProviderKind::gemini:
      return std::make_shared<GeminiAdapter>();
    default:
      return nullptr;  // a kind without an adapter
  }
}

namespace {

// End of the JSON object starting at text[open] ('{'), string-aware; npos if unbalanced.
std::size_t object_end(std::string_view text, std::size_t open) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = open; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (--depth == 0) {
        return i + 1;
      }
    }
  }
  return std::string_view::npos;
}

}  // namespace

// The value of a top-level integer field `"key": 123` inside one JSON object's text.
std::optional<std::uint64_t> integer_field(std::string_view object, std::string_view quoted_key) {
  auto pos = object.find(quoted_key);
  if (pos == std::string_view::npos) {
    return std::nullopt;
  }
  std::size_t i = pos + quoted_key.size();
  while (i < object.size() && (object[i] == ' ' || object[i] == ':' || object[i] == '\n')) {
    ++i;
  }
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(object.data() + i, object.data() + object.size(), v);
  if (ec != std::errc{}) {
    return std::nullopt;
  }
  return v;
}

Usage scan_usage(std::string_view text) {
  Usage usage;
  // The usage object sits at the end of OpenAI bodies: search backwards, and read the two
  // counters without building a JSON document (this runs on every response).
  std::size_t pos = text.rfind("\"usage\"");
  while (pos != std::string_view::npos) {
    std::size_t i = pos + 7;
    while (i < text.size() && (text[i] == ' ' || text[i] == ':' || text[i] == '\n')) {
      ++i;
    }
    if (i < text.size() && text[i] == '{') {
      auto end = object_end(text, i);
      if (end != std::string_view::npos) {
        auto object = text.substr(i, end - i);
        auto prompt = integer_field(object, "\"prompt_tokens\"");
        auto completion = integer_field(object, "\"completion_tokens\"");
        if (prompt || completion) {
          usage.prompt_tokens = prompt.value_or(0);
          usage.completion_tokens = completion.value_or(0);
          usage.present = true;
          return usage;
        }
      }
    }
    if (pos == 0) {
      break;
    }
    pos = text.rfind("\"usage\"", pos - 1);
  }
  return usage;
}

bool thinking_enabled(const nlohmann::json& body) {
  auto t = body.find("thinking");
  if (t == body.end() || !t->is_object()) {
    return false;
  }
  auto type = t->find("type");
  return type == t->end() || *type != "disabled";
}

std::optional<std::string> refuse_thinking(const nlohmann::json& body,
                                           const config::ProviderConfig& provider) {
  if (!thinking_enabled(body)) {
    return std::nullopt;
  }
  std::string why = "'thinking' (extended thinking) is not supported by ";
  why += config::to_string(provider.kind);
  why += " provider '";
  why += provider.name;
  why += "'";
  return why;
}

}  // namespace llmgw::providers
