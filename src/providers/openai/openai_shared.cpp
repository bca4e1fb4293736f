#include "providers/openai/openai_shared.hpp"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "llmgw/common/strings.hpp"

namespace llmgw::providers {
namespace {

using json = nlohmann::json;

// An HTML error page or a long plain-text dump is still worth showing, but not all of it.
constexpr std::size_t kMaxMessageBytes = 2000;

// Trimmed, cut to kMaxMessageBytes and made valid UTF-8: the message ends up in JSON that the
// gateway dumps strictly (the diagnosis of a failed request), where invalid bytes would throw.
std::string capped(std::string_view text) {
  text = common::trim(text);
  json as_string = std::string(text.substr(0, kMaxMessageBytes));
  return json::parse(as_string.dump(-1, ' ', false, json::error_handler_t::replace))
      .get<std::string>();
}

std::string string_field(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// google.rpc.RetryInfo.retryDelay is a protobuf Duration in JSON form: "34.4s".
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty() || text.back() != 's') {
    return std::nullopt;
  }
  text.remove_suffix(1);
  double seconds = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc{} || p != text.data() + text.size() || !std::isfinite(seconds) ||
      seconds < 0) {
    return std::nullopt;
  }
  return api::upstream_delay(seconds * 1000);
}

// Google errors (Gemini's compat layer) put the machine-readable reason and the retry delay in
// typed `details` entries rather than in `code`.
void read_google_details(const json& err, UpstreamError& out) {
  auto details = err.find("details");
  if (details == err.end() || !details->is_array()) {
    return;
  }
  for (const auto& d : *details) {
    if (!d.is_object()) {
      continue;
    }
    auto type = string_field(d, "@type");
    if (type.ends_with("google.rpc.ErrorInfo") && out.reason.empty()) {
      out.reason = string_field(d, "reason");
    } else if (type.ends_with("google.rpc.RetryInfo") && !out.retry_delay) {
      out.retry_delay = parse_duration(string_field(d, "retryDelay"));
    }
  }
}

}  // namespace

std::string_view openai_path_for(Operation op) {
  switch (op) {
    case Operation::chat: return "/chat/completions";
    case Operation::completions: return "/completions";
    case Operation::embeddings: return "/embeddings";
  }
  return "/";
}

namespace {

// The canonical model's Anthropic extensions an OpenAI-format server must not see: the
// thinking blocks of earlier turns (their signatures mean nothing there) always, cache
// breakpoints where the server is OpenAI's own (strict about unknown fields; a prompt-caching
// hint, dropping it changes no answer). OpenAI-compatible servers keep cache_control: some
// (OpenRouter) act on it.
bool has_foreign_extensions(const json& body, bool cache_control) {
  auto has_cache = [&](const json& o) { return cache_control && o.contains("cache_control"); };
  if (auto m = body.find("messages"); m != body.end() && m->is_array()) {
    for (const auto& message : *m) {
      if (!message.is_object()) {
        continue;
      }
      if (message.contains("thinking_blocks")) {
        return true;
      }
      if (auto c = message.find("content"); c != message.end() && c->is_array()) {
        for (const auto& part : *c) {
          if (part.is_object() && has_cache(part)) {
            return true;
          }
        }
      }
    }
  }
  if (auto t = body.find("tools"); t != body.end() && t->is_array()) {
    for (const auto& tool : *t) {
      if (tool.is_object() && has_cache(tool)) {
        return true;
      }
    }
  }
  return false;
}

// A copy of `body` without them (the body itself serves the next attempt, which may go to an
// Anthropic target).
json without_foreign_extensions(const json& body, bool cache_control) {
  json out = body;
  for (auto& message : out["messages"]) {
    if (!message.is_object()) {
      continue;
    }
    message.erase("thinking_blocks");
    if (auto c = message.find("content"); cache_control && c != message.end() && c->is_array()) {
      for (auto& part : *c) {
        if (part.is_object()) {
          part.erase("cache_control");
        }
      }
    }
  }
  if (auto t = out.find("tools"); cache_control && t != out.end() && t->is_array()) {
    for (auto& tool : *t) {
      if (tool.is_object()) {
        tool.erase("cache_control");
      }
    }
  }
  return out;
}

}  // namespace

void render_openai_body(Operation op, nlohmann::json& body, const config::TargetConfig& target,
                        const RequestOptions& options, config::ProviderKind kind,
                        UpstreamRequest& request) {
  body["model"] = target.model;
  if (options.stream && op != Operation::embeddings) {
    body["stream_options"]["include_usage"] = true;
  }
  const bool strip_cache = kind != config::ProviderKind::openai_compatible;
  if (op == Operation::chat && has_foreign_extensions(body, strip_cache)) {
    request.body = without_foreign_extensions(body, strip_cache).dump();
  } else {
    request.body = body.dump();
  }
  request.headers.emplace_back("Content-Type", "application/json");
}

