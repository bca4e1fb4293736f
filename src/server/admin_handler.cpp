// The admin API (SPEC §2, admin listener): metrics, running config, reload.
#include "llmgw/api/errors.hpp"
#include "llmgw/config/loader.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/server/server.hpp"

namespace llmgw::server {
namespace {

namespace asio = boost::asio;

class AdminHandler final : public Handler {
public:
  explicit AdminHandler(GatewayState& state) : state_(state) {}

  asio::awaitable<void> handle(HttpRequest& req, router::ResponseSink& sink,
                               router::Router*) override {
    if (req.path == "/metrics" && req.method == "GET") {
      co_await sink.send(200, providers::make_headers("content-type", "text/plain; version=0.0.4; charset=utf-8"),
                         state_.metrics.serialize());
    } else if (req.path == "/admin/config" && req.method == "GET") {
      auto table = state_.table.load();
      co_await sink.send(200, providers::make_headers("content-type", "application/json"),
                         config::to_redacted_json(table->config()));
    } else if (req.path == "/admin/reload" && req.method == "POST") {
      auto [applied, body] = state_.reload();
      co_await sink.send(applied ? 200 : 422, providers::make_headers("content-type", "application/json"),
                         std::move(body));
    } else if (req.path == "/healthz") {
      co_await sink.send(200, providers::make_headers("content-type", "application/json"), R"({"status":"ok"})");
    } else {
      auto e = api::not_found_route(req.path);
      co_await sink.send(e.status, providers::make_headers("content-type", "application/json"),
                         api::openai_error_body(e));
    }
  }

private:
  GatewayState& state_;
};

}  // namespace

std::unique_ptr<Handler> make_admin_handler(GatewayState& state) {
  return std::make_unique<AdminHandler>(state);
}

}  // namespace llmgw::server
