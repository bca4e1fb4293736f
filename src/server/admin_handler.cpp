// The admin API (SPEC §2, admin listener): metrics, running config, reload, upstream health
// and operator overrides, and a small status page.
#include <nlohmann/json.hpp>

#include "llmgw/api/errors.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/config/loader.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/metrics/process.hpp"
#include "llmgw/server/server.hpp"
#include "server/status_view.hpp"

namespace llmgw::server {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::steady_clock;

json canary_json(const config::ModelConfig& model, const router::CanaryState& canary) {
  const auto c = canary.snapshot(steady_clock::now());
  return json{{"model", model.name},
              {"target", c.target},
              {"percent", c.percent},
              {"state", c.rolled_back ? "rolled_back" : "active"},
              {"reason", c.reason},
              {"requests", c.requests},
              {"error_rate", c.error_rate},
              {"bad_answers", c.bad_answers},
              {"ratings", c.ratings},
              {"mean_feedback", c.mean_feedback}};
}

std::string canaries_body(const router::RouteTable& table) {
  json list = json::array();
  for (const auto& m : table.config().models) {
    const auto* route = table.model_route(m.name);
    if (route && route->canary) {
      list.push_back(canary_json(m, *route->canary));
    }
  }
  return json{{"canaries", std::move(list)}}.dump(2);
}

// Gauges that mirror health state are set just before each scrape.
void refresh_health_gauges(metrics::Metrics& m, const router::RouteTable& table) {
  std::vector<std::string> present;
  for (const auto& p : table.config().providers) {
    present.push_back(p.name);
  }
  m.retain_upstream_gauges(present);
  for (const auto& [route, s] : provider_status(table, steady_clock::now()).providers) {
    m.set_upstream_healthy(s.provider, "routable", s.routable);
    if (s.active_healthy) {
      m.set_upstream_healthy(s.provider, "active", *s.active_healthy);
    }
    if (s.passive_healthy) {
      m.set_upstream_healthy(s.provider, "passive", *s.passive_healthy);
    }
    if (s.semantic_healthy) {
      m.set_upstream_healthy(s.provider, "semantic", *s.semantic_healthy);
    }
    if (s.signals) {
      // Degraded counts as healthy here: still routable; the breach is in /admin/upstreams.
      m.set_upstream_healthy(s.provider, "signals", s.signals->breach.empty() ||
                                                        !s.signals->ejects);
    }
    if (s.circuit_enabled) {
      m.set_circuit_state(s.provider, static_cast<int>(s.circuit));
    }
  }
  for (const auto& model : table.config().models) {
    const auto* route = table.model_route(model.name);
    if (route && route->canary) {
      m.set_canary_active(model.name, !route->canary->rolled_back());
    }
  }
}

std::string action_body(std::string_view provider, std::string_view action) {
  return json{{"provider", provider}, {"action", action}}.dump();
}

// With server.admin_token set, every admin request but /healthz carries it as a bearer token.
bool authorized(const std::string& token, const HttpRequest& req) {
  if (token.empty()) {
    return true;
  }
  constexpr std::string_view kBearer = "Bearer ";
  std::string_view auth = req.authorization;
  if (auth.size() <= kBearer.size() || !common::iequals(auth.substr(0, kBearer.size()), kBearer)) {
    return false;
  }
  return common::constant_time_equals(common::trim(auth.substr(kBearer.size())), token);
}

class AdminHandler final : public Handler {
public:
  explicit AdminHandler(GatewayState& state) : state_(state) {}

