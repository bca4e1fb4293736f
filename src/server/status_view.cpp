#include "server/status_view.hpp"

#include <nlohmann/json.hpp>

namespace llmgw::server {
namespace {

using nlohmann::json;

json checks_json(const health::HealthSnapshot& s) {
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
  if (s.signals) {
    const auto& g = *s.signals;
    checks["signals"] = g.breach.empty() ? "healthy" : (g.ejects ? "unhealthy" : "degraded");
  }
  return checks;
}

json signals_json(const health::HealthSnapshot& s) {
  if (!s.signals) {
    return nullptr;
  }
  const auto& g = *s.signals;
  json rates = json::object();
  for (std::size_t i = 0; i < health::kSignalCount; ++i) {
    rates[std::string(health::to_string(static_cast<health::Signal>(i)))] = g.shares[i];
  }
  return {{"answers", g.answers},
          {"rates", std::move(rates)},
          {"breach", g.breach},
          {"baseline_tokens_per_second", g.baseline_tokens_per_second},
          {"ratings", g.ratings},
          {"mean_feedback", g.mean_feedback}};
}

json holds_json(const std::vector<health::Hold>& holds) {
  json list = json::array();
  for (const auto& h : holds) {
    json remaining = nullptr;
    if (h.remaining) {
      remaining = h.remaining->count();
    }
    list.push_back({{"kind", h.kind}, {"reason", h.reason}, {"remaining_ms", remaining}});
  }
  return list;
}

json provider_json(const ProviderStatus& p) {
  const auto& s = p.health;
  const auto& cfg = *p.route->config;
  json ttft = nullptr;
  if (s.ttft_sampled) {
    ttft = s.ewma_ttft_ms;
  }
  json age = nullptr;
  if (s.last_error_age) {
    age = s.last_error_age->count();
  }
  return json{{"name", s.provider},
              {"kind", config::to_string(cfg.kind)},
              {"base_url", cfg.base_url},
              {"region", cfg.region},
              {"routable", s.routable},
              {"reason", s.reason},
              {"reasons", holds_json(s.holds)},
              {"checks", checks_json(s)},
              {"circuit", s.circuit_enabled ? resilience::to_string(s.circuit) : "disabled"},
              {"operator_ejected", s.operator_ejected},
              {"provider_key_rejected", s.provider_key_rejected},
              {"inflight", s.inflight},
              {"ewma_ttft_ms", std::move(ttft)},
              {"error_rate", s.error_rate},
              {"recent_calls", s.recent_calls},
              {"ejections", s.ejections},
              {"cooldown_ms", s.cooldown_ms},
              {"last_error", s.last_error},
              {"last_error_age_ms", std::move(age)},
              {"semantic_last_failure", s.semantic_last_failure},
              {"signals", signals_json(s)}};
}

json step_json(const router::PlanStep& step) {
  return {{"model", step.model},
          {"provider", step.provider},
          {"target_model", step.target_model},
          {"last_resort", step.last_resort}};
}

json model_json(const router::ModelPreview& m) {
  json plan = json::array();
  for (const auto& step : m.plan) {
    plan.push_back(step_json(step));
  }
  json next = nullptr;
  if (!m.plan.empty()) {
    next = step_json(m.plan.front());
  }
  return {{"name", m.name},
          {"strategy", config::to_string(m.strategy)},
          {"routable", m.routable},
          {"next", std::move(next)},
          {"plan", std::move(plan)},
          {"skipped", m.skipped},
          {"fallbacks", m.fallbacks}};
}

}  // namespace

StatusView provider_status(const router::RouteTable& table, resilience::TimePoint now) {
  StatusView view;
  for (const auto& p : table.config().providers) {
    const auto* route = table.provider(p.name);
    if (!route || !route->health) {
      continue;
    }
    auto snap = route->health->snapshot(now);
    if (!route->adapter) {
      snap.routable = false;
      snap.reason = "provider kind '" + std::string(config::to_string(p.kind)) +
                    "' is not supported by this build";
      snap.holds.insert(snap.holds.begin(), health::Hold{"unsupported", snap.reason, {}, true, {}});
    }
    view.providers.push_back(ProviderStatus{route, std::move(snap)});
  }
  return view;
}

StatusView status_view(const router::RouteTable& table, resilience::TimePoint now) {
  auto view = provider_status(table, now);
  view.models = router::preview_models(table, now);
  return view;
}

std::string upstreams_json(const StatusView& view) {
  json upstreams = json::array();
  for (const auto& p : view.providers) {
    upstreams.push_back(provider_json(p));
  }
  json models = json::array();
  for (const auto& m : view.models) {
    models.push_back(model_json(m));
  }
  return json{{"upstreams", std::move(upstreams)}, {"models", std::move(models)}}.dump(2);
}

}  // namespace llmgw::server
