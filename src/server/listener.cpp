// Beast lives here (and in upstream/): accept loops, the HTTP/1.1 session coroutine, and the
// ResponseSink that writes to the socket. Request handling is in the handlers.
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>
#include <thread>

#include "llmgw/api/errors.hpp"
#include "llmgw/common/url.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/router/router.hpp"
#include "llmgw/server/server.hpp"
#include "llmgw/upstream/client.hpp"
#include "server/anthropic_ingress.hpp"

namespace llmgw::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using namespace asio::experimental::awaitable_operators;
constexpr auto kWriteTimeout = std::chrono::seconds(60);

struct Limits {
  std::uint64_t max_body = 8u << 20;
  std::uint64_t max_header = 16u << 10;
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds idle_timeout{120000};
};

Limits current_limits(const GatewayState& state) {
  Limits l;
  if (auto table = state.table.load()) {
    const auto& s = table->config().server;
    l.max_body = s.max_body_bytes;
    l.max_header = s.max_header_bytes;
    l.read_timeout = s.read_timeout;
    l.idle_timeout = s.idle_timeout;
  }
  return l;
}

template <class Stream>
beast::tcp_stream& lowest_of(Stream& s) {
  return beast::get_lowest_layer(s);
}

template <class Stream>
class BeastSink final : public router::ResponseSink {
public:
  BeastSink(Stream& stream, bool keep_alive, const GatewayState& state)
      : stream_(stream), keep_alive_(keep_alive), state_(state) {}

  bool keep_alive() const { return keep_alive_ && ok_; }
  bool started() const override { return started_; }

  asio::awaitable<bool> send(int status, std::vector<providers::Header> headers,
                             std::string body) override {
    if (started_) {
      co_return false;
    }
    started_ = true;
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    apply(res, headers);
    res.body() = std::move(body);
    res.prepare_payload();
    lowest_of(stream_).expires_after(kWriteTimeout);
    auto [ec, n] = co_await http::async_write(stream_, res, use_tuple);
    ok_ = !ec;
    co_return ok_;
  }

  asio::awaitable<bool> start_stream(int status, std::vector<providers::Header> headers) override {
    if (started_) {
      co_return false;
    }
    started_ = true;
    streaming_ = true;
    http::response<http::empty_body> res{static_cast<http::status>(status), 11};
    apply(res, headers);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    lowest_of(stream_).expires_after(kWriteTimeout);
    auto [ec, n] = co_await http::async_write_header(stream_, sr, use_tuple);
    ok_ = !ec;
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
        co_await asio::async_write(stream_, http::make_chunk(asio::buffer(bytes)), use_tuple);
    ok_ = !ec;
    co_return ok_;
  }

  asio::awaitable<bool> end_stream() override {
    if (!ok_ || !streaming_) {
      co_return false;
    }
    streaming_ = false;
    lowest_of(stream_).expires_after(kWriteTimeout);
    auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk_last(), use_tuple);
    ok_ = !ec;
    co_return ok_;
  }

  // A stream the handler left open (a bug, or an exception) can't be reused.
  bool finished_cleanly() const { return ok_ && started_ && !streaming_; }

private:
  template <class Res>
  void apply(Res& res, const std::vector<providers::Header>& headers) {
    res.set(http::field::server, "llmgw");
    for (const auto& h : headers) {
      res.set(h.name, h.value);
    }
    if (state_.draining.load(std::memory_order_relaxed)) {
      keep_alive_ = false;
    }
    res.keep_alive(keep_alive_);
  }

  Stream& stream_;
  bool keep_alive_;
  const GatewayState& state_;
  bool ok_ = true;
  bool started_ = false;
  bool streaming_ = false;
};

// Errors answered before a handler runs, in the error shape of the path's API.
std::string error_body_for(std::string_view path, const api::GatewayError& e) {
  return path == kAnthropicMessagesPath ? anthropic_error_body(e, {}) : api::openai_error_body(e);
}

