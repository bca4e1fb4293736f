// The Anthropic face's ResponseSink: the coroutine half of the face (the translations
// themselves are pure and live in response_encoder.cpp and stream_encoder.cpp).
#include <algorithm>

#include "llmgw/common/header.hpp"
#include "llmgw/common/strings.hpp"
#include "api/anthropic/anthropic.hpp"

namespace llmgw::api::anthropic {

namespace {

// Anthropic SDKs read the request id from `request-id`.
void copy_request_id(std::vector<common::Header>& headers) {
  auto request_id = common::header_value(headers, "x-request-id");
  if (!request_id.empty()) {
    common::set_header(headers, "request-id", std::move(request_id));
  }
}

// Rewrites a complete answer (status may change only when a 2xx body cannot be translated).
std::string translate_complete(int& status, std::vector<common::Header>& headers,
                               std::string body) {
  auto request_id = common::header_value(headers, "x-request-id");
  if (!request_id.empty()) {
    common::set_header(headers, "request-id", request_id);
  }
  common::set_header(headers, "content-type", "application/json");
  if (status >= 200 && status < 300) {
    if (auto message = openai_completion_to_anthropic(body)) {
      return std::move(*message);
    }
    status = 502;
    return anthropic_error_body(status, R"({"error":{"message":"The upstream answer could not be translated to an Anthropic message."}})",
                                request_id);
  }
  return anthropic_error_body(status, body, request_id);
}

void stream_headers(std::vector<common::Header>& headers) {
  copy_request_id(headers);
  common::set_header(headers, "content-type", "text/event-stream; charset=utf-8");
  common::set_header(headers, "cache-control", "no-cache");
}

}  // namespace

boost::asio::awaitable<bool> AnthropicSink::send(int status,
                                                 std::vector<common::Header> headers,
                                                 std::string body) {
  auto translated = translate_complete(status, headers, std::move(body));
  co_return co_await inner_.send(status, std::move(headers), std::move(translated));
}

boost::asio::awaitable<bool> AnthropicSink::send_native(int status,
                                                        std::vector<common::Header> headers,
                                                        std::string body) {
  copy_request_id(headers);
  common::set_header(headers, "content-type", "application/json");
  co_return co_await inner_.send(status, std::move(headers), std::move(body));
}

boost::asio::awaitable<bool> AnthropicSink::start_stream(int status,
                                                         std::vector<common::Header> headers) {
  stream_headers(headers);
  co_return co_await inner_.start_stream(status, std::move(headers));
}

boost::asio::awaitable<bool> AnthropicSink::write(std::string_view bytes) {
  std::string out;
  translator_.feed(bytes, out);
  if (out.empty()) {
    co_return true;  // an incomplete event, or one with nothing to say to an Anthropic client
  }
  co_return co_await inner_.write(out);
}

// One event is a batch of one: the same rendering and relaying, one path.
boost::asio::awaitable<bool> AnthropicSink::event(const api::StreamEvent& e) {
  co_return co_await events(std::span<const api::StreamEvent>(&e, 1));
}

// A batch is rendered (or, native, relayed) into one write.
boost::asio::awaitable<bool> AnthropicSink::events(std::span<const api::StreamEvent> batch) {
  const auto native = contiguous_bytes(batch);
  const bool all_native =
      std::all_of(batch.begin(), batch.end(), [](const auto& e) { return e.native; });
  if (!native.empty() && all_native) {
    for (const auto& e : batch) {
      translator_.relayed(e.sse);
    }
    co_return co_await inner_.write(native);
  }
  std::string out;
  for (const auto& e : batch) {
    if (e.native) {
      translator_.relayed(e.sse);
      out += e.sse;
    } else {
      translator_.feed(e, out);
    }
  }
  if (out.empty()) {
    co_return true;
  }
  co_return co_await inner_.write(out);
}

boost::asio::awaitable<bool> AnthropicSink::end_stream() {
  std::string out;
  translator_.finish(out);
  if (!out.empty()) {
    bool ok = co_await inner_.write(out);
    if (!ok) {
      co_return false;
    }
  }
  co_return co_await inner_.end_stream();
}

boost::asio::awaitable<bool> AnthropicSink::fail(const api::GatewayError& e,
                                                 std::vector<common::Header> headers) {
  if (!inner_.started()) {
    auto request_id = common::header_value(headers, "x-request-id");
    if (!request_id.empty()) {
      common::set_header(headers, "request-id", request_id);
    }
    common::set_header(headers, "content-type", "application/json");
    auto body = anthropic_error_body(e, request_id);
    co_return co_await inner_.send(e.status, std::move(headers), std::move(body));
  }
  std::string out;
  translator_.fail(e, out);
  if (!out.empty()) {
    bool ok = co_await inner_.write(out);
    if (!ok) {
      co_return false;
    }
  }
  co_return co_await inner_.end_stream();
}

}  // namespace llmgw::api::anthropic
