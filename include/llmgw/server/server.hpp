#pragma once
// The HTTP front end: the main listener (client API) on N worker threads, each with its own
// io_context, and the admin listener on the control thread. A connection stays on the worker
// that accepted it.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "llmgw/cache/cache.hpp"
#include "llmgw/common/snapshot.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/feedback/recent_requests.hpp"
#include "llmgw/api/response_sink.hpp"
#include "llmgw/router/route_table.hpp"
#include "llmgw/server/access_log.hpp"
#include "llmgw/server/http_request.hpp"
#include "llmgw/limits/limits.hpp"
#include "llmgw/state/availability.hpp"
#include "llmgw/session/sessions.hpp"

namespace llmgw::tracing {
class Exporter;
}

namespace llmgw::metrics {
class Metrics;
}
namespace llmgw::router {
class Router;
}

namespace llmgw::server {

/// What every handler shares: the current config snapshot and process-wide counters.
struct GatewayState {
  explicit GatewayState(metrics::Metrics& m) : metrics(m) {}

  common::Snapshot<const router::RouteTable> table;
  metrics::Metrics& metrics;
  std::atomic<bool> draining{false};
  std::atomic<std::int64_t> inflight{0};  // proxied API requests in progress
  // Main-listener requests between their last byte in and their last byte out (answers
  // written after the handler returned, such as the drain's server_shutting_down, included).
  std::atomic<std::int64_t> busy{0};
  std::unique_ptr<AccessLog> access_log;  // null = off
  std::shared_ptr<tracing::Exporter> tracer;  // null = tracing off
  feedback::RecentRequests recent_requests;  // what POST /v1/feedback may rate
  session::Sessions sessions;  // the conversation store (config: sessions)
  limits::Limits limits;  // per-key rate limits and budgets (keys[]), here or on Redis (state)
  state::Availability state_availability;  // whether the shared state answers, per feature
  cache::Cache cache;  // the response cache's store (config: cache, state.backend)
  /// Reloads the config file; returns the JSON result body. Runs on the control thread.
  std::function<std::pair<bool, std::string>()> reload;
};

/// An answer a handler gives from the request head alone, before the body is read (a client
/// with a wrong key need not upload its 8 MiB first). The connection closes after it.
struct EarlyAnswer {
  int status = 0;
  std::vector<providers::Header> headers;
  std::string body;
};

class Handler {
public:
  virtual ~Handler() = default;
  /// Called once the head of a request with a body has arrived; nullopt = read the body and
  /// handle() it.
  virtual std::optional<EarlyAnswer> screen(const HttpRequest& head) {
    (void)head;
    return std::nullopt;
  }
  /// Answers one request through `sink`. `router` is the worker's router (null on admin).
  virtual boost::asio::awaitable<void> handle(HttpRequest& request, api::ByteSink& sink,
                                              router::Router* router) = 0;
};

std::unique_ptr<Handler> make_api_handler(GatewayState& state);
std::unique_ptr<Handler> make_admin_handler(GatewayState& state);

class Server {
public:
  Server(GatewayState& state, boost::asio::io_context& control, unsigned threads);
  ~Server();

  /// Binds both listeners (":0" picks a free port); an error text on failure.
  std::optional<std::string> listen(const config::ServerConfig& server);
  std::uint16_t main_port() const;
  std::uint16_t admin_port() const;
  /// Starts the worker threads and the accept loops.
  void start();
  /// Stops accepting new connections (drain); in-flight requests go on. Idle keep-alive
  /// connections stay open: closing one races with a request the client may be sending on it
  /// (a reset POST cannot be retried safely); their next answer says "connection: close".
  void stop_accepting();
  /// Ends every request still in progress with server_shutting_down (in its API's format: an
  /// SSE error event on a stream, a 503 otherwise) and closes its connection.
  void abort_inflight();
  /// Stops the workers and joins them.
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmgw::server
