// The exporter's POST to the collector: the upstream client on an io_context of its own, run
// by the exporter thread for the length of one request (no worker's event loop is involved).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "llmgw/config/config.hpp"
#include "llmgw/tracing/exporter.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::tracing {
namespace {

namespace asio = boost::asio;

class HttpPoster final : public Poster {
public:
  explicit HttpPoster(const config::TracingConfig& cfg)
      : client_(io_.get_executor()), timeout_(cfg.export_timeout) {
    endpoint_.url = cfg.url;
    endpoint_.timeouts.connect = cfg.export_timeout;
    endpoint_.timeouts.first_byte = cfg.export_timeout;
    endpoint_.timeouts.idle_between_chunks = cfg.export_timeout;
    endpoint_.timeouts.total = cfg.export_timeout;
    endpoint_.max_connections = 1;
    endpoint_.pool_key = cfg.url.scheme + "://" + cfg.url.host + ":" +
                         std::to_string(cfg.url.port) + "|otlp";
    request_.method = "POST";
    request_.target = cfg.url.path + "/v1/traces";
    request_.headers.emplace_back("content-type", "application/json");
    for (const auto& [name, value] : cfg.headers) {
      request_.headers.emplace_back(name, value);
    }
  }

  bool post(const std::string& body) override {
    request_.body = body;
    bool ok = false;
    io_.restart();
    asio::co_spawn(io_, send(ok), asio::detached);
    io_.run();
    return ok;
  }

private:
  asio::awaitable<void> send(bool& ok) {
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    auto sent = co_await client_.send(endpoint_, request_, deadline);
    if (!sent) {
      report("", sent.error().message);
      co_return;
    }
    auto& response = sent.value();
    auto answer = co_await response.read_all(64 * 1024);  // read to the end: keep-alive
    const int status = response.status();
    ok = status >= 200 && status < 300;
    if (!ok) {
      report(std::to_string(status), answer ? *answer : std::string());
    }
  }

  // At most one line every 10 s: a collector that is down must not flood the daemon log.
  void report(const std::string& status, const std::string& detail) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report_ < std::chrono::seconds(10)) {
      return;
    }
    last_report_ = now;
    spdlog::warn("tracing: export to {} failed: {} {}", request_.target,
                 status.empty() ? "no answer:" : "HTTP " + status + ":", detail.substr(0, 200));
  }

  asio::io_context io_;
  upstream::Client client_;
  upstream::Endpoint endpoint_;
  providers::UpstreamRequest request_;
  std::chrono::milliseconds timeout_;
  std::chrono::steady_clock::time_point last_report_{};
};

}  // namespace

std::unique_ptr<Poster> make_http_poster(const config::TracingConfig& cfg) {
  return std::make_unique<HttpPoster>(cfg);
}

}  // namespace llmgw::tracing
