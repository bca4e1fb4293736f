#include "server/session.hpp"

#include <algorithm>
#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/face.hpp"
#include "llmgw/common/http_head.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "server/request_parser.hpp"

namespace llmgw::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// A write to the client is never interrupted by the request's cancellation (a client that hung
// up, the drain timeout): half a chunk on the wire would leave no way to end the response
// properly. kWriteTimeout bounds it instead.
inline auto uncancellable() { return asio::bind_cancellation_slot(asio::cancellation_slot(), use_tuple); }
constexpr auto kWriteTimeout = std::chrono::seconds(60);
constexpr std::size_t kReadChunk = 8192;
// Lingering close (nginx's lingering_close): after an error answered before the body was read,
// keep reading (and discarding) for a while so the client, still sending, reads our answer
// instead of a connection reset.
constexpr auto kLingerTotal = std::chrono::seconds(5);
constexpr auto kLingerIdle = std::chrono::seconds(2);
constexpr std::size_t kLingerMaxBytes = 64u << 20;

struct Limits {
  ParseLimits parse;
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds idle_timeout{120000};
};

Limits limits_of(const router::RouteTable* table) {
  Limits l;
  if (table) {
    const auto& s = table->config().server;
    l.parse.max_body = s.max_body_bytes;
    l.parse.max_header = static_cast<std::uint32_t>(s.max_header_bytes);
    l.read_timeout = s.read_timeout;
    l.idle_timeout = s.idle_timeout;
  }
  return l;
}

template <class Stream>
beast::tcp_stream& lowest_of(Stream& s) {
  return beast::get_lowest_layer(s);
}

std::string_view as_view(const beast::flat_buffer& b) {
  auto d = b.data();
  return {static_cast<const char*>(d.data()), d.size()};
}

template <class Stream>
class BeastSink final : public api::ByteSink {
public:
  BeastSink(Stream& stream, bool keep_alive, const GatewayState& state)
      : stream_(stream), keep_alive_(keep_alive), state_(state) {}

  bool keep_alive() const { return keep_alive_ && ok_; }
  bool started() const override { return started_; }
  std::uint64_t bytes_sent() const override { return bytes_; }
  bool streaming() const { return streaming_ && ok_; }
  void close_after() { keep_alive_ = false; }

  asio::awaitable<bool> send(int status, std::vector<providers::Header> headers,
                             std::string body) override {
    if (started_) {
      co_return false;
    }
    started_ = true;
    auto head = head_for(status, headers);
    common::append_field(head, "Content-Length", std::to_string(body.size()));
    head += "\r\n";
    std::array<asio::const_buffer, 2> message{asio::buffer(head), asio::buffer(body)};
    lowest_of(stream_).expires_after(kWriteTimeout);
    auto [ec, n] = co_await asio::async_write(stream_, message, uncancellable());
    ok_ = !ec;
    bytes_ += n;
    co_return ok_;
  }

  asio::awaitable<bool> start_stream(int status, std::vector<providers::Header> headers) override {
    if (started_) {
      co_return false;
    }
    started_ = true;
    streaming_ = true;
    auto head = head_for(status, headers);
    common::append_field(head, "Transfer-Encoding", "chunked");
    head += "\r\n";
    lowest_of(stream_).expires_after(kWriteTimeout);
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(head), uncancellable());
    ok_ = !ec;
    bytes_ += n;
    co_return ok_;
  }

  asio::awaitable<bool> write(std::string_view bytes) override {
    if (!ok_ || !streaming_) {
      co_return false;
    }
    if (bytes.empty()) {
      co_return true;
    }
    lowest_of(stream_).expires_after(kWriteTimeout);
    auto [ec, n] =
        co_await asio::async_write(stream_, http::make_chunk(asio::buffer(bytes)), uncancellable());
    ok_ = !ec;
    bytes_ += n;
    co_return ok_;
  }

  asio::awaitable<bool> end_stream() override {
    if (!ok_ || !streaming_) {
      co_return false;
    }
    streaming_ = false;
    lowest_of(stream_).expires_after(kWriteTimeout);
    auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk_last(), uncancellable());
    ok_ = !ec;
    bytes_ += n;
    co_return ok_;
  }

  // A stream the handler left open (a bug, or an exception) can't be reused.
  bool finished_cleanly() const { return ok_ && started_ && !streaming_; }

