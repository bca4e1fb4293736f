// Accept loops for both listeners, the worker threads and the listening sockets. Sessions
// (the HTTP/1.1 loop per connection) are in session.cpp.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <spdlog/spdlog.h>
#include <thread>

#include "llmgw/api/errors.hpp"
#include "llmgw/common/url.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/router/router.hpp"
#include "llmgw/server/server.hpp"
#include "llmgw/upstream/client.hpp"
#include "server/session.hpp"

namespace llmgw::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kFirstBackoff = std::chrono::milliseconds(10);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
constexpr auto kWarnEvery = std::chrono::seconds(10);
constexpr int kMaxShedPerRound = 64;

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

std::string_view accept_reason(const beast::error_code& ec) {
  if (ec == asio::error::no_descriptors) {
    return "emfile";
  }
  if (ec.value() == ENFILE && ec.category() == asio::error::get_system_category()) {
    return "enfile";
  }
  if (ec == asio::error::no_memory || ec == asio::error::no_buffer_space) {
    return "enomem";
  }
  return "other";
}

// The answer for a connection the process has no descriptor for: short, fixed, sent without
// blocking.
const std::string& shed_response() {
  static const std::string response = [] {
    auto body = api::openai_error_body(api::service_unavailable(
        "The gateway is out of connection capacity (file descriptors); retry shortly."));
    return "HTTP/1.1 503 Service Unavailable\r\nserver: llmgw\r\ncontent-type: application/json\r\n"
           "retry-after: 1\r\nconnection: close\r\ncontent-length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return response;
}

// Out of descriptors, a pending connection can be neither served nor refused: it sits in the
// backlog and the listening socket stays readable, so the accept loop would spin. One
// descriptor is held in reserve for this moment: released, it lets us accept the waiting
// clients one at a time, answer each 503 and close it (the libev/nginx trick).
class AcceptGuard {
public:
  AcceptGuard(std::string listener, metrics::Metrics& metrics)
      : listener_(std::move(listener)), metrics_(metrics) {
    reserve();
  }
  ~AcceptGuard() {
    if (reserve_fd_ >= 0) {
      ::close(reserve_fd_);
    }
  }
  AcceptGuard(const AcceptGuard&) = delete;
  AcceptGuard& operator=(const AcceptGuard&) = delete;

  // An accept failed: count it, warn at most once per kWarnEvery, shed the backlog when out of
  // descriptors, and say how long to wait before accepting again.
  std::chrono::milliseconds on_error(const beast::error_code& ec, int listen_fd) {
    auto reason = accept_reason(ec);
    metrics_.accept_error(listener_, reason);
    ++suppressed_;
    auto now = std::chrono::steady_clock::now();
    if (now - last_warn_ >= kWarnEvery) {
      spdlog::warn("{} listener: accept failed {} time(s) in the last {}s: {}{}", listener_,
                   suppressed_, std::chrono::duration_cast<std::chrono::seconds>(kWarnEvery).count(),
                   ec.message(),
                   reason == "emfile" || reason == "enfile"
                       ? " (out of file descriptors: raise LimitNOFILE / ulimit -n; waiting "
                         "clients are answered 503)"
                       : "");
      last_warn_ = now;
      suppressed_ = 0;
    }
    if (reason != "other") {
      shed(listen_fd);
    }
    backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
    return backoff_;
  }

  void on_success() { backoff_ = std::chrono::milliseconds(0); }

private:
  void reserve() {
    if (reserve_fd_ < 0) {
      reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
  }

  void shed(int listen_fd) {
    if (reserve_fd_ >= 0) {
      ::close(reserve_fd_);
      reserve_fd_ = -1;
    }
    const auto& response = shed_response();
    for (int i = 0; i < kMaxShedPerRound; ++i) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        break;
      }
      // Best effort, never blocking: read what the client already sent (so close() sends FIN,
      // not RST), answer, close.
      char scratch[4096];
      while (::recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) > 0) {
      }
      [[maybe_unused]] auto n = ::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
      metrics_.connection_shed(listener_);
    }
    reserve();
  }

  std::string listener_;
  metrics::Metrics& metrics_;
  int reserve_fd_ = -1;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point last_warn_{};
  std::uint64_t suppressed_ = 0;
};

// Accepts until the acceptor closes; `spawn` starts a session for each connection.
template <class Spawn>
asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, AcceptGuard& guard, Spawn spawn) {
  asio::steady_timer pause(acceptor.get_executor());
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        co_return;
      }
      // Retrying at once would spin: the condition (no descriptors) is still there.
      pause.expires_after(guard.on_error(ec, acceptor.native_handle()));
      co_await pause.async_wait(use_tuple);
      if (!acceptor.is_open()) {
        co_return;
      }
      continue;
    }
    guard.on_success();
    spawn(std::move(socket));
  }
}

// The endpoint of a `listen:` address, or why there is none.
std::optional<std::string> resolve(asio::io_context& ioc, const std::string& address,
                                   tcp::endpoint& ep) {
  std::string why;
  auto hp = common::parse_host_port(address, &why);
  if (!hp) {
    return "invalid listen address '" + address + "': " + why;
  }
  beast::error_code ec;
  auto ip = asio::ip::make_address(hp->host, ec);
  if (!ec) {
    ep = tcp::endpoint(ip, hp->port);
    return std::nullopt;
  }
  // A name such as "localhost": resolved once, at start-up (never on the request path).
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec || results.empty()) {
    return "cannot resolve listen address '" + address + "': " +
           (ec ? ec.message() : std::string("no address"));
  }
  ep = results.begin()->endpoint();
  return std::nullopt;
}