  asio::awaitable<void> handle(HttpRequest& req, api::ByteSink& sink,
                               router::Router*) override {
    auto table = req.table;
    if (req.path != "/healthz" && !authorized(table->config().server.admin_token, req)) {
      auto e = api::invalid_api_key("The admin API needs 'Authorization: Bearer <server.admin_token>'.");
      auto body = api::openai_error_body(e);
      co_await sink.send(e.status,
                         providers::make_headers("content-type", "application/json",
                                                 "www-authenticate", "Bearer realm=\"llmgw-admin\""),
                         std::move(body));
      co_return;
    }
    if (req.path == "/metrics" && req.method == "GET") {
      refresh_health_gauges(state_.metrics, *table);
      if (auto store = state_.sessions.store()) {
        state_.metrics.set_sessions_active(store->active());
      }
      if (auto cache = state_.cache.store()) {
        if (auto size = cache->size()) {
          state_.metrics.set_cache_size(size->entries, size->bytes);
        }
      }
      // Reads /proc: fine here, the admin listener runs on the control thread.
      state_.metrics.set_process(metrics::read_process_stats());
      auto body = state_.metrics.serialize();
      co_await sink.send(200, providers::make_headers("content-type", "text/plain; version=0.0.4; charset=utf-8"),
                         std::move(body));
    } else if (req.path == "/" && req.method == "GET") {
      auto body = status_page(status_view(*table, steady_clock::now()));
      co_await sink.send(200, providers::make_headers("content-type", "text/html; charset=utf-8"),
                         std::move(body));
    } else if (req.path == "/admin/upstreams" && req.method == "GET") {
      auto body = upstreams_json(status_view(*table, steady_clock::now()));
      co_await sink.send(200, providers::make_headers("content-type", "application/json"),
                         std::move(body));
    } else if (req.path.starts_with("/admin/upstreams/") && req.method == "POST") {
      co_await operator_action(*table, req, sink);
    } else if (req.path == "/admin/canaries" && req.method == "GET") {
      co_await sink.send(200, providers::make_headers("content-type", "application/json"),
                         canaries_body(*table));
    } else if (req.path.starts_with("/admin/canary/") && req.method == "POST") {
      co_await resume_canary(*table, req, sink);
    } else if (req.path == "/admin/config" && req.method == "GET") {
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
  // POST /admin/upstreams/{name}/eject | /restore
  asio::awaitable<void> operator_action(const router::RouteTable& table, const HttpRequest& req,
                                        api::ByteSink& sink) {
    std::string_view rest = std::string_view(req.path).substr(std::string_view("/admin/upstreams/").size());
    auto slash = rest.rfind('/');
    std::string name(rest.substr(0, slash == std::string_view::npos ? 0 : slash));
    std::string action(slash == std::string_view::npos ? rest : rest.substr(slash + 1));
    const auto* route = table.provider(name);
    if (!route || !route->health || (action != "eject" && action != "restore")) {
      auto e = api::not_found_route(req.path);
      auto body = api::openai_error_body(e);
      co_await sink.send(404, providers::make_headers("content-type", "application/json"),
                         std::move(body));
      co_return;
    }
    if (action == "eject") {
      route->health->operator_eject(steady_clock::now());
    } else {
      route->health->operator_restore();
    }
    auto body = action_body(name, action);
    co_await sink.send(200, providers::make_headers("content-type", "application/json"),
                       std::move(body));
  }

  // POST /admin/canary/{model}/resume: a rolled-back canary gets its share again.
  asio::awaitable<void> resume_canary(const router::RouteTable& table, const HttpRequest& req,
                                      api::ByteSink& sink) {
    constexpr std::string_view kPrefix = "/admin/canary/";
    constexpr std::string_view kSuffix = "/resume";
    std::string_view rest = std::string_view(req.path).substr(kPrefix.size());
    const auto* route = rest.ends_with(kSuffix)
                            ? table.model_route(rest.substr(0, rest.size() - kSuffix.size()))
                            : nullptr;
    if (!route || !route->canary) {
      auto e = api::not_found_route(req.path);
      e.message = "No canary at " + api::echo(req.path) +
                  " (POST /admin/canary/{model}/resume, for a model with a canary).";
      co_await sink.send(404, providers::make_headers("content-type", "application/json"),
                         api::openai_error_body(e));
      co_return;
    }
    route->canary->resume();
    auto body = canary_json(*route->config, *route->canary).dump(2);
    co_await sink.send(200, providers::make_headers("content-type", "application/json"),
                       std::move(body));
  }

  GatewayState& state_;
};

}  // namespace

std::unique_ptr<Handler> make_admin_handler(GatewayState& state) {
  return std::make_unique<AdminHandler>(state);
}

}  // namespace llmgw::server
