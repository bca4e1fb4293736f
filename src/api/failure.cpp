#include "llmgw/api/failure.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "llmgw/api/json.hpp"

namespace llmgw::api {

std::string_view to_string(FailureClass c) {
  switch (c) {
    case FailureClass::connect: return "connect";
    case FailureClass::tls: return "tls";
    case FailureClass::timeout: return "timeout";
    case FailureClass::stall: return "stall";
    case FailureClass::server_error: return "server_error";
    case FailureClass::overloaded: return "overloaded";
    case FailureClass::conflict: return "conflict";
    case FailureClass::rate_limited: return "rate_limited";
    case FailureClass::quota_exhausted: return "quota_exhausted";
    case FailureClass::provider_auth: return "provider_auth";
    case FailureClass::context_length: return "context_length";
    case FailureClass::content_policy: return "content_policy";
    case FailureClass::client_error: return "client_error";
    case FailureClass::model_not_found: return "model_not_found";
    case FailureClass::bad_response: return "bad_response";
    case FailureClass::local_limit: return "local_limit";
    case FailureClass::cancelled: return "cancelled";
  }
  return "unknown";
}

FailurePolicy failure_policy(FailureClass c) {
  using enum FailOver;
  using enum Cooldown;
  //                               retry same, fail over, harms, client fault, cool-down, status
  switch (c) {
    case FailureClass::connect: return {true, any, true, false, retry_after, 503};
    case FailureClass::tls: return {false, any, true, false, retry_after, 503};
    case FailureClass::timeout: return {true, any, true, false, retry_after, 504};
    case FailureClass::stall: return {true, any, true, false, retry_after, 503};
    case FailureClass::server_error: return {true, any, true, false, retry_after, 503};
    case FailureClass::overloaded: return {true, any, true, false, retry_after, 503};
    // Busy, not broken: another target or a later try may succeed; the target keeps its health.
    case FailureClass::conflict: return {true, any, false, false, retry_after, 503};
    case FailureClass::rate_limited: return {true, any, false, false, retry_after, 503};
    case FailureClass::quota_exhausted: return {false, any, false, false, quota, 503};
    case FailureClass::provider_auth: return {false, any, true, false, key_rejected, 503};
    // Only a bigger window can help; without one the client learns what to cut.
    case FailureClass::context_length: return {false, larger_context, false, true, none, 0};
    case FailureClass::content_policy: return {false, nowhere, false, true, none, 0};
    case FailureClass::client_error: return {false, nowhere, false, true, none, 0};
    // The target's configured model is wrong: the client cannot fix it, another target can.
    case FailureClass::model_not_found: return {false, any, true, false, retry_after, 503};
    // Fails over like a 5xx and harms the target; the same target is not asked again (the next
    // answer is likely as broken).
    case FailureClass::bad_response: return {false, any, true, false, retry_after, 503};
    case FailureClass::local_limit: return {false, any, false, false, none, 503};
    // The gateway's own decision (client gone, hedge lost, drain): never the target's fault,
    // and nothing is left to do for the request.
    case FailureClass::cancelled: return {false, nowhere, false, false, none, 499};
  }
  return {false, nowhere, false, false, none, 503};
}

FailureClass status_failure_class(int status) {
  if (status == 429) {
    return FailureClass::rate_limited;
  }
  if (status == 408 || status == 409) {
    return FailureClass::conflict;
  }
  if (status == 529) {
    return FailureClass::overloaded;
  }
  if (status >= 500) {
    return FailureClass::server_error;
  }
  if (status == 401 || status == 403) {
    return FailureClass::provider_auth;
  }
  return FailureClass::client_error;
}

std::chrono::milliseconds upstream_delay(double millis) {
  constexpr double kDay = 24.0 * 3600 * 1000;
  return std::chrono::milliseconds(static_cast<long long>(std::clamp(millis, 0.0, kDay)));
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view retry_after_ms,
                                                           std::string_view retry_after) {
  auto parse_number = [](std::string_view s) -> std::optional<double> {
    while (!s.empty() && s.front() == ' ') {
      s.remove_prefix(1);
    }
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || !std::isfinite(v) || v < 0) {
      return std::nullopt;
    }
    return v;
  };
  if (auto ms = parse_number(retry_after_ms)) {
    return upstream_delay(*ms);
  }
  if (auto s = parse_number(retry_after)) {
    return upstream_delay(*s * 1000);
  }
  return std::nullopt;  // HTTP-date form is rare from LLM providers; treated as absent
}

Failure classify_openai_error(int status, std::string_view body,
                              std::optional<std::chrono::milliseconds> retry_after) {
  Failure f;
  f.status = status;
  f.retry_after = retry_after;
  f.body = std::string(body);
  std::string code;
  std::string type;
  std::string message;
  // Structured fields first, status second; never match text of the message (an echoed
  // prompt can contain anything).
  auto bounded = parse_json(body, JsonLimits{kDefaultMaxJsonDepth, false});
  nlohmann::json parsed = bounded ? std::move(*bounded) : nlohmann::json();
  if (parsed.is_object()) {
    const nlohmann::json* err = &parsed;
    if (auto it = parsed.find("error"); it != parsed.end() && it->is_object()) {
      err = &*it;
    }
    auto str = [&](const char* k) -> std::string {
      auto it = err->find(k);
      return it != err->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    code = str("code");
    type = str("type");
    message = str("message");
  }
  f.message = "HTTP " + std::to_string(status) + (message.empty() ? "" : ": " + message);
  if (code == "context_length_exceeded") {
    f.cls = FailureClass::context_length;
  } else if (code == "insufficient_quota" || type == "insufficient_quota") {
    f.cls = FailureClass::quota_exhausted;
  } else if (code == "content_filter" || code == "content_policy_violation") {
    f.cls = FailureClass::content_policy;
  } else if (status == 404 && (code == "model_not_found" || type == "not_found_error")) {
    f.cls = FailureClass::model_not_found;
  } else {
    f.cls = status_failure_class(status);
  }
  return f;
}

}  // namespace llmgw::api
