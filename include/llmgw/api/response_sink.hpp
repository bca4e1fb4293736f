#pragma once
// Between the router and the client. The router writes through a ResponseSink and never touches
// a socket or a wire format of its own: an ingress face (api/openai, api/anthropic) implements it
// over the connection's ByteSink and renders what the router hands it in the client's format.
// So the attempt loop is testable with a recording sink.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmgw/api/dialect.hpp"
#include "llmgw/api/errors.hpp"
#include "llmgw/common/header.hpp"

namespace llmgw::api {

struct RequestFacts;

/// One client's answer channel, as bytes: the HTTP server implements it over its socket.
class ByteSink {
public:
  virtual ~ByteSink() = default;
  /// A complete response. Returns false when the client is gone.
  virtual boost::asio::awaitable<bool> send(int status, std::vector<common::Header> headers,
                                            std::string body) = 0;
  /// Starts a streamed response (chunked); the body follows through write().
  virtual boost::asio::awaitable<bool> start_stream(int status,
                                                    std::vector<common::Header> headers) = 0;
  virtual boost::asio::awaitable<bool> write(std::string_view bytes) = 0;
  virtual boost::asio::awaitable<bool> end_stream() = 0;
  /// True once any status line went out (a second response is then impossible).
  virtual bool started() const = 0;
  /// Bytes written to the client so far, framing included (the access log's bytes_out).
  virtual std::uint64_t bytes_sent() const { return 0; }
};

/// One event of a streamed answer, as the router hands it on: the canonical (OpenAI chat
/// chunk) SSE event and, for a face that wants it, that chunk parsed. The router parses each
/// relayed event at most once; the face and the continuation tracker read that chunk. Or, when
/// the upstream speaks the face's own dialect (native), the upstream's event as it came.
struct StreamEvent {
  std::string_view sse;                  // "data: {...}\n\n" or "data: [DONE]\n\n"
  const nlohmann::json* chunk = nullptr;  // the chunk; null for [DONE] and for non-objects
  bool done = false;                     // the [DONE] event
  bool native = false;  // `sse` is the upstream's own event in the face's dialect()
};

/// The bytes of `batch` when its events lie back to back in one buffer (the router hands over
/// views into the bytes one upstream read produced), else empty.
inline std::string_view contiguous_bytes(std::span<const StreamEvent> batch) {
  if (batch.empty()) {
    return {};
  }
  const char* begin = batch.front().sse.data();
  const char* end = begin;
  for (const auto& e : batch) {
    if (e.sse.data() != end) {
      return {};
    }
    end += e.sse.size();
  }
  return {begin, static_cast<std::size_t>(end - begin)};
}

/// What the router answers through: the bytes of an answer, plus the gateway's own errors,
/// which the face renders in its format.
class ResponseSink : public ByteSink {
public:
  /// One event of a stream started with start_stream(). By default its bytes as they are (the
  /// OpenAI face); a face of another format renders the parsed chunk.
  virtual boost::asio::awaitable<bool> event(const StreamEvent& e) { return write(e.sse); }
  /// The events one upstream read produced, in order: a face writes them to the client at
  /// once where it can (one write instead of one per event: a burst of small events is what
  /// streams are made of). By default, event() for each.
  virtual boost::asio::awaitable<bool> events(std::span<const StreamEvent> batch) {
    for (const auto& e : batch) {
      if (!co_await event(e)) {
        co_return false;
      }
    }
    co_return true;
  }
  /// Whether event() reads StreamEvent::chunk. A face that relays the bytes says no, and the
  /// router then builds no chunk (it scans each event for what it tracks).
  virtual bool wants_chunks() const { return false; }
  /// The dialect the client speaks. A target of the same dialect answers natively: its stream
  /// events reach event() with `native` set, its complete answer reaches send_native().
  virtual Dialect dialect() const { return Dialect::openai; }
  /// A complete 2xx answer already in dialect(): relayed as it is (the face fixes headers).
  virtual boost::asio::awaitable<bool> send_native(int status,
                                                   std::vector<common::Header> headers,
                                                   std::string body) {
    return send(status, std::move(headers), std::move(body));
  }

  /// The request decoded: what its face kept from it for the answer (see FaceState).
  virtual void decoded(const RequestFacts& facts) { (void)facts; }
  /// The request ends with the gateway's error `e`: a complete error answer (status `e.status`,
  /// `headers` plus the face's content type) when nothing went out yet; the face's stream error
  /// event and the end of the stream when a stream is under way. Never a silent truncation.
  virtual boost::asio::awaitable<bool> fail(const GatewayError& e,
                                            std::vector<common::Header> headers) = 0;
};

}  // namespace llmgw::api
