#pragma once
// The OpenAI Responses face (POST /v1/responses), module-private declarations. Like the
// Anthropic face it is two translations around the ordinary chat path:
//  - the request: a Responses body (input items, instructions, function tools, text.format)
//    is validated (errors name the JSON path) and decoded into the canonical chat body;
//  - the answer: ResponsesSink converts the chat.completion JSON, chunk stream and errors the
//    router writes into a response object and the `response.*` event sequence.
// Wire facts: shared/docs/provider-wire-formats.md §7.3; the SDKs' own schemas (openai-node's
// ResponseStream, @ai-sdk/openai's openaiResponsesChunkSchema) decide what must be present.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/responses.hpp"
#include "llmgw/api/response_sink.hpp"
#include "llmgw/api/sse.hpp"

namespace llmgw::api::responses {

/// Validates a Responses request and converts it into a canonical chat body (`out`); fills
/// `turn` (previous_response_id, store, the fields the answer echoes). Returns the 400 to send
/// instead, naming the JSON path at fault, when the body is malformed or asks for something
/// the gateway cannot serve without changing its meaning (built-in tools, background runs).
std::optional<api::GatewayError> responses_to_chat(const nlohmann::json& in, nlohmann::json& out,
                                                   Turn& turn);

/// What the response object reports of the answer, gathered from a complete chat answer or a
/// stream's chunks.
struct Usage {
  bool known = false;
  std::uint64_t input = 0, output = 0, cached = 0, reasoning = 0;
};

/// Usage as a Responses usage object (zeros when unknown).
nlohmann::ordered_json usage_json(const Usage& u);
/// Usage from a chat `usage` object.
Usage read_usage(const nlohmann::json& usage);

/// The whole response object: the turn's id and echoed request fields, `output` items, the
/// status the chat finish reason implies (length and content_filter → incomplete, with why).
nlohmann::ordered_json response_object(const Turn& turn, std::string_view model,
                                       nlohmann::ordered_json output,
                                       const std::optional<std::string>& finish_reason,
                                       const Usage& usage);
/// Output items. Ids are minted here ("msg_", "fc_", "rs_" + hex).
nlohmann::ordered_json message_item(std::string id, std::string text, bool refusal,
                                    std::string_view status);
nlohmann::ordered_json function_call_item(std::string id, std::string call_id, std::string name,
                                          std::string arguments, std::string_view status);
nlohmann::ordered_json reasoning_item(std::string id, std::string text);
std::string item_id(std::string_view prefix);

/// The response object for a chat.completion body; nullopt when `body` is not one.
std::optional<std::string> completion_to_response(std::string_view body, const Turn& turn);

/// The `error` event that ends a stream (with sequence number `seq`). It carries the fields
/// both flat (the Responses API's own event) and under `error` (what openai-node raises on and
/// @ai-sdk/openai's schema reads).
std::string stream_error_event(const api::GatewayError& e, std::uint64_t seq);

/// Converts a canonical chat stream (parsed chunks, or the bytes of `data:` events) into the
/// Responses event sequence: response.created, response.in_progress, then per output item
/// (reasoning, message, function_call) its added / delta / done events, and
/// response.completed (or response.incomplete) with the whole response object. Every event
/// has an `event:` line and a sequence_number.
class StreamTranslator {
public:
  explicit StreamTranslator(std::shared_ptr<Turn> turn) : turn_(std::move(turn)) {}
  void feed(std::string_view bytes, std::string& out);
  void feed(const api::StreamEvent& e, std::string& out);
  /// The stream ended: completes the response if the chat stream finished without [DONE], or
  /// ends it with an error event if it never finished.
  void finish(std::string& out);
  /// Ends the stream with the gateway's error `e` (unless it already ended).
  void fail(const api::GatewayError& e, std::string& out);
  bool done() const { return done_; }

private:
  enum class Item { none, reasoning, message, call };
  struct Call {
    std::size_t output_index = 0;
    std::string id, call_id, name, arguments;
    bool done = false;
  };
  void on_data(std::string_view data, std::string& out);
  void on_chunk(const nlohmann::json& chunk, std::string& out);
  void start(const nlohmann::json& chunk, std::string& out);
  void emit(std::string& out, std::string_view type, nlohmann::ordered_json data);
  void open_reasoning(std::string& out);
  void open_message(std::string& out);
  void close_item(std::string& out);
  void on_tool_fragment(const nlohmann::json& fragment, std::size_t position, std::string& out);
  void complete(std::string& out);
  nlohmann::ordered_json response_json(std::string_view status) const;

  std::shared_ptr<Turn> turn_;
  api::SseDecoder decoder_;
  bool started_ = false;
  bool done_ = false;
  std::uint64_t seq_ = 0;
  std::string model_;
  Item open_ = Item::none;
  std::size_t open_index_ = 0;   // output_index of the open reasoning or message item
  std::string open_id_;
  std::string text_;             // the open item's text so far
  nlohmann::ordered_json output_ = nlohmann::ordered_json::array();  // finished items
  std::map<std::int64_t, Call> calls_;  // chat tool_calls[].index → its function_call item
  std::optional<std::string> finish_reason_;
  Usage usage_;
};

/// The face's ResponseSink on /v1/responses: the router writes canonical (chat) answers into
/// it; the client receives a response object or the Responses event stream with the same
/// status. The completed response object is left in the turn for the store tap.
class ResponsesSink final : public api::ResponseSink {
public:
  explicit ResponsesSink(api::ByteSink& inner) : inner_(inner) {}

  void decoded(const api::RequestFacts& facts) override;
  boost::asio::awaitable<bool> send(int status, std::vector<common::Header> headers,
                                    std::string body) override;
  boost::asio::awaitable<bool> start_stream(int status,
                                            std::vector<common::Header> headers) override;
  boost::asio::awaitable<bool> write(std::string_view bytes) override;
  boost::asio::awaitable<bool> event(const api::StreamEvent& e) override;
  boost::asio::awaitable<bool> events(std::span<const api::StreamEvent> batch) override;
  bool wants_chunks() const override { return true; }
  boost::asio::awaitable<bool> end_stream() override;
  boost::asio::awaitable<bool> fail(const api::GatewayError& e,
                                    std::vector<common::Header> headers) override;
  bool started() const override { return inner_.started(); }

private:
  Turn& turn();
  StreamTranslator& translator();

  api::ByteSink& inner_;
  std::shared_ptr<Turn> turn_;
  std::optional<StreamTranslator> translator_;
};

}  // namespace llmgw::api::responses
