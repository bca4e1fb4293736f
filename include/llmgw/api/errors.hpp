#pragma once
// Errors the gateway itself produces (SPEC §2), rendered in the ingress API's error shape.
#include <string>
#include <string_view>

namespace llmgw::api {

struct GatewayError {
  int status = 500;
  std::string code;     // invalid_request, invalid_api_key, model_not_found, ...
  std::string type;     // OpenAI error type
  std::string message;  // safe for the client
  std::string param;    // JSON path at fault, empty = null
};

/// Client text echoed into an error or a log line: at most `max_chars` bytes (cut on a UTF-8
/// boundary, "…" appended), control characters replaced, so a 1 MiB model name cannot turn into
/// a 1 MiB answer or log line.
std::string echo(std::string_view client_text, std::size_t max_chars = 128);

GatewayError invalid_request(std::string message, std::string param = {});
GatewayError invalid_api_key(std::string message = "Invalid or missing API key.");
GatewayError model_not_allowed(std::string_view model);
GatewayError model_not_found(std::string_view model);
GatewayError request_too_large(std::string message);
GatewayError headers_too_large(std::string message);    // 431
/// 503 server_shutting_down: the request was still running when the drain timeout ended.
GatewayError server_shutting_down();
GatewayError not_found_route(std::string_view path);
GatewayError method_not_allowed(std::string_view method, std::string_view path);
GatewayError no_healthy_upstream(std::string diagnosis);
GatewayError upstream_timeout(std::string message);
GatewayError internal_error(std::string message);
GatewayError service_unavailable(std::string message);

/// {"error":{"message":...,"type":...,"param":...,"code":...}}
std::string openai_error_body(const GatewayError& e);
/// data: {"error":{...}}\n\n — the in-stream error event every OpenAI client understands.
std::string openai_stream_error_event(const GatewayError& e);

}  // namespace llmgw::api