private:
  // Status line and fields, without the framing field and the blank line that end the head.
  std::string head_for(int status, const std::vector<providers::Header>& headers) {
    std::string out;
    out.reserve(256);
    common::append_status_line(out, status);
    bool own_server = std::none_of(headers.begin(), headers.end(),
                                   [](const auto& h) { return common::iequals(h.name, "server"); });
    if (own_server) {
      common::append_field(out, "Server", "llmgw");
    }
    common::append_fields(out, headers);
    if (state_.draining.load(std::memory_order_relaxed)) {
      keep_alive_ = false;
    }
    if (!keep_alive_) {
      common::append_field(out, "Connection", "close");
    }
    return out;
  }

  Stream& stream_;
  bool keep_alive_;
  const GatewayState& state_;
  bool ok_ = true;
  bool started_ = false;
  bool streaming_ = false;
  std::uint64_t bytes_ = 0;
};

// Errors answered outside a handler, in the error shape of the path's API.
std::string error_body_for(std::string_view path, const api::GatewayError& e) {
  return api::face_for_path(path).error_body(e, {});
}

api::GatewayError framing_error(const FramingError& f) {
  switch (f.status) {
    case 413: return api::request_too_large(f.message);
    case 431: return api::headers_too_large(f.message);
    default: return api::invalid_request(f.message);
  }
}

std::string_view refusal_reason(int status) {
  switch (status) {
    case 413: return "body_too_large";
    case 431: return "header_too_large";
    default: return "bad_request";
  }
}

// Completes only when the client closed its side (or the socket failed) while a request is in
// progress; otherwise waits until cancelled. Bytes from the client (a pipelined request, TLS
// records) end the watch without completing: they belong to the next read.
asio::awaitable<void> watch_for_hangup(tcp::socket& socket) {
  auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, use_tuple);
  if (!ec) {
    char byte;
    beast::error_code peek_ec;
    auto n = socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, peek_ec);
    if (peek_ec == asio::error::would_block || (!peek_ec && n > 0)) {
      // Still connected: park until the request finishes and cancels us.
      asio::steady_timer park(socket.get_executor(), asio::steady_timer::time_point::max());
      co_await park.async_wait(use_tuple);
      co_return;
    }
  }
}

// The handler, never throwing: an escaped exception must not leave the race below waiting for
// the other side forever (awaitable_operators' || waits for one *success*). `threw` tells the
// session to answer 500 (when nothing was sent yet) and close.
asio::awaitable<void> run_handler(Handler& handler, HttpRequest& req, api::ByteSink& sink,
                                  router::Router* router, GatewayState& state, bool& threw) {
  std::string what;
  bool failed = false;
  try {
    co_await handler.handle(req, sink, router);
  } catch (const std::exception& e) {
    failed = true;
    what = e.what();
  } catch (...) {
    failed = true;
    what = "unknown exception";
  }
  if (!failed) {
    co_return;
  }
  // Cancellation (the client left, the drain timeout) surfaces as an exception too.
  auto cs = co_await asio::this_coro::cancellation_state;
  if (cs.cancelled() != asio::cancellation_type::none) {
    co_return;
  }
  threw = true;
  state.metrics.request_refused("exception");
  spdlog::error("request {} {} {} failed with an exception: {}", req.request_id,
                api::echo(req.method, 16), api::echo(req.path), what);
}

template <class Stream>
asio::awaitable<bool> write_answer(Stream& stream, const GatewayState& state, int status,
                                   std::vector<providers::Header> headers, std::string body) {
  BeastSink<Stream> sink(stream, false, state);
  co_return co_await sink.send(status, std::move(headers), std::move(body));
}

template <class Stream>
asio::awaitable<bool> write_error(Stream& stream, const GatewayState& state,
                                  const api::GatewayError& e, std::string_view path) {
  auto headers = providers::make_headers("content-type", "application/json");
  auto body = error_body_for(path, e);
  co_return co_await write_answer(stream, state, e.status, std::move(headers), std::move(body));
}