std::optional<std::string> listen_on(tcp::acceptor& acceptor, const tcp::endpoint& ep,
                                     const std::string& address, bool reuse_port) {
  beast::error_code ec;
  acceptor.open(ep.protocol(), ec);
  if (!ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec && reuse_port) {
    int on = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
      ec.assign(errno, boost::system::system_category());
    }
  }
  if (!ec) {
    acceptor.bind(ep, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (!ec) {
    // The backlog shedding in AcceptGuard calls accept4() directly and must never block.
    int fd = acceptor.native_handle();
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  if (ec) {
    return "cannot listen on " + address + ": " + ec.message();
  }
  return std::nullopt;
}

std::optional<std::string> bind(asio::io_context& ioc, tcp::acceptor& acceptor,
                                const std::string& address) {
  tcp::endpoint ep;
  if (auto e = resolve(ioc, address, ep)) {
    return e;
  }
  return listen_on(acceptor, ep, address, false);
}

// SO_REUSEPORT would let a second process on the same port silently take part of the
// connections; a plain bind first fails if anyone holds the port, so that stays an error.
std::optional<std::string> probe_port_free(asio::io_context& ioc, const tcp::endpoint& ep,
                                           const std::string& address) {
  if (ep.port() == 0) {
    return std::nullopt;
  }
  tcp::acceptor probe(ioc);
  beast::error_code ec;
  probe.open(ep.protocol(), ec);
  if (!ec) {
    probe.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    probe.bind(ep, ec);
  }
  if (ec) {
    return "cannot listen on " + address + ": " + ec.message();
  }
  return std::nullopt;
}

}  // namespace

struct Worker {
  explicit Worker(GatewayState& state)
      : client(ioc.get_executor()),
        router(client, state.metrics),
        guard("main", state.metrics),
        table(state.table) {}
  // Before ioc: session coroutines still suspended when the io_context is destroyed unregister
  // from it as their frames go.
  SessionRegistry sessions;  // touched only on this worker's thread
  asio::io_context ioc{1};
  upstream::Client client;
  router::Router router;
  std::thread thread;
  // This worker's handle on the shared listening socket (see Server::listen).
  std::optional<tcp::acceptor> acceptor;
  AcceptGuard guard;
  common::SnapshotReader<const router::RouteTable> table;  // this thread's view of the config
};

struct Server::Impl {
  Impl(GatewayState& s, asio::io_context& c, unsigned threads)
      : state(s), control(c), admin_acceptor(c), admin_guard("admin", s.metrics) {
    for (unsigned i = 0; i < threads; ++i) {
      workers.push_back(std::make_unique<Worker>(s));
    }
    api = make_api_handler(s);
    admin = make_admin_handler(s);
  }

  asio::awaitable<void> accept_main(Worker& worker) {
    SessionContext ctx{state, *api, &worker.router, &worker.sessions, &worker.table};
    co_await accept_loop(*worker.acceptor, worker.guard, [&](tcp::socket socket) {
      if (tls) {
        asio::co_spawn(worker.ioc, run_tls_session(std::move(socket), tls, ctx), log_escape);
      } else {
        asio::co_spawn(worker.ioc, run_plain_session(std::move(socket), ctx), log_escape);
      }
    });
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
    SessionContext ctx{state, *admin, nullptr, nullptr, &admin_table};
    co_await accept_loop(admin_acceptor, admin_guard, [&](tcp::socket socket) {
      asio::co_spawn(control, run_plain_session(std::move(socket), ctx), log_escape);
    });
  }

  // Runs `f(worker)` on every worker's own thread.
  template <class F>
  void on_each_worker(F f) {
    for (auto& w : workers) {
      asio::post(w->ioc, [&worker = *w, f] { f(worker); });
    }
  }

  GatewayState& state;
  asio::io_context& control;
  tcp::acceptor admin_acceptor;
  common::SnapshotReader<const router::RouteTable> admin_table{state.table};  // control thread
  AcceptGuard admin_guard;
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
  // One listening socket per worker, each in its own event loop, so a new connection never
  // crosses threads. With several workers they share the port with SO_REUSEPORT and the kernel
  // spreads connections by hash: one socket shared by all epolls let whichever worker woke
  // first accept a whole burst (64 connections on one of two workers, half the throughput).
  auto& first = *impl_->workers.front();
  tcp::endpoint ep;
  if (auto e = resolve(first.ioc, server.listen, ep)) {
    return e;
  }
  bool shared = impl_->workers.size() > 1;
  if (shared) {
    if (auto e = probe_port_free(first.ioc, ep, server.listen)) {
      return e;
    }
  }
  for (std::size_t i = 0; i < impl_->workers.size(); ++i) {
    auto& w = *impl_->workers[i];
    w.acceptor.emplace(w.ioc);
    if (auto e = listen_on(*w.acceptor, ep, server.listen, shared)) {
      return e;
    }
    // Port 0: the others join the port the first one was given.
    ep.port(w.acceptor->local_endpoint().port());
  }
  return bind(impl_->control, impl_->admin_acceptor, server.admin_listen);
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

void Server::abort_inflight() {
  impl_->on_each_worker([](Worker& w) { w.sessions.abort_all(); });
}

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
