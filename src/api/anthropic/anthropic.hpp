#pragma once
// The Anthropic Messages face (POST /v1/messages), module-private declarations. The gateway's
// canonical model is the OpenAI Chat Completions body, so this face is two translations around
// the ordinary chat path:
//  - the request: an Anthropic Messages body is validated (errors name the JSON path) and
//    decoded into an OpenAI chat body, which the router then routes like any other call;
//  - the answer: AnthropicSink wraps the connection's ByteSink and converts whatever the router
//    writes in the OpenAI format (chat.completion JSON, OpenAI error bodies, `data:` chunk
//    streams ending in [DONE]) into the Anthropic format as it passes, chunk by chunk.
//    An anthropic target's own answer and stream events skip that translation (native relay:
//    send_native, StreamEvent::native); the translator only keeps the state they imply.
// Wire facts: shared/docs/provider-wire-formats.md §4 and §7.4.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/sse.hpp"
#include "llmgw/api/response_sink.hpp"

namespace llmgw::api::anthropic {

inline constexpr std::string_view kMessagesPath = "/v1/messages";

/// Validates an Anthropic Messages request and converts it into an OpenAI chat body (`out`).
/// Returns the 400 to send instead, naming the JSON path at fault (`param`), when the body is
/// malformed or asks for something the gateway cannot serve without changing its meaning.
std::optional<api::GatewayError> anthropic_to_openai(const nlohmann::json& in,
                                                     nlohmann::json& out);

/// anthropic_to_openai in place: on success `body` holds the OpenAI chat body.
std::optional<api::GatewayError> decode_anthropic_request(nlohmann::json& body);

/// Anthropic `error.type` for an HTTP status (§4.5: 400 invalid_request_error, 401
/// authentication_error, 403 permission_error, 404 not_found_error, 413 request_too_large,
/// 429 rate_limit_error, 503/529 overloaded_error, 504 timeout_error, other 5xx api_error).
std::string_view anthropic_error_type(int status);

/// {"type":"error","error":{"type":...,"message":...},"request_id":...} for an error answer
/// whose body is in the OpenAI shape ({"error":{"message":...}}); any other body becomes the
/// message as text. `request_id` may be empty (then omitted).
std::string anthropic_error_body(int status, std::string_view openai_body,
                                 std::string_view request_id);
std::string anthropic_error_body(const api::GatewayError& e, std::string_view request_id);
/// `event: error` with that body: how an Anthropic stream that cannot go on ends.
std::string anthropic_stream_error_event(const api::GatewayError& e);

/// A chat.completion body → an Anthropic message body (id "msg_…", content text and tool_use
/// blocks, stop_reason, usage). nullopt when `body` is not a chat.completion.
std::optional<std::string> openai_completion_to_anthropic(std::string_view body);

/// Anthropic stop_reason for an OpenAI finish_reason (stop→end_turn, length→max_tokens,
/// tool_calls/function_call→tool_use, content_filter→refusal, anything else→end_turn).
std::string_view anthropic_stop_reason(std::string_view finish_reason);

/// Converts an OpenAI chat stream (the bytes of `data: {chunk}` events, any split) into the
/// Anthropic event sequence: message_start, content blocks (text, tool_use) with increasing
/// indexes, message_delta (stop_reason, usage), message_stop; an OpenAI error event becomes
/// `event: error`. Every event has an `event:` line and non-empty JSON data. Only complete
/// events are translated; a partial one waits for the rest of its bytes.
class AnthropicStreamTranslator {
public:
  /// Appends the Anthropic events for `bytes` to `out`.
  void feed(std::string_view bytes, std::string& out);
  /// The same for one event the router already parsed.
  void feed(const api::StreamEvent& e, std::string& out);
  /// The stream ended: finishes the message if the OpenAI stream finished without [DONE], or
  /// ends it with an error event if it never finished.
  void finish(std::string& out);
  /// An event the upstream wrote in this very dialect went to the client as it was: keeps the
  /// message, block and end state it implies (read from its `event:` line, no parse), so a
  /// continuation or an error rendered after it fits the sequence.
  void relayed(std::string_view native_event);
  /// Ends the stream with the gateway's error `e` (unless it already ended).
  void fail(const api::GatewayError& e, std::string& out);
  /// message_stop or an error event went out: nothing more will be produced.
  bool done() const { return done_; }

private:
  enum class Block { none, text, tool, thinking, relayed };
  void on_data(std::string_view data, std::string& out);
  void on_parsed(const nlohmann::json& chunk, std::string& out);
  void on_chunk(const nlohmann::json& chunk, std::string& out);
  void start_message(const nlohmann::json& chunk, std::string& out);
  void close_block(std::string& out);
  void open_text(std::string& out);
  void open_thinking(std::string& out);
  void on_thinking(const nlohmann::json& delta, std::string& out);
  void on_tool_fragment(const nlohmann::json& fragment, std::size_t position, std::string& out);
  void record_usage(const nlohmann::json& usage);
  void end_message(std::string& out);
  void error_event(std::string message, std::string& out);

  api::SseDecoder decoder_;
  bool started_ = false;
  bool done_ = false;
  std::string id_;
  Block open_ = Block::none;
  int open_index_ = -1;
  int next_index_ = 0;
  bool thinking_signed_ = false;  // the open thinking block got its signature: it is complete
  bool relayed_delta_ = false;    // a relayed message_delta: only message_stop is missing
  std::map<std::int64_t, int> tool_blocks_;  // OpenAI tool_calls[].index → block index
  std::optional<std::string> stop_reason_;
  bool have_usage_ = false;
  std::uint64_t input_tokens_ = 0;
  std::uint64_t output_tokens_ = 0;
  std::uint64_t cached_tokens_ = 0;
};

/// The face's ResponseSink on /v1/messages: the router writes canonical (OpenAI-format)
/// answers into it; the client receives Anthropic-format ones with the same status. An
/// anthropic target's own answer and events (native) go through unchanged. Gateway
/// errors are rendered straight in the Anthropic shape. Also copies x-request-id into
/// `request-id` (what Anthropic SDKs read).
class AnthropicSink final : public api::ResponseSink {
public:
  explicit AnthropicSink(api::ByteSink& inner) : inner_(inner) {}

  boost::asio::awaitable<bool> send(int status, std::vector<common::Header> headers,
                                    std::string body) override;
  boost::asio::awaitable<bool> start_stream(int status,
                                            std::vector<common::Header> headers) override;
  boost::asio::awaitable<bool> write(std::string_view bytes) override;
  boost::asio::awaitable<bool> event(const api::StreamEvent& e) override;
  boost::asio::awaitable<bool> events(std::span<const api::StreamEvent> batch) override;
  bool wants_chunks() const override { return true; }
  api::Dialect dialect() const override { return api::Dialect::anthropic; }
  boost::asio::awaitable<bool> send_native(int status, std::vector<common::Header> headers,
                                           std::string body) override;
  boost::asio::awaitable<bool> end_stream() override;
  boost::asio::awaitable<bool> fail(const api::GatewayError& e,
                                    std::vector<common::Header> headers) override;
  bool started() const override { return inner_.started(); }

private:
  api::ByteSink& inner_;
  AnthropicStreamTranslator translator_;
};

}  // namespace llmgw::api::anthropic