template <class Stream>
asio::awaitable<void> linger(Stream& stream) {
  auto& lowest = lowest_of(stream);
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    // Our answer is complete: tell the client so, then drain what it still sends.
    beast::error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
  auto until = std::chrono::steady_clock::now() + kLingerTotal;
  std::size_t discarded = 0;
  std::array<char, 16384> scratch;
  while (discarded < kLingerMaxBytes) {
    auto now = std::chrono::steady_clock::now();
    if (now >= until) {
      break;
    }
    lowest.expires_after(std::min<std::chrono::steady_clock::duration>(kLingerIdle, until - now));
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), use_tuple);
    if (ec) {
      break;
    }
    discarded += n;
  }
}

// The request's end at the drain timeout: an SSE error event on a stream already under way
// (never a silent truncation), a 503 when nothing was sent yet.
template <class Stream>
asio::awaitable<void> answer_shutdown(BeastSink<Stream>& sink, const HttpRequest& req,
                                      GatewayState& state) {
  auto error = api::server_shutting_down();
  if (sink.streaming()) {
    state.metrics.shutdown_abort(true);
    auto event = api::face_for_path(req.path).stream_error_event(error);
    if (co_await sink.write(event)) {
      co_await sink.end_stream();
    }
  } else if (!sink.started()) {
    state.metrics.shutdown_abort(false);
    sink.close_after();
    auto headers = providers::make_headers("content-type", "application/json", "x-request-id",
                                           req.request_id);
    auto body = error_body_for(req.path, error);
    co_await sink.send(error.status, std::move(headers), std::move(body));
  }
}

// Counts a main-listener request from its last byte in to its last byte out, for the drain.
class BusyGuard {
public:
  explicit BusyGuard(std::atomic<std::int64_t>* counter) : counter_(counter) {
    if (counter_) {
      counter_->fetch_add(1, std::memory_order_relaxed);
    }
  }
  ~BusyGuard() {
    if (counter_) {
      counter_->fetch_sub(1, std::memory_order_relaxed);
    }
  }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;

private:
  std::atomic<std::int64_t>* counter_;
};

template <class Stream>
asio::awaitable<void> serve_http(Stream& stream, std::string remote, SessionContext ctx,
                                 SessionControl& control) {
  beast::flat_buffer buffer;
  auto& lowest = lowest_of(stream);
  auto& state = ctx.state;
  for (;;) {
    auto table = ctx.table->get();
    auto limits = limits_of(table.get());
    if (buffer.size() == 0) {
      // Idle keep-alive wait for the next request: longer than the read timeout.
      if (control.aborted()) {
        co_return;
      }
      control.set_idle(true);
      lowest.expires_after(limits.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunk), use_tuple);
      control.set_idle(false);
      if (ec || control.aborted()) {
        co_return;
      }
      buffer.commit(n);
      // The config may have been reloaded while the connection sat idle: this request runs on
      // the snapshot in force when it arrived, limits included.
      table = ctx.table->get();
      limits = limits_of(table.get());
    }
    // From the first byte on, the whole request must arrive within read_timeout (slowloris).
    lowest.expires_after(limits.read_timeout);
    RequestParser parser(limits.parse);
    parser.request().table = table;
    auto progress = RequestParser::Progress::need_more;
    for (;;) {
      std::size_t used = 0;
      progress = parser.feed(as_view(buffer), used);
      buffer.consume(used);
      if (progress == RequestParser::Progress::header_done) {
        auto& head = parser.request();
        if (auto early = ctx.handler.screen(head)) {
          co_await write_answer(stream, state, early->status, std::move(early->headers),
                                std::move(early->body));
          co_await linger(stream);
          co_return;
        }
        if (parser.expects_continue() && buffer.size() == 0) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          auto [wec, wn] = co_await asio::async_write(
              stream, asio::buffer(kContinue.data(), kContinue.size()), use_tuple);
          if (wec) {
            co_return;
          }
        }
        continue;  // parse what is buffered of the body
      }
      if (progress != RequestParser::Progress::need_more) {
        break;
      }
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunk), use_tuple);
      if (ec) {
        co_return;  // read_timeout (a slow client), a reset: nothing useful to answer
      }
      buffer.commit(n);
    }
    if (progress == RequestParser::Progress::failed) {
      state.metrics.request_refused(refusal_reason(parser.error().status));
      auto error = framing_error(parser.error());
      auto path = parser.request().path;
      co_await write_error(stream, state, error, path);
      co_await linger(stream);
      co_return;
    }

    auto& req = parser.request();
    req.remote = remote;
    BusyGuard busy(ctx.registry ? &state.busy : nullptr);
    lowest.expires_never();  // the handler's own deadlines govern from here
    BeastSink<Stream> sink(stream, req.keep_alive, state);
    bool threw = false;
    // The handler races a watcher of the client socket (a client that hangs up cancels its
    // request, and with it the upstream call: no paying for an answer nobody will read) and
    // the drain timeout. Named awaitables, not temporaries, in the co_await expression: g++ 12
    // miscompiles the latter.
    auto handling = run_handler(ctx.handler, req, sink, ctx.router, state, threw);
    auto watching = watch_for_hangup(lowest.socket());
    auto aborting = control.wait_for_abort();
    auto winner = co_await (std::move(handling) || std::move(watching) || std::move(aborting));
    if (winner.index() == 1) {
      co_return;  // the client left
    }
    if (winner.index() == 2) {
      co_await answer_shutdown(sink, req, state);
      co_return;
    }
    if (threw) {
      if (!sink.started()) {
        auto error = api::internal_error("The gateway failed to handle this request.");
        sink.close_after();
        auto headers = providers::make_headers("content-type", "application/json",
                                               "x-request-id", req.request_id);
        auto body = error_body_for(req.path, error);
        co_await sink.send(error.status, std::move(headers), std::move(body));
      }
      co_return;
    }
    if (!sink.finished_cleanly() || !sink.keep_alive() || control.aborted()) {
      co_return;
    }
  }
}

