// The admin API (SPEC §2, admin listener): metrics, running config, reload, upstream health
// and operator overrides, and a small status page.
#include <nlohmann/json.hpp>

#include "llmgw/api/errors.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/config/loader.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/metrics/process.hpp"
#include "llmgw/server/server.hpp"

namespace llmgw::server {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::steady_clock;

json snapshot_json(const health::HealthSnapshot& s, const router::ProviderRoute& route) {
  json checks = json::object();
  if (s.active_healthy) {
    checks["active"] = *s.active_healthy ? "healthy" : "unhealthy";
  }
  if (s.passive_healthy) {
    checks["passive"] = *s.passive_healthy ? "healthy" : "ejected";
  }
  if (s.semantic_healthy) {
    checks["semantic"] = *s.semantic_healthy ? "healthy" : "unhealthy";
  }
  json signals = nullptr;
  if (s.signals) {
    const auto& g = *s.signals;
    checks["signals"] = g.breach.empty() ? "healthy" : (g.ejects ? "unhealthy" : "degraded");
    json rates = json::object();
    for (std::size_t i = 0; i < health::kSignalCount; ++i) {
      rates[std::string(health::to_string(static_cast<health::Signal>(i)))] = g.shares[i];
    }
    signals = {{"answers", g.answers},
               {"rates", std::move(rates)},
               {"breach", g.breach},
               {"baseline_tokens_per_second", g.baseline_tokens_per_second},
               {"ratings", g.ratings},
               {"mean_feedback", g.mean_feedback}};
  }
  return json{{"name", s.provider},
              {"kind", config::to_string(route.config->kind)},
              {"base_url", route.config->base_url},
              {"region", route.config->region},
              {"routable", s.routable},
              {"reason", s.reason},
              {"checks", std::move(checks)},
              {"circuit", s.circuit_enabled ? resilience::to_string(s.circuit) : "disabled"},
              {"operator_ejected", s.operator_ejected},
              {"provider_key_rejected", s.provider_key_rejected},
              {"inflight", s.inflight},
              {"ewma_ttft_ms", s.ewma_ttft_ms},
              {"error_rate", s.error_rate},
              {"recent_calls", s.recent_calls},
              {"ejections", s.ejections},
              {"cooldown_ms", s.cooldown_ms},
              {"last_error", s.last_error},
              {"semantic_last_failure", s.semantic_last_failure},
              {"signals", std::move(signals)}};
}

// The status page's live-signal cell: the breach, else the worst rate.
std::string signals_cell(const health::HealthSnapshot& s) {
  if (!s.signals) {
    return "-";
  }
  const auto& g = *s.signals;
  if (!g.breach.empty()) {
    return (g.ejects ? "unhealthy: " : "degraded: ") + g.breach;
  }
  std::size_t worst = 0;
  for (std::size_t i = 1; i < health::kSignalCount; ++i) {
    worst = g.shares[i] > g.shares[worst] ? i : worst;
  }
  char cell[96];
  std::snprintf(cell, sizeof cell, "healthy (%llu answers; most %s %.0f%%)",
                static_cast<unsigned long long>(g.answers),
                std::string(health::to_string(static_cast<health::Signal>(worst))).c_str(),
                g.shares[worst] * 100);
  return cell;
}

std::vector<std::pair<const router::ProviderRoute*, health::HealthSnapshot>> snapshots(
    const router::RouteTable& table) {
  std::vector<std::pair<const router::ProviderRoute*, health::HealthSnapshot>> out;
  auto now = steady_clock::now();
  for (const auto& p : table.config().providers) {
    const auto* route = table.provider(p.name);
    if (route && route->health) {
      auto snap = route->health->snapshot(now);
      if (!route->adapter) {
        snap.routable = false;
        snap.reason = "provider kind '" + std::string(config::to_string(p.kind)) +
                      "' is not supported by this build";
      }
      out.emplace_back(route, std::move(snap));
    }
  }
  return out;
}

std::string upstreams_body(const router::RouteTable& table) {
  json list = json::array();
  for (const auto& [route, snap] : snapshots(table)) {
    list.push_back(snapshot_json(snap, *route));
  }
  return json{{"upstreams", std::move(list)}}.dump(2);
}

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

std::string html_escape(std::string_view in) {
  std::string out;
  for (char c : in) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string status_page(const router::RouteTable& table) {
  std::string rows;
  for (const auto& [route, s] : snapshots(table)) {
    auto check = [](const std::optional<bool>& v, const char* bad) {
      return v ? (*v ? std::string("healthy") : std::string(bad)) : std::string("-");
    };
    char ttft[32];
    std::snprintf(ttft, sizeof ttft, "%.1f", s.ewma_ttft_ms);
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.0f%%", s.error_rate * 100);
    rows += std::string("<tr class=\"") + (s.routable ? "ok" : "bad") + "\"><td>" +
            html_escape(s.provider) + "</td><td>" + (s.routable ? "routable" : "not routable") +
            "</td><td>" + check(s.active_healthy, "unhealthy") + "</td><td>" +
            check(s.passive_healthy, "ejected") + "</td><td>" +
            check(s.semantic_healthy, "unhealthy") + "</td><td>" + html_escape(signals_cell(s)) +
            "</td><td>" + (s.circuit_enabled ? resilience::to_string(s.circuit) : "-") + "</td><td>" +
            std::to_string(s.inflight) + "</td><td>" + ttft + "</td><td>" + rate + " of " +
            std::to_string(s.recent_calls) + "</td><td>" + html_escape(s.reason) + "</td><td>" +
            html_escape(s.last_error) + "</td></tr>\n";
  }
  return "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
         "content=\"2\"><title>llmgw upstreams</title><style>body{font-family:sans-serif;"
         "margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
         "text-align:left}tr.ok td:nth-child(2){color:#080}tr.bad td:nth-child(2){color:#b00;"
         "font-weight:bold}</style></head><body><h1>llmgw upstreams</h1><p>Refreshes every 2 s. "
         "JSON: <a href=\"/admin/upstreams\">/admin/upstreams</a>, metrics: "
         "<a href=\"/metrics\">/metrics</a>.</p><table><tr><th>provider</th><th>state</th>"
         "<th>active</th><th>passive</th><th>semantic</th><th>live answers</th><th>circuit</th>"
         "<th>in flight</th>"
         "<th>TTFT ms (EWMA)</th>"
         "<th>errors (1 min)</th><th>why</th><th>last error</th></tr>\n" +
         rows + "</table></body></html>\n";
}

// Gauges that mirror health state are set just before each scrape.
void refresh_health_gauges(metrics::Metrics& m, const router::RouteTable& table) {
  std::vector<std::string> present;
  for (const auto& p : table.config().providers) {
    present.push_back(p.name);
  }
  m.retain_upstream_gauges(present);
  for (const auto& [route, s] : snapshots(table)) {
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
      auto body = status_page(*table);
      co_await sink.send(200, providers::make_headers("content-type", "text/html; charset=utf-8"),
                         std::move(body));
    } else if (req.path == "/admin/upstreams" && req.method == "GET") {
      auto body = upstreams_body(*table);
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