template <class Stream>
asio::awaitable<void> write_error(Stream& stream, const GatewayState& state,
                                  const api::GatewayError& e, std::string_view path = {}) {
  BeastSink<Stream> sink(stream, false, state);
  auto body = error_body_for(path, e);
  co_await sink.send(e.status, providers::make_headers("content-type", "application/json"), std::move(body));
}

std::string header_value(const http::request_parser<http::string_body>::value_type& req,
                         std::string_view name) {
  auto it = req.find(name);
  return it == req.end() ? std::string() : std::string(it->value());
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
  } else if (ec == asio::error::operation_aborted) {
    // Cancelled because the request finished first: report "not the winner" by waiting out the
    // cancellation (the operator ignores our result then).
    co_return;
  }
}

template <class Stream>
asio::awaitable<void> serve_http(Stream& stream, std::string remote, GatewayState& state,
                                 Handler& handler, router::Router* router) {
  beast::flat_buffer buffer;
  auto& lowest = lowest_of(stream);
  for (;;) {
    auto limits = current_limits(state);
    if (buffer.size() == 0) {
      // Idle keep-alive wait for the next request: longer than the read timeout.
      lowest.expires_after(limits.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
      if (ec) {
        co_return;
      }
      buffer.commit(n);
      // The config may have been reloaded while the connection sat idle: this request is
      // governed by the limits in force when it arrived.
      limits = current_limits(state);
    }
    // From the first byte on, the whole request must arrive within read_timeout (slowloris).
    lowest.expires_after(limits.read_timeout);
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header));
    parser.body_limit(limits.max_body);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (!hec && parser.get()[http::field::expect] == "100-continue" && !parser.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, 11};
      co_await http::async_write(stream, cont, use_tuple);
    }
    beast::error_code ec = hec;
    if (!ec && !parser.is_done()) {
      auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_tuple);
      ec = bec;
    }
    if (ec) {
      if (ec == http::error::body_limit) {
        std::string_view target = parser.get().target();
        auto path = target.substr(0, target.find('?'));
        auto error = api::request_too_large("Request body exceeds the limit of " +
                                            std::to_string(limits.max_body) + " bytes.");
        co_await write_error(stream, state, error, path);
      } else if (ec == http::error::header_limit) {
        co_await write_error(stream, state,
                             api::request_too_large("Request headers exceed the limit of " +
                                                    std::to_string(limits.max_header) + " bytes."));
      } else if (ec.category() == http::make_error_code(http::error::body_limit).category()) {
        co_await write_error(stream, state,
                             api::invalid_request("Malformed HTTP request: " + ec.message()));
      }
      co_return;  // timeouts and resets: nothing useful to answer
    }

    auto& msg = parser.get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    std::string_view target = msg.target();
    auto q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) {
      req.query = std::string(target.substr(q + 1));
    }
    req.keep_alive = msg.keep_alive();
    req.authorization = header_value(msg, "authorization");
    req.x_api_key = header_value(msg, "x-api-key");
    req.request_id = header_value(msg, "x-request-id");
    req.traceparent = header_value(msg, "traceparent");
    req.tracestate = header_value(msg, "tracestate");
    req.session_id = header_value(msg, "x-session-id");
    req.route_hint = header_value(msg, "x-llmgw-route-hint");
    req.region = header_value(msg, "x-llmgw-region");
    req.remote = remote;
    req.body = std::move(msg.body());

    lowest.expires_never();  // the handler's own deadlines govern from here
    BeastSink<Stream> sink(stream, req.keep_alive, state);
    // A bug in one request must not take the connection's other requests (or the worker)
    // down with it: answer 500 if nothing was sent yet, else drop this connection.
    bool crashed = false;
    bool client_left = false;
    try {
      // The handler races a watcher of the client socket: a client that hangs up while its
      // request waits on a provider cancels that request, and with it the upstream call (no
      // paying for an answer nobody will read). Named awaitables, not temporaries, in the
      // co_await expression: g++ 12 miscompiles the latter.
      auto handling = handler.handle(req, sink, router);
      auto watching = watch_for_hangup(lowest.socket());
      auto winner = co_await (std::move(handling) || std::move(watching));
      client_left = winner.index() == 1;
    } catch (const std::exception& e) {
      spdlog::error("request {} {} failed with an exception: {}", req.method, req.path, e.what());
      crashed = true;
    }
    if (client_left) {
      co_return;
    }
    if (crashed) {
      if (!sink.started()) {
        auto error = api::internal_error("The gateway failed to handle this request.");
        auto headers = providers::make_headers("content-type", "application/json");
        auto body = error_body_for(req.path, error);
        co_await sink.send(error.status, std::move(headers), std::move(body));
      }
      co_return;
    }
    if (!sink.finished_cleanly() || !sink.keep_alive()) {
      co_return;
    }
  }
}

