// The config schema, providers: endpoints, credentials, headers, timeouts, health checks.
#include "config/schema_loader.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::config::schema {

void SchemaLoader::provider(const Value& v, ProviderConfig& p) {
  p.pos = detail::to_position(v.mark);
  MapReader m(
      r_, v,
      {"name", "kind", "base_url", "api_key", "region", "max_connections", "timeouts", "health",
       "circuit_breaker", "limits", "ca_file", "tls_verify", "api_version", "headers"});
  if (!m.ok()) {
    return;
  }
  name(m, p.name, providers_, true);
  if (auto k = m.require("kind")) {
    if (auto kind = detail::read_enum(r_, *k, detail::kProviderKinds, "kind")) {
      p.kind = *kind;
    }
  }
  if (auto at = required_string(m, "base_url", p.base_url)) {
    std::string why;
    if (auto url = common::parse_url(p.base_url, &why)) {
      p.url = std::move(*url);
    } else {
      r_.error(*at, "invalid URL: " + why);
    }
  }
  m.read("api_key", p.api_key);
  no_control_chars(m, "api_key", p.api_key);
  m.read("region", p.region);
  m.read("max_connections", p.max_connections, 1, 100000);
  if (auto t = m.get("timeouts")) {
    MapReader tm(r_, *t, {"connect", "first_byte", "idle_between_chunks", "total"});
    tm.read("connect", p.timeouts.connect, kPositive);
    tm.read("first_byte", p.timeouts.first_byte, kPositive);
    tm.read("idle_between_chunks", p.timeouts.idle_between_chunks, kPositive);
    tm.read("total", p.timeouts.total, kPositive);
  }
  if (auto h = m.get("health")) {
    health(*h, p.health);
  }
  if (auto c = m.get("circuit_breaker")) {
    CircuitBreakerConfig cb;
    MapReader cm(
        r_, *c,
        {"open_after_failure_rate", "min_requests", "window", "open_for", "half_open_probes"});
    cm.read("open_after_failure_rate", cb.open_after_failure_rate, 0.0, 1.0);
    cm.read("min_requests", cb.min_requests, 1, kNoMax);
    cm.read("window", cb.window, kPositive);
    cm.read("open_for", cb.open_for, kPositive);
    cm.read("half_open_probes", cb.half_open_probes, 1, 1000);
    p.circuit_breaker = cb;
  }
  if (auto l = m.get("limits")) {
    limits(*l, p.limits);
  }
  m.read("ca_file", p.ca_file);
  m.read("tls_verify", p.tls_verify);
  m.read("api_version", p.api_version);
  no_control_chars(m, "api_version", p.api_version);
  if (auto h = m.get("headers")) {
    headers(*h, p.headers);
  }
}

void SchemaLoader::limits(const Value& v, RateLimits& out) {
  MapReader m(r_, v, {"rpm", "tpm"});
  m.read("rpm", out.rpm, 1, kNoMax);
  m.read("tpm", out.tpm, 1, kNoMax);
}

void SchemaLoader::headers(const Value& v, std::map<std::string, std::string>& out) {
  auto m = MapReader::any_keys(r_, v);
  std::map<std::string, int> seen;  // lowercase name -> line
  for (const auto& e : m.entries()) {
    if (!is_http_token(e.key)) {
      r_.error(e.key_mark, e.value.path, "invalid header name '" + e.key + "'");
      continue;
    }
    auto lower = common::to_lower(e.key);
    // The HTTP client owns framing and routing headers; letting config override them would
    // break requests in ways that are hard to trace back here.
    if (lower == "host" || lower == "content-length" || lower == "transfer-encoding" ||
        lower == "connection") {
      r_.error(e.key_mark, e.value.path,
               "header '" + e.key + "' is set by the gateway and cannot be configured");
      continue;
    }
    if (auto [it, inserted] = seen.emplace(lower, e.key_mark.line + 1); !inserted) {
      r_.error(e.key_mark, e.value.path,
               "duplicate header '" + e.key + "' (header names ignore case; first at line " +
                   std::to_string(it->second) + ")");
      continue;
    }
    auto value = detail::read_string(r_, e.value);
    if (!value) {
      continue;
    }
    if (value->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      r_.error(e.value, "header value must not contain line breaks or NUL");
      continue;
    }
    out[e.key] = std::move(*value);
  }
}