std::optional<api::Failure> check_openai_answer(Operation op, std::string_view body,
                                                std::size_t max_depth) {
  if (common::trim(body).empty()) {
    return bad_response("an empty body");
  }
  const auto* want = op == Operation::embeddings ? "data" : "choices";
  auto shape = api::scan_json(body, max_depth, {want, "error"});
  if (!shape.valid) {
    return bad_response(shape.problem);
  }
  if (!shape.object) {
    return bad_response("JSON that is not an object");
  }
  if (shape.type(1) != json::value_t::discarded && shape.type(0) == json::value_t::discarded) {
    auto error = parse_upstream_error(body);
    return bad_response("an error: " + (error.message.empty() ? "unknown" : error.message));
  }
  if (shape.type(0) != json::value_t::array) {
    return bad_response(std::string("JSON without a '") + want + "' array");
  }
  return std::nullopt;
}

UpstreamError parse_upstream_error(std::string_view body) {
  UpstreamError e;
  auto parsed = parse_upstream_json(body);
  if (parsed.is_array() && !parsed.empty() && parsed.front().is_object()) {
    json first = std::move(parsed.front());  // Gemini compat: [{"error":{...}}]
    parsed = std::move(first);
  } else if (parsed.is_object()) {
    if (auto it = parsed.find("error"); it != parsed.end() && it->is_object()) {
      e.openai_shaped = it->contains("message") && (*it)["message"].is_string();
    }
  }
  if (!parsed.is_object()) {
    e.message = capped(body);  // not JSON (or a bare JSON value): the text is the message
    return e;
  }
  const json* err = &parsed;  // the unwrapped vLLM shape keeps its fields at the top
  if (auto it = parsed.find("error"); it != parsed.end()) {
    if (it->is_string()) {
      e.message = capped(it->get_ref<const std::string&>());  // Ollama's {"error":"..."}
      return e;
    }
    if (it->is_object()) {
      err = &*it;
    }
  }
  e.message = string_field(*err, "message");
  e.code = string_field(*err, "code");
  e.type = string_field(*err, "type");
  if (auto inner = err->find("innererror"); inner != err->end() && inner->is_object()) {
    e.inner_code = string_field(*inner, "code");
  }
  read_google_details(*err, e);
  if (e.message.empty()) {
    // FastAPI-based servers answer {"detail":"Not Found"}; anything else is shown as sent.
    e.message = string_field(parsed, "detail");
    if (e.message.empty()) {
      e.message = capped(parsed.dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
  return e;
}

std::string openai_error_body(std::string_view body, const UpstreamError& parsed, int status) {
  if (parsed.openai_shaped) {
    return std::string(body);  // the upstream's own fields (param, code) are the most useful
  }
  nlohmann::ordered_json j;
  auto& err = j["error"];
  err["message"] = parsed.message.empty()
                       ? "upstream error (HTTP " + std::to_string(status) + ") without a message"
                       : parsed.message;
  err["type"] = "invalid_request_error";
  err["param"] = nullptr;
  err["code"] = nullptr;
  // replace: a truncated or non-UTF-8 upstream text must not throw here.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

api::Failure classify_openai_family_error(ErrorDialect dialect, int status,
                                          std::string_view body,
                                          std::optional<std::chrono::milliseconds> retry_after) {
  auto parsed = parse_upstream_error(body);
  // One rule table for every dialect: restate the body in the OpenAI shape the shared
  // classifier reads, then add what only a dialect signals.
  json canonical;
  auto& err = canonical["error"];
  err["message"] = parsed.message;
  if (!parsed.code.empty()) {
    err["code"] = parsed.code;
  }
  if (!parsed.type.empty()) {
    err["type"] = parsed.type;
  }
  auto f = api::classify_openai_error(
      status, canonical.dump(-1, ' ', false, json::error_handler_t::replace), retry_after);
  f.body = openai_error_body(body, parsed, status);
  if (!f.retry_after && parsed.retry_delay) {
    f.retry_after = parsed.retry_delay;
  }
  if (parsed.reason == "API_KEY_INVALID") {
    f.cls = api::FailureClass::provider_auth;  // Google reports a bad key as HTTP 400
  }
  switch (dialect) {
    case ErrorDialect::openai:
      break;
    case ErrorDialect::compatible:
      if (status == 404) {
        // We render the path and the target names the model: neither is the client's to fix,
        // and another target may well serve it (vLLM says NotFoundError with code 404).
        f.cls = api::FailureClass::model_not_found;
      } else if (status == 402) {
        f.cls = api::FailureClass::quota_exhausted;  // DeepSeek: our account's balance
      }
      break;
    case ErrorDialect::azure:
      if (f.cls == api::FailureClass::client_error &&
          parsed.inner_code == "ResponsibleAIPolicyViolation") {
        f.cls = api::FailureClass::content_policy;
      } else if (status == 404 || parsed.code == "DeploymentNotFound" ||
                 parsed.code == "OperationNotSupported") {
        // A missing deployment, a wrong endpoint or a deployment whose model cannot do this
        // operation: configuration of the target, which another target may not share.
        f.cls = api::FailureClass::model_not_found;
      }
      break;
  }
  return f;
}

}  // namespace llmgw::providers