void shutdown_stream(beast::tcp_stream& s) {
  beast::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_send, ec);
  s.close();
}

asio::awaitable<void> run_plain_session(tcp::socket socket, GatewayState& state, Handler& handler,
                                        router::Router* router) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  std::string remote = ec ? "" : ep.address().to_string() + ":" + std::to_string(ep.port());
  socket.set_option(tcp::no_delay(true), ec);
  beast::tcp_stream stream(std::move(socket));
  co_await serve_http(stream, std::move(remote), state, handler, router);
  shutdown_stream(stream);
}

asio::awaitable<void> run_tls_session(tcp::socket socket, std::shared_ptr<ssl::context> ctx,
                                      GatewayState& state, Handler& handler,
                                      router::Router* router) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  std::string remote = ec ? "" : ep.address().to_string() + ":" + std::to_string(ep.port());
  socket.set_option(tcp::no_delay(true), ec);
  ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *ctx);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
  if (hec) {
    co_return;
  }
  co_await serve_http(stream, std::move(remote), state, handler, router);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(use_tuple);
  shutdown_stream(beast::get_lowest_layer(stream));
}

void log_escape(std::exception_ptr e) {
  if (!e) {
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("connection ended by an unexpected exception: {}", ex.what());
  } catch (...) {
    spdlog::error("connection ended by an unknown exception");
  }
}

std::optional<std::string> bind(tcp::acceptor& acceptor, const std::string& address) {
  std::string why;
  auto hp = common::parse_host_port(address, &why);
  if (!hp) {
    return "invalid listen address '" + address + "': " + why;
  }
  beast::error_code ec;
  tcp::endpoint ep;
  auto ip = asio::ip::make_address(hp->host, ec);
  if (!ec) {
    ep = tcp::endpoint(ip, hp->port);
  } else {
    // A name such as "localhost": resolved once, at start-up (never on the request path).
    tcp::resolver resolver(acceptor.get_executor());
    auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
    if (ec || results.empty()) {
      return "cannot resolve listen address '" + address + "': " +
             (ec ? ec.message() : std::string("no address"));
    }
    ep = results.begin()->endpoint();
  }
  acceptor.open(ep.protocol(), ec);
  if (!ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }

  if (!ec) {
    acceptor.bind(ep, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return "cannot listen on " + address + ": " + ec.message();
  }
  return std::nullopt;
}

}  // namespace

struct Worker {
  explicit Worker(metrics::Metrics& metrics)
      : client(ioc.get_executor()), router(client, metrics) {}
  asio::io_context ioc{1};
  upstream::Client client;
  router::Router router;
  std::thread thread;
  // This worker's handle on the shared listening socket (see Server::listen).
  std::optional<tcp::acceptor> acceptor;
};

struct Server::Impl {
  Impl(GatewayState& s, asio::io_context& c, unsigned threads)
      : state(s), control(c), admin_acceptor(c) {
    for (unsigned i = 0; i < threads; ++i) {
      workers.push_back(std::make_unique<Worker>(s.metrics));
    }
    api = make_api_handler(s);
    admin = make_admin_handler(s);
  }

