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

#include "llmgw/common/snapshot.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/router/response_sink.hpp"
#include "llmgw/router/route_table.hpp"
#include "llmgw/server/http_request.hpp"

namespace spdlog {
class logger;
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
  std::atomic<std::int64_t> inflight{0};
  std::shared_ptr<spdlog::logger> access_log;  // null = off
  /// Reloads the config file; returns the JSON result body. Runs on the control thread.
  std::function<std::pair<bool, std::string>()> reload;
};

class Handler {
public:
  virtual ~Handler() = default;
  /// Answers one request through `sink`. `router` is the worker's router (null on admin).
  virtual boost::asio::awaitable<void> handle(HttpRequest& request, router::ResponseSink& sink,
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
  /// Stops accepting new connections (drain); in-flight requests go on.
  void stop_accepting();
  /// Stops the workers and joins them.
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmgw::server
