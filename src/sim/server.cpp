// HTTP/1.1 front of the simulator: listeners, keep-alive sessions, the /_sim/ control API and
// the fault modes that act on the transport (pacing, truncation, hangs, resets, refusals).
#include "server.hpp"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <thread>

#include "hostile.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::sim {

std::string_view ApiRequest::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) {
      return value;
    }
  }
  return {};
}

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Json = nlohmann::ordered_json;
using Strand = net::strand<net::io_context::executor_type>;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
constexpr std::uint64_t kBodyLimit = 16ULL * 1024 * 1024;
constexpr std::uint32_t kHeaderLimit = 64 * 1024;
// The parser's header_limit does not cover a chunked body's trailer (nor chunk extensions):
// those must sit whole in the read buffer, and one trailer field of 64 KiB or more makes Beast's
// field storage throw from inside the composed read, where no coroutine can catch it. Capping
// the buffer at the header limit bounds both; body bytes are consumed as they arrive, so the
// cap does not limit bodies.
constexpr std::size_t kReadBufferLimit = kHeaderLimit;
// After an error answer to a request we stopped reading, the rest of it is discarded for a
// while: closing with unread bytes sends an RST that can destroy the answer in transit.
constexpr std::size_t kLingerBytes = 1024 * 1024;
constexpr auto kLingerTimeout = std::chrono::seconds(2);
// Pooled upstream connections sit idle between requests; closing them sooner than real
// providers do would only test the gateway's stale-connection handling by accident.
constexpr auto kIdleTimeout = std::chrono::seconds(300);
constexpr auto kWriteTimeout = std::chrono::seconds(60);
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

template <class Stream>
constexpr bool kIsTls = !std::is_same_v<Stream, beast::tcp_stream>;

enum class After { keep_alive, close, dropped };