  asio::awaitable<void> accept_main(Worker& worker) {
    auto& acceptor = *worker.acceptor;
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
          co_return;
        }
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      if (tls) {
        asio::co_spawn(worker.ioc,
                       run_tls_session(std::move(socket), tls, state, *api, &worker.router),
                       log_escape);
      } else {
        asio::co_spawn(worker.ioc, run_plain_session(std::move(socket), state, *api, &worker.router),
                       log_escape);
      }
    }
  }

  // Acceptors belong to their worker's thread: close them there.
  void close_main_acceptors() {
    for (auto& w : workers) {
      if (w->acceptor) {
        asio::post(w->ioc, [&acceptor = *w->acceptor] {
          beast::error_code ec;
          acceptor.close(ec);
        });
      }
    }
  }

  asio::awaitable<void> accept_admin() {
    for (;;) {
      auto [ec, socket] = co_await admin_acceptor.async_accept(use_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !admin_acceptor.is_open()) {
          co_return;
        }
        continue;
      }
      asio::co_spawn(control, run_plain_session(std::move(socket), state, *admin, nullptr),
                     log_escape);
    }
  }

  GatewayState& state;
  asio::io_context& control;
  tcp::acceptor admin_acceptor;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<Handler> api;
  std::unique_ptr<Handler> admin;
  std::shared_ptr<ssl::context> tls;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
};

Server::Server(GatewayState& state, asio::io_context& control, unsigned threads)
    : impl_(std::make_unique<Impl>(state, control, std::max(1u, threads))) {}

Server::~Server() { stop(); }

std::optional<std::string> Server::listen(const config::ServerConfig& server) {
  if (server.tls) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    beast::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                     ec);
    ctx->use_certificate_chain_file(server.tls->cert, ec);
    if (ec) {
      return "server.tls.cert '" + server.tls->cert + "': " + ec.message();
    }
    ctx->use_private_key_file(server.tls->key, ssl::context::pem, ec);
    if (ec) {
      return "server.tls.key '" + server.tls->key + "': " + ec.message();
    }
    impl_->tls = ctx;
  }
  // One listening socket; every worker accepts on its own duplicate of it, in its own event
  // loop, so a new connection never crosses threads. (Not SO_REUSEPORT: that would let a
  // second gateway started on the same port silently take half the connections.)
  auto& first = *impl_->workers.front();
  first.acceptor.emplace(first.ioc);
  if (auto e = bind(*first.acceptor, server.listen)) {
    return e;
  }
  auto protocol = first.acceptor->local_endpoint().protocol();
  for (std::size_t i = 1; i < impl_->workers.size(); ++i) {
    auto& w = *impl_->workers[i];
    int fd = ::dup(first.acceptor->native_handle());
    beast::error_code ec;
    w.acceptor.emplace(w.ioc);
    if (fd < 0) {
      return "cannot share the listening socket with worker " + std::to_string(i);
    }
    w.acceptor->assign(protocol, fd, ec);
    if (ec) {
      ::close(fd);
      return "cannot share the listening socket with worker " + std::to_string(i) + ": " +
             ec.message();
    }
  }
  return bind(impl_->admin_acceptor, server.admin_listen);
}

std::uint16_t Server::main_port() const {
  return impl_->workers.front()->acceptor->local_endpoint().port();
}
std::uint16_t Server::admin_port() const { return impl_->admin_acceptor.local_endpoint().port(); }

void Server::start() {
  for (auto& w : impl_->workers) {
    impl_->guards.push_back(asio::make_work_guard(w->ioc));
    w->thread = std::thread([&ioc = w->ioc] { ioc.run(); });
  }
  for (auto& w : impl_->workers) {
    asio::co_spawn(w->ioc, impl_->accept_main(*w), log_escape);
  }
  asio::co_spawn(impl_->control, impl_->accept_admin(), log_escape);
}

void Server::stop_accepting() { impl_->close_main_acceptors(); }

void Server::stop() {
  if (!impl_) {
    return;
  }
  beast::error_code ec;
  impl_->close_main_acceptors();
  impl_->admin_acceptor.close(ec);
  impl_->guards.clear();
  for (auto& w : impl_->workers) {
    w->ioc.stop();
  }
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) {
      w->thread.join();
    }
  }
}

}  // namespace llmgw::server