void shutdown_stream(beast::tcp_stream& s) {
  beast::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_send, ec);
  s.close();
}

std::string remote_of(const tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  return ec ? std::string() : ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

SessionControl::SessionControl(asio::any_io_executor executor, SessionRegistry* registry)
    : abort_timer_(executor, asio::steady_timer::time_point::max()), registry_(registry) {
  if (registry_) {
    registry_->add(*this);
  }
}

SessionControl::~SessionControl() {
  if (registry_) {
    registry_->remove(*this);
  }
}

void SessionControl::abort() {
  aborted_ = true;
  abort_timer_.cancel();
  if (idle_ && cancel_idle_) {
    cancel_idle_();
  }
}

asio::awaitable<void> SessionControl::wait_for_abort() {
  if (aborted_) {
    co_return;
  }
  co_await abort_timer_.async_wait(use_tuple);
}

void SessionRegistry::add(SessionControl& s) {
  s.next = head_;
  if (head_) {
    head_->prev = &s;
  }
  head_ = &s;
  ++size_;
}

void SessionRegistry::remove(SessionControl& s) {
  if (s.prev) {
    s.prev->next = s.next;
  } else {
    head_ = s.next;
  }
  if (s.next) {
    s.next->prev = s.prev;
  }
  s.prev = s.next = nullptr;
  --size_;
}

void SessionRegistry::abort_all() {
  for (auto* s = head_; s; s = s->next) {
    s->abort();
  }
}

asio::awaitable<void> run_plain_session(tcp::socket socket, SessionContext ctx) {
  auto remote = remote_of(socket);
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  beast::tcp_stream stream(std::move(socket));
  SessionControl control(stream.get_executor(), ctx.registry);
  control.set_idle_canceller([&stream] { stream.socket().cancel(); });
  co_await serve_http(stream, std::move(remote), ctx, control);
  shutdown_stream(stream);
}

asio::awaitable<void> run_tls_session(tcp::socket socket, std::shared_ptr<ssl::context> tls,
                                      SessionContext ctx) {
  auto remote = remote_of(socket);
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
  SessionControl control(stream.get_executor(), ctx.registry);
  control.set_idle_canceller([&stream] { beast::get_lowest_layer(stream).socket().cancel(); });
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
  if (hec) {
    co_return;
  }
  co_await serve_http(stream, std::move(remote), ctx, control);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(use_tuple);
  shutdown_stream(beast::get_lowest_layer(stream));
}

}  // namespace llmgw::server
