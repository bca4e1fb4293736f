#include "llmgw/api/errors.hpp"

#include <nlohmann/json.hpp>

namespace llmgw::api {
namespace {

GatewayError make(int status, std::string code, std::string type, std::string message,
                  std::string param = {}) {
  return GatewayError{status, std::move(code), std::move(type), std::move(message),
                      std::move(param)};
}

nlohmann::ordered_json error_json(const GatewayError& e) {
  nlohmann::ordered_json err = {{"message", e.message},
                        {"type", e.type},
                        {"param", e.param.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.param)},
                        {"code", e.code}};
  return nlohmann::ordered_json{{"error", std::move(err)}};
}

}  // namespace

std::string echo(std::string_view text, std::size_t max_chars) {
  std::string out;
  bool cut = text.size() > max_chars;
  if (cut) {
    auto n = max_chars;
    // Back up over UTF-8 continuation bytes so the cut does not split a character.
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) {
      --n;
    }
    text = text.substr(0, n);
  }
  out.reserve(text.size() + 3);
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (cut) {
    out += "…";
  }
  return out;
}

GatewayError invalid_request(std::string message, std::string param) {
  return make(400, "invalid_request", "invalid_request_error", std::move(message),
              std::move(param));
}
GatewayError invalid_api_key(std::string message) {
  return make(401, "invalid_api_key", "authentication_error", std::move(message));
}
GatewayError model_not_allowed(std::string_view model) {
  return make(403, "model_not_allowed", "permission_error",
              "This API key may not use model '" + echo(model) + "'.", "model");
}
GatewayError model_not_found(std::string_view model) {
  return make(404, "model_not_found", "invalid_request_error",
              "The model '" + echo(model) + "' does not exist.", "model");
}
GatewayError request_too_large(std::string message) {
  return make(413, "request_too_large", "invalid_request_error", std::move(message));
}
GatewayError not_found_route(std::string_view path) {
  return make(404, "not_found", "invalid_request_error",
              "Unknown path '" + echo(path) + "'.");
}
GatewayError method_not_allowed(std::string_view method, std::string_view path) {
  return make(405, "method_not_allowed", "invalid_request_error",
              "Method " + echo(method, 16) + " is not allowed on '" + echo(path) + "'.");
}
GatewayError headers_too_large(std::string message) {
  return make(431, "request_header_fields_too_large", "invalid_request_error", std::move(message));
}
GatewayError server_shutting_down() {
  return make(503, "server_shutting_down", "server_error",
              "The gateway is shutting down and could not finish this request; retry it.");
}
GatewayError no_healthy_upstream(std::string diagnosis) {
  return make(503, "no_healthy_upstream", "server_error",
              "No healthy upstream: " + std::move(diagnosis));
}
GatewayError upstream_timeout(std::string message) {
  return make(504, "upstream_timeout", "server_error", std::move(message));
}
GatewayError internal_error(std::string message) {
  return make(500, "internal_error", "server_error", std::move(message));
}
GatewayError service_unavailable(std::string message) {
  return make(503, "unavailable", "server_error", std::move(message));
}

std::string openai_error_body(const GatewayError& e) { return error_json(e).dump(); }

std::string openai_stream_error_event(const GatewayError& e) {
  return "data: " + error_json(e).dump() + "\n\n";
}

}  // namespace llmgw::api