std::string format_endpoint(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

std::string_view reason_phrase(unsigned status) {
  if (status == 529) {
    return "Site Overloaded";
  }
  const auto known = http::int_to_status(status);
  if (known == http::status::unknown) {
    return "Unknown";
  }
  return std::string_view(http::obsolete_reason(known));
}

void append_chunk(std::string& out, std::string_view data) {
  char size[24];
  const int n = std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  out.append(size, static_cast<std::size_t>(n)).append(data).append("\r\n");
}

Reply json_reply(unsigned status, const Json& body) {
  Reply reply;
  reply.status = status;
  reply.body = body.dump(2, ' ', false, Json::error_handler_t::replace);
  return reply;
}

Reply control_error(unsigned status, std::string_view message) {
  Json error;
  error["message"] = message;
  error["type"] = "invalid_request_error";
  error["param"] = nullptr;
  error["code"] = nullptr;
  Json body;
  body["error"] = std::move(error);
  return json_reply(status, body);
}

std::string describe(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

// co_spawn completion: a coroutine that throws is logged, never silently swallowed, and never
// rethrown (that would escape io_context::run()).
auto log_failure(const char* what) {
  return [what](std::exception_ptr failure) {
    if (failure) {
      std::cerr << "llmgw-sim: " << what << " failed: " << describe(failure) << "\n";
    }
  };
}

struct Listener {
  Listener(net::io_context& io, tcp::endpoint requested, bool tls_, bool control_only_)
      : strand(net::make_strand(io)),
        acceptor(strand),
        refuse_timer(strand),
        endpoint(requested),
        tls(tls_),
        control_only(control_only_) {}

  Strand strand;
  tcp::acceptor acceptor;
  net::steady_timer refuse_timer;
  tcp::endpoint endpoint;  // after bind: the real port, reused when re-listening after refuse
  bool tls;
  bool control_only;
  // Touched only on `strand`.
  bool refusing = false;
  std::uint64_t refuse_generation = 0;

  bool open(boost::system::error_code& ec) {
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      boost::system::error_code ignored;
      acceptor.close(ignored);
      return false;
    }
    endpoint = acceptor.local_endpoint();
    return true;
  }
};

class Server {
 public:
  Server(net::io_context& io, const Options& options)
      : io_(io),
        options_(options),
        openai_(make_openai_format(make_info(options))),
        anthropic_(make_anthropic_format(make_info(options))),
        gemini_(make_gemini_format(make_info(options))) {}

  // Binds every listener (so port 0 resolves) before anything is printed or served.
  void bind() {
    if (!options_.tls_cert.empty()) {
      tls_.emplace(ssl::context::tls_server);
      tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::single_dh_use);
      tls_->use_certificate_chain_file(options_.tls_cert);
      tls_->use_private_key_file(options_.tls_key, ssl::context::pem);
    }
    listeners_.push_back(
        std::make_unique<Listener>(io_, parse_endpoint(options_.listen), tls_.has_value(), false));
    if (!options_.control_listen.empty()) {
      listeners_.push_back(
          std::make_unique<Listener>(io_, parse_endpoint(options_.control_listen), false, true));
    }
    for (auto& listener : listeners_) {
      boost::system::error_code ec;
      if (!listener->open(ec)) {
        throw std::runtime_error("cannot listen on " + format_endpoint(listener->endpoint) + ": " +
                                 ec.message());
      }
    }
  }

  void start() {
    for (auto& listener : listeners_) {
      std::cout << "llmgw-sim " << options_.name
                << (listener->control_only ? " control on " : " listening on ")
                << format_endpoint(listener->endpoint) << (listener->tls ? " (tls)" : "") << "\n";
    }
    std::cout.flush();
    if (options_.fault) {
      // Still single-threaded here, so the listener can be touched directly.
      const auto refuse = options_.fault->mode == FaultMode::refuse;
      const auto delay = options_.fault->delay_ms;
      const auto generation = faults_.set(*options_.fault);
      if (refuse) {
        start_refuse(*listeners_.front(), delay, generation);
      }
    }
    for (auto& listener : listeners_) {
      net::co_spawn(listener->strand, accept_loop(*listener), log_failure("accept loop"));
    }
  }

 private:
  static SimInfo make_info(const Options& options) {
    SimInfo info;
    info.name = options.name;
    info.models = options.models;
    info.fingerprint = "fp_" + common::sha256_hex(options.name).substr(0, 10);
    return info;
  }

  static tcp::endpoint parse_endpoint(std::string_view text) {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      throw std::runtime_error("expected HOST:PORT, got '" + std::string(text) + "'");
    }
    auto host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    const std::string port_text(text.substr(colon + 1));
    std::size_t used = 0;
    unsigned long port = 0;
    try {
      port = std::stoul(port_text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != port_text.size() || port > 65535) {
      throw std::runtime_error("bad port in '" + std::string(text) + "'");
    }
    boost::system::error_code ec;
    auto address = net::ip::make_address(std::string(host), ec);
    if (ec) {
      throw std::runtime_error("bad address in '" + std::string(text) + "'");
    }
    return {address, static_cast<unsigned short>(port)};
  }

  // ---- listeners and the refuse fault ------------------------------------------------------

  net::awaitable<void> accept_loop(Listener& listener) {
    for (;;) {
      if (listener.refusing) {
        auto [ec] = co_await listener.refuse_timer.async_wait(kUseTuple);
        if (!ec && listener.refusing &&
            listener.refuse_timer.expiry() <= net::steady_timer::clock_type::now()) {
          listener.refusing = false;
          faults_.expire(listener.refuse_generation);
          reopen(listener);
        }
        continue;
      }
      if (!listener.acceptor.is_open() && !reopen(listener)) {
        // The port was taken while we were refusing; keep trying, the test wants it back.
        listener.refuse_timer.expires_after(std::chrono::milliseconds(100));
        co_await listener.refuse_timer.async_wait(kUseTuple);
        continue;
      }
      auto [ec, socket] = co_await listener.acceptor.async_accept(net::make_strand(io_), kUseTuple);
      if (ec == net::error::operation_aborted) {
        continue;  // closed by a refuse fault
      }
      if (ec) {
        // Typically EMFILE: back off instead of spinning.
        listener.refuse_timer.expires_after(std::chrono::milliseconds(10));
        co_await listener.refuse_timer.async_wait(kUseTuple);
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto executor = socket.get_executor();
      if (listener.tls) {
        net::co_spawn(executor, tls_session(std::move(socket), listener), log_failure("session"));
      } else {
        net::co_spawn(executor, plain_session(std::move(socket), listener), log_failure("session"));
      }
    }
  }

  bool reopen(Listener& listener) {
    if (listener.acceptor.is_open()) {
      return true;
    }
    boost::system::error_code ec;
    return listener.open(ec);
  }

  // Runs on the listener's strand.
  void start_refuse(Listener& listener, std::int64_t delay_ms, std::uint64_t generation) {
    listener.refusing = true;
    listener.refuse_generation = generation;
    boost::system::error_code ignored;
    listener.acceptor.close(ignored);
    if (delay_ms >= 0) {
      listener.refuse_timer.expires_after(std::chrono::milliseconds(delay_ms));
    } else {
      listener.refuse_timer.expires_at(net::steady_timer::time_point::max());
    }
  }

  // Runs on the listener's strand.
  net::awaitable<void> update_listener(Listener& listener, bool refuse, std::int64_t delay_ms,
                                       std::uint64_t generation) {
    if (refuse) {
      start_refuse(listener, delay_ms, generation);
    } else if (listener.refusing) {
      listener.refusing = false;
      listener.refuse_timer.cancel();
      reopen(listener);
    }
    co_return;
  }

  // Completes only once the listeners reflect the new fault, so a client that got the 200 for
  // "refuse" can rely on the next connect being refused (and on it succeeding after "none").
  // Takes the spec by reference and never as a coroutine parameter: g++ 12 mishandles
  // non-trivial by-value coroutine arguments created inside a co_await expression.
  net::awaitable<void> apply_fault(const FaultSpec& spec) {
    const bool refuse = spec.mode == FaultMode::refuse;
    const auto delay = spec.delay_ms;
    const auto generation = faults_.set(spec);
    for (auto& listener : listeners_) {
      if (!listener->control_only) {
        co_await net::co_spawn(listener->strand,
                               update_listener(*listener, refuse, delay, generation),
                               net::use_awaitable);
      }
    }
  }

  // ---- sessions -------------------------------------------------------------------------------

  net::awaitable<void> plain_session(tcp::socket socket, Listener& listener) {
    beast::tcp_stream stream(std::move(socket));
    co_await serve(stream, listener);
  }

  net::awaitable<void> tls_session(tcp::socket socket, Listener& listener) {
    ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls_);
    stream.next_layer().expires_after(kHandshakeTimeout);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
    if (ec) {
      co_return;
    }
    co_await serve(stream, listener);
  }

  template <class Stream>
  net::awaitable<void> serve(Stream& stream, Listener& listener) {
    beast::flat_buffer buffer(kReadBufferLimit);
    std::string out;  // reused for every response on this connection
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(kBodyLimit);
      beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kUseTuple);
      if (!ec && !parser.is_done()) {
        // curl and some SDKs wait for 100 Continue before sending a large body.
        if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
          constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          auto [write_ec, written] =
              co_await net::async_write(stream, net::buffer(kContinue), kUseTuple);
          ec = write_ec;
        }
        if (!ec) {
          std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kUseTuple);
        }
      }
      if (ec == http::error::body_limit) {
        ApiRequest head;
        const std::string_view target = parser.get().target();
        head.path = std::string(target.substr(0, target.find('?')));
        for (const auto& field : parser.get()) {
          head.headers.emplace_back(common::to_lower(field.name_string()),
                                    std::string(field.value()));
        }
        auto reply = format_for(head).payload_too_large();
        co_await write_reply(stream, reply, false, out);
        co_await linger_close(stream);
        co_return;
      }
      if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        // buffer_overflow: a trailer (or chunk extension) outgrew kReadBufferLimit.
        auto reply = control_error(431, "Request header fields (or trailer) too large.");
        co_await write_reply(stream, reply, false, out);
        co_await linger_close(stream);
        co_return;
      }
      if (ec) {
        const bool malformed =
            ec.category() == http::make_error_code(http::error::bad_method).category() &&
            ec != http::error::end_of_stream && ec != http::error::partial_message;
        if (malformed) {
          // A malformed request: say so rather than vanish, then drop the connection.
          auto reply = control_error(400, "Malformed HTTP request: " + ec.message());
          co_await write_reply(stream, reply, false, out);
          co_await linger_close(stream);
          co_return;
        }
        break;
      }
      auto raw = parser.release();
      // A handler that throws costs its connection, never the process (nor, through co_spawn,
      // a log line with no context).
      After after = After::close;
      std::exception_ptr failure;
      try {
        after = co_await handle(stream, raw, listener, out);
      } catch (...) {
        failure = std::current_exception();
      }
      if (failure) {
        std::cerr << "llmgw-sim: request failed: " << describe(failure) << "\n";
        break;
      }
      if (after == After::dropped) {
        co_return;
      }
      if (after == After::close) {
        break;
      }
    }
    co_await close_gracefully(stream);
  }

  template <class Stream>
  net::awaitable<After> handle(Stream& stream, http::request<http::string_body>& raw,
                               Listener& listener, std::string& out) {
    auto request = std::make_shared<ApiRequest>();
    request->method = std::string(raw.method_string());
    const std::string_view target = raw.target();
    const auto question = target.find('?');
    request->path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) {
      request->query = std::string(target.substr(question + 1));
    }
    request->headers.reserve(16);
    for (const auto& field : raw) {
      request->headers.emplace_back(common::to_lower(field.name_string()),
                                    std::string(field.value()));
    }
    request->body = std::move(raw.body());
    const bool keep_alive = raw.keep_alive();
    const std::string_view path = request->path;

    if (path == "/_sim" || path.starts_with("/_sim/")) {
      auto reply = co_await control(*request);
      co_return co_await write_reply(stream, reply, keep_alive, out);
    }
    const WireFormat& format = format_for(*request);
    if (listener.control_only || !format.claims(*request)) {
      const auto reply = format.not_found(*request);
      co_return co_await write_reply(stream, reply, keep_alive, out);
    }

    stats_.record(request);
    if (!options_.api_key.empty() && !format.authorized(*request, options_.api_key)) {
      const auto reply = format.unauthorized(*request);
      co_return co_await write_reply(stream, reply, keep_alive, out);
    }

    const auto decision = faults_.decide(path);
    const FaultSpec* spec = decision.spec.get();
    switch (decision.mode) {
      case FaultMode::none:
        break;
      case FaultMode::refuse:
        // The listener is down; a pooled connection must not keep the "dead" server alive.
        reset(stream);
        co_return After::dropped;
      case FaultMode::reset:
        reset(stream);
        co_return After::dropped;
      case FaultMode::hang:
        co_await wait_for_peer_close(stream);
        co_return After::dropped;
      case FaultMode::error:
      case FaultMode::flap: {
        // Each face renders the retry hints its provider's way (Gemini: no headers, a
        // RetryInfo detail in the body).
        const auto reply = format.error(spec->status, {spec->error_type, spec->error_code,
                                                       spec->message, spec->retry_after,
                                                       spec->retry_after_ms});
        co_return co_await write_reply(stream, reply, keep_alive, out);
      }
      case FaultMode::slow_first_byte:
        co_await sleep_ms(spec->delay_or_default());
        break;
      case FaultMode::slow_chunks:
      case FaultMode::die_after:
      case FaultMode::garbage:
      case FaultMode::empty_answer:
      case FaultMode::repetition:
      case FaultMode::refusal:
      case FaultMode::bad_json:
      case FaultMode::gzip:
      case FaultMode::empty:
      case FaultMode::wrong_shape:
      case FaultMode::truncated:
      case FaultMode::deep:
        break;
    }

    Reply reply;
    try {
      reply = format.handle(*request, wrong_of(decision.mode));
      if (reply.status == 200 && is_hostile(decision.mode)) {
        make_hostile(reply, decision.mode, *spec);
      }
    } catch (const std::exception& e) {
      // A bug in a renderer: answer like a provider's internal error, keep the connection.
      std::cerr << "llmgw-sim: " << request->method << " " << request->path
                << " failed: " << e.what() << "\n";
      reply = format.error(500, {});
    }
    if (decision.mode == FaultMode::die_after && reply.status == 200) {
      co_await die_after(stream, reply, *spec, out);
      co_return After::dropped;
    }
    if (decision.mode == FaultMode::slow_chunks && reply.status == 200) {
      if (!reply.stream) {
        co_await sleep_ms(spec->delay_or_default());
      } else {
        co_return co_await write_paced(stream, reply, keep_alive, spec->chunk_delay_ms, out);
      }
    }
    co_return co_await write_reply(stream, reply, keep_alive, out);
  }

  // ---- control API ----------------------------------------------------------------------------

  net::awaitable<Reply> control(const ApiRequest& request) {
    const std::string_view path = request.path;
    const bool get = request.method == "GET";
    const bool post = request.method == "POST";
    if (path == "/_sim/fault" && post) {
      auto json = parse_untrusted(request.body);
      if (!json) {
        co_return control_error(400, "fault body " + json.error().message);
      }
      std::string error;
      auto spec = FaultSpec::parse(*json, error);
      if (!spec) {
        co_return control_error(400, error);
      }
      co_await apply_fault(*spec);
      co_return json_reply(200, faults_.to_json());
    }
    if (path == "/_sim/fault" && get) {
      co_return json_reply(200, faults_.to_json());
    }
    if (path == "/_sim/stats" && get) {
      co_return json_reply(200, stats_.to_json());
    }
    if (path == "/_sim/reset" && post) {
      stats_.clear();
      const FaultSpec healthy;
      co_await apply_fault(healthy);
      Json body;
      body["status"] = "ok";
      co_return json_reply(200, body);
    }
    if (path == "/_sim/health" && get) {
      Json body;
      body["status"] = "ok";
      body["name"] = options_.name;
      co_return json_reply(200, body);
    }
    co_return control_error(404, "Invalid URL (" + request.method + " " + request.path + ")");
  }

  // ---- writing --------------------------------------------------------------------------------

  void append_head(std::string& out, const Reply& reply, bool keep_alive, bool chunked) const {
    out.append("HTTP/1.1 ").append(std::to_string(reply.status)).append(" ");
    out.append(reason_phrase(reply.status)).append("\r\nContent-Type: ");
    out.append(reply.content_type).append("\r\n");
    if (chunked) {
      out.append("Transfer-Encoding: chunked\r\n");
    } else {
      out.append("Content-Length: ").append(std::to_string(reply.body.size())).append("\r\n");
    }
    out.append(keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
    out.append("x-request-id: req_").append(common::random_hex(32)).append("\r\n");
    out.append("x-sim-name: ").append(options_.name).append("\r\n");
    for (const auto& [name, value] : reply.headers) {
      out.append(name).append(": ").append(value).append("\r\n");
    }
    out.append("\r\n");
  }

  template <class Stream>
  net::awaitable<bool> write_all(Stream& stream, std::string_view data) {
    beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
    auto [ec, n] = co_await net::async_write(stream, net::buffer(data), kUseTuple);
    co_return !ec;
  }

  // The whole response in one write: every SSE event is still its own HTTP chunk, but an
  // unpaced stream costs one syscall, which keeps the simulator out of benchmark profiles.
  template <class Stream>
  net::awaitable<After> write_reply(Stream& stream, const Reply& reply, bool keep_alive,
                                    std::string& out) {
    out.clear();
    append_head(out, reply, keep_alive, reply.stream);
    if (reply.stream) {
      for (const auto& event : reply.events) {
        append_chunk(out, event);
      }
      out.append("0\r\n\r\n");
    } else {
      out.append(reply.body);
    }
    if (!co_await write_all(stream, out)) {
      co_return After::dropped;
    }
    co_return keep_alive ? After::keep_alive : After::close;
  }

  template <class Stream>
  net::awaitable<After> write_paced(Stream& stream, const Reply& reply, bool keep_alive,
                                    std::int64_t delay_ms, std::string& out) {
    out.clear();
    append_head(out, reply, keep_alive, true);
    for (std::size_t i = 0; i < reply.events.size(); ++i) {
      if (i > 0) {
        if (!co_await write_all(stream, out)) {
          co_return After::dropped;
        }
        out.clear();
        co_await sleep_ms(delay_ms);
      }
      append_chunk(out, reply.events[i]);
    }
    out.append("0\r\n\r\n");
    if (!co_await write_all(stream, out)) {
      co_return After::dropped;
    }
    co_return keep_alive ? After::keep_alive : After::close;
  }

  // Streams: headers plus the opening event and `after_chunks` content events, then the TCP
  // connection goes away with no terminating chunk (a FIN, so the bytes already sent arrive;
  // an RST could discard them in the peer's receive queue). Non-streams: no answer at all.
  template <class Stream>
  net::awaitable<void> die_after(Stream& stream, const Reply& reply, const FaultSpec& spec,
                                 std::string& out) {
    if (reply.stream) {
      const auto content =
          std::min(static_cast<std::size_t>(spec.after_chunks), reply.content_events);
      const auto limit = std::min(reply.first_content_event + content, reply.events.size());
      out.clear();
      append_head(out, reply, true, true);
      for (std::size_t i = 0; i < limit; ++i) {
        append_chunk(out, reply.events[i]);
      }
      co_await write_all(stream, out);
    }
    auto& socket = beast::get_lowest_layer(stream).socket();
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  template <class Stream>
  void reset(Stream& stream) {
    auto& socket = beast::get_lowest_layer(stream).socket();
    boost::system::error_code ignored;
    // SO_LINGER 0: close() sends RST instead of FIN.
    socket.set_option(tcp::socket::linger(true, 0), ignored);
    socket.close(ignored);
  }

  template <class Stream>
  net::awaitable<void> wait_for_peer_close(Stream& stream) {
    beast::get_lowest_layer(stream).expires_never();
    char scratch[1024];
    for (;;) {
      auto [ec, n] = co_await stream.async_read_some(net::buffer(scratch), kUseTuple);
      if (ec) {
        break;
      }
    }
  }

  // Closes after an error answer to a request that may not have been read to its end: stops
  // sending, then discards what the peer still sends (bounded in bytes and time) so the close
  // is a FIN, not an RST that could overtake the answer.
  template <class Stream>
  net::awaitable<void> linger_close(Stream& stream) {
    if constexpr (kIsTls<Stream>) {
      co_await close_gracefully(stream);
    } else {
      auto& socket = beast::get_lowest_layer(stream).socket();
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_send, ignored);
      beast::get_lowest_layer(stream).expires_after(kLingerTimeout);
      char scratch[16384];
      std::size_t discarded = 0;
      while (discarded < kLingerBytes) {
        auto [ec, n] = co_await stream.async_read_some(net::buffer(scratch), kUseTuple);
        if (ec) {
          break;
        }
        discarded += n;
      }
      socket.close(ignored);
    }
  }

  template <class Stream>
  net::awaitable<void> close_gracefully(Stream& stream) {
    boost::system::error_code ignored;
    if constexpr (kIsTls<Stream>) {
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
      co_await stream.async_shutdown(kUseTuple);
    }
    auto& socket = beast::get_lowest_layer(stream).socket();
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
  }

  net::awaitable<void> sleep_ms(std::int64_t ms) {
    if (ms <= 0) {
      co_return;
    }
    net::steady_timer timer(co_await net::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(ms));
    co_await timer.async_wait(kUseTuple);
  }

  // Anthropic's /v1/messages sits under OpenAI's /v1, so it is asked first; OpenAI is the
  // fallback face (its 404 answers unknown paths).
  const WireFormat& format_for(const ApiRequest& request) const {
    if (anthropic_->claims(request)) {
      return *anthropic_;
    }
    if (gemini_->claims(request)) {
      return *gemini_;
    }
    return *openai_;
  }

  net::io_context& io_;
  const Options& options_;
  std::unique_ptr<WireFormat> openai_;
  std::unique_ptr<WireFormat> anthropic_;
  std::unique_ptr<WireFormat> gemini_;
  std::optional<ssl::context> tls_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  FaultState faults_;
  Stats stats_;
};

// Backstop: an exception thrown by a completion handler outside any coroutine (inside a composed
// operation, say) escapes run(); that costs the connection it belonged to, not the simulator.
// run() may be called again after such an exception without restart().
void run_until_stopped(net::io_context& io) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (...) {
      std::cerr << "llmgw-sim: a handler threw (" << describe(std::current_exception())
                << "); serving on\n";
    }
  }
}

}  // namespace

int run(const Options& options) {
  std::signal(SIGPIPE, SIG_IGN);
  const int threads = std::max(1, options.threads);
  net::io_context io(threads);
  auto server = std::make_unique<Server>(io, options);
  server->bind();

  net::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](const boost::system::error_code& ec, int) {
    if (!ec) {
      io.stop();
    }
  });
  server->start();

  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(threads - 1));
  for (int i = 1; i < threads; ++i) {
    workers.emplace_back([&io] { run_until_stopped(io); });
  }
  run_until_stopped(io);
  for (auto& worker : workers) {
    worker.join();
  }
  // Hanging connections and paced streams are still suspended inside `io`; nothing they hold
  // needs orderly teardown, and a stuck destructor must not delay a test's SIGTERM.
  std::cout.flush();
  std::_Exit(0);
}

}  // namespace llmgw::sim