LiveSignalsConfig SchemaLoader::live_signals(const Value& v) {
  LiveSignalsConfig c;
  MapReader m(r_, v,
              {"window", "min_answers", "action", "empty", "repetition", "invalid_json",
               "finish_length", "content_filter", "refusal", "slow_tokens", "slow_below",
               "feedback_below", "min_feedback"});
  if (!m.ok()) {
    return c;
  }
  m.read("window", c.window, kPositive);
  m.read("min_answers", c.min_answers, 1, kNoMax);
  m.read("action", c.action, detail::kSignalActions);
  for (auto [key, field] : {std::pair{"empty", &c.empty}, std::pair{"repetition", &c.repetition},
                            std::pair{"invalid_json", &c.invalid_json},
                            std::pair{"finish_length", &c.finish_length},
                            std::pair{"content_filter", &c.content_filter},
                            std::pair{"refusal", &c.refusal},
                            std::pair{"slow_tokens", &c.slow_tokens},
                            std::pair{"slow_below", &c.slow_below}}) {
    m.read(key, *field, 0.0, 1.0);
  }
  m.read("feedback_below", c.feedback_below, -1.0, 1.0);
  m.read("min_feedback", c.min_feedback, 1, kNoMax);
  return c;
}

void SchemaLoader::health(const Value& v, HealthConfig& h) {
  MapReader m(r_, v, {"active", "passive", "semantic"});
  if (auto a = m.get("active")) {
    ActiveHealthConfig c;
    MapReader am(r_, *a,
                 {"kind", "path", "expected_status", "interval", "unhealthy_interval", "timeout",
                  "healthy_after", "unhealthy_after"});
    am.read("kind", c.kind, detail::kActiveKinds);
    if (auto pv = am.get("path")) {
      if (auto s = detail::read_string(r_, *pv)) {
        if (s->empty() || s->front() != '/') {
          r_.error(*pv, "must start with '/'");
        } else {
          c.path = std::move(*s);
        }
      }
    }
    am.read("expected_status", c.expected_status, 100, 599);
    am.read("interval", c.interval, kPositive);
    am.read("unhealthy_interval", c.unhealthy_interval, kZero);
    am.read("timeout", c.timeout, kPositive);
    am.read("healthy_after", c.healthy_after, 1, 1000);
    am.read("unhealthy_after", c.unhealthy_after, 1, 1000);
    h.active = std::move(c);
  }
  if (auto p = m.get("passive")) {
    PassiveHealthConfig c;
    MapReader pm(r_, *p,
                 {"consecutive_failures", "failure_rate", "min_requests", "window", "eject_for",
                  "max_eject_for", "max_ejected_percent"});
    pm.read("consecutive_failures", c.consecutive_failures, 1, kNoMax);
    pm.read("failure_rate", c.failure_rate, 0.0, 1.0);
    pm.read("min_requests", c.min_requests, 1, kNoMax);
    pm.read("window", c.window, kPositive);
    pm.read("eject_for", c.eject_for, kPositive);
    pm.read("max_eject_for", c.max_eject_for, kPositive);
    pm.read("max_ejected_percent", c.max_ejected_percent, 0.0, 100.0);
    if (c.max_eject_for < c.eject_for) {
      auto at = pm.get("max_eject_for") ? *pm.get("max_eject_for") : *pm.get("eject_for");
      r_.error(at, "max_eject_for (" + detail::format_duration(c.max_eject_for) +
                       ") must be at least eject_for (" + detail::format_duration(c.eject_for) +
                       ")");
    }
    h.passive = std::move(c);
  }
  if (auto s = m.get("semantic")) {
    SemanticHealthConfig c;
    MapReader sm(r_, *s, {"interval", "model", "probes", "unhealthy_after", "healthy_after",
                           "max_usd_per_day", "signals", "on_bad_answer"});
    if (sm.ok()) {
      sm.read("interval", c.interval, kPositive);
      if (auto sv = sm.get("signals")) {
        c.signals = live_signals(*sv);
      }
      // Probes (and the model they ask) are what semantic health is without live signals.
      if (auto pv = c.signals ? sm.get("probes") : sm.require("probes")) {
        c.probes = name_list(*pv, Ref::Kind::probe, "probe");
        if (pv->node.IsNull() || (pv->node.IsSequence() && pv->node.size() == 0)) {
          r_.error(*pv, "must name at least one probe");
        }
      }
      if (!c.probes.empty() || !c.signals) {
        required_string(sm, "model", c.model);
      } else if (auto mv = sm.get("model")) {
        if (auto text = detail::read_string(r_, *mv)) {
          c.model = std::move(*text);
        }
      }
      sm.read("unhealthy_after", c.unhealthy_after, 1, 1000);
      sm.read("healthy_after", c.healthy_after, 1, 1000);
      sm.read("max_usd_per_day", c.max_usd_per_day, 0.0, 1e9);
      sm.read("on_bad_answer", c.on_bad_answer, detail::kOnBadAnswer);
      if (c.on_bad_answer == OnBadAnswer::retry_elsewhere && !c.signals) {
        r_.error(*sm.get("on_bad_answer"), "retry_elsewhere needs signals (answers are judged "
                                           "by the live-traffic signals)");
      }
    }
    h.semantic = std::move(c);
  }
}

}  // namespace llmgw::config::schema
