// The config schema, models: targets, retry, hedge, canary, context, degrade.
#include "config/schema_loader.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::config::schema {

void SchemaLoader::model(const Value& v, ModelConfig& mc) {
  mc.pos = detail::to_position(v.mark);
  MapReader m(r_, v,
              {"name", "strategy", "targets", "fallbacks", "retry", "hedge", "cache", "context",
               "canary", "degrade", "select"});
  if (!m.ok()) {
    return;
  }
  name(m, mc.name, models_, false);
  m.read("strategy", mc.strategy, detail::kStrategies);
  if (auto tv = m.require("targets")) {
    if (auto items = detail::read_list(r_, *tv)) {
      if (items->empty()) {
        r_.error(*tv, "must list at least one target");
      }
      for (const auto& item : *items) {
        TargetConfig t;
        target(item, t);
        bool duplicate = !t.provider.empty() && !t.model.empty() &&
                         std::any_of(mc.targets.begin(), mc.targets.end(), [&](const auto& o) {
                           return o.provider == t.provider && o.model == t.model;
                         });
        if (duplicate) {
          r_.error(item,
                   "duplicate target (provider '" + t.provider + "', model '" + t.model + "')");
        }
        mc.targets.push_back(std::move(t));
      }
    }
  }
  if (auto fv = m.get("fallbacks")) {
    mc.fallbacks = name_list(*fv, Ref::Kind::model, "fallback", mc.name,
                             "a model cannot fall back to itself");
  }
  if (auto sv = m.get("select")) {
    if (auto items = detail::read_list(r_, *sv)) {
      for (const auto& item : *items) {
        SelectRule rule;
        select_rule(item, mc.name, rule);
        mc.select.push_back(std::move(rule));
      }
    }
  }
  if (auto rv = m.get("retry")) {
    retry(*rv, mc.retry);
  }
  if (auto hv = m.get("hedge")) {
    HedgeConfig h;
    MapReader hm(r_, *hv, {"after", "max"});
    if (auto av = hm.get("after")) {
      if (auto s = detail::read_string(r_, *av)) {
        if (is_hedge_after(*s)) {
          if (s->front() == 'p') {
            double q = 0;
            std::from_chars(s->data() + 1, s->data() + s->size(), q);
            h.after_quantile = q / 100.0;
            h.after_delay.reset();
          } else {
            h.after_delay = parse_duration(*s);
            h.after_quantile.reset();
          }
          h.after = std::move(*s);
        } else {
          r_.error(*av,
                   "expected a percentile of the target's time to first byte (p1 to "
                   "p99.9, e.g. p95) or a duration (e.g. 2s)");
        }
      }
    }
    hm.read("max", h.max, 1, 10);
    mc.hedge = std::move(h);
  }
  if (auto cv = m.get("cache")) {
    CacheConfig c;
    MapReader cm(r_, *cv,
                 {"ttl", "serve_stale_on_outage", "any_temperature", "allow_nonzero_temperature"});
    cm.read("ttl", c.ttl, kPositive);
    cm.read("serve_stale_on_outage", c.serve_stale_on_outage);
    // any_temperature is the documented name; allow_nonzero_temperature (the first release's
    // name) still works. Both set: either one true turns it on.
    bool alias = false;
    cm.read("allow_nonzero_temperature", alias);
    cm.read("any_temperature", c.any_temperature);
    c.any_temperature = c.any_temperature || alias;
    mc.cache = c;
  }
  if (auto cv = m.get("context")) {
    MapReader cm(r_, *cv, {"overflow", "summarizer", "reserve_output"});
    cm.read("overflow", mc.context.overflow, detail::kOverflows);
    if (auto sv = cm.get("summarizer")) {
      if (auto name = detail::read_string(r_, *sv)) {
        mc.context.summarizer = *name;
        refs_.push_back(Ref{Ref::Kind::model, mc.context.summarizer, *sv});
      }
    }
    cm.read("reserve_output", mc.context.reserve_output, 0, kNoMax);
    if (mc.context.overflow == Overflow::summarize && mc.context.summarizer.empty()) {
      r_.error(*cv, "context.overflow: summarize needs context.summarizer (a model name)");
    }
  }
  if (auto cv = m.get("canary")) {
    canary(*cv, mc);
  }
  if (auto dv = m.get("degrade")) {
    DegradeConfig d;
    MapReader dm(r_, *dv, {"message"});
    if (dm.ok()) {
      required_string(dm, "message", d.message);
    }
    mc.degrade = std::move(d);
  }
}

void SchemaLoader::target(const Value& v, TargetConfig& t) {
  t.pos = detail::to_position(v.mark);
  MapReader m(r_, v, {"provider", "model", "weight", "context_window", "price"});
  if (!m.ok()) {
    return;
  }
  if (auto at = required_string(m, "provider", t.provider)) {
    refs_.push_back(Ref{Ref::Kind::provider, t.provider, *at});
  }
  required_string(m, "model", t.model);
  no_control_chars(m, "model", t.model);  // it goes into bodies, headers and URL paths
  m.read("weight", t.weight, 1, 1000000);
  m.read("context_window", t.context_window, 1, kNoMax);
  if (auto pv = m.get("price")) {
    MapReader pm(r_, *pv, {"input_per_mtok", "output_per_mtok"});
    pm.read("input_per_mtok", t.price.input_per_mtok, 0.0, kNoMaxDouble);
    pm.read("output_per_mtok", t.price.output_per_mtok, 0.0, kNoMaxDouble);
  }
}

void SchemaLoader::retry(const Value& v, RetryConfig& rc) {
  MapReader m(r_, v, {"attempts", "backoff", "on", "budget"});
  m.read("attempts", rc.attempts, 1, 100);
  if (auto bv = m.get("backoff")) {
    MapReader bm(r_, *bv, {"base", "max", "jitter"});
    bm.read("base", rc.backoff.base, kZero);
    bm.read("max", rc.backoff.max, kZero);
    bm.read("jitter", rc.backoff.jitter, detail::kJitters);
    if (rc.backoff.max < rc.backoff.base) {
      if (auto mv = bm.get("max")) {
        r_.error(*mv, "must be at least backoff.base (" + detail::format_duration(rc.backoff.base) +
                          ")");
      } else {
        r_.error(*bm.get("base"),
                 "must not exceed backoff.max (" + detail::format_duration(rc.backoff.max) + ")");
      }
    }
  }
  if (auto ov = m.get("on")) {
    if (auto items = detail::read_list(r_, *ov)) {
      // Given explicitly, the list replaces the default rather than adding to it.
      rc.on.clear();
      for (const auto& item : *items) {
        auto s = detail::read_string(r_, item);
        if (!s) {
          continue;
        }
        if (!is_retry_condition(*s)) {
          r_.error(item, "unknown retry condition '" + *s +
                             "' (expected connect, timeout, 429, 5xx, 4xx or an HTTP status "
                             "such as 503)");
          continue;
        }
        if (std::find(rc.on.begin(), rc.on.end(), *s) == rc.on.end()) {
          rc.on.push_back(std::move(*s));
        }
      }
    }
  }
  rc.when = parse_retry_conditions(rc.on);
  m.read("budget", rc.budget, 0.0, 1.0);
}

void SchemaLoader::canary(const Value& v, ModelConfig& mc) {
  CanaryConfig c;
  MapReader m(r_, v, {"target", "percent", "rollback_on"});
  if (m.ok()) {
    if (auto at = required_string(m, "target", c.target)) {
      bool known = std::any_of(mc.targets.begin(), mc.targets.end(),
                               [&](const TargetConfig& t) { return t.provider == c.target; });
      if (!known && !mc.targets.empty()) {
        std::string providers;
        for (const auto& t : mc.targets) {
          auto quoted = "'" + t.provider + "'";
          if (!t.provider.empty() && providers.find(quoted) == std::string::npos) {
            providers += (providers.empty() ? "" : ", ") + quoted;
          }
        }
        r_.error(*at, "canary target '" + c.target +
                          "' is not the provider of one of this model's targets (expected one "
                          "of: " +
                          providers + ")");
      }
    }
    m.read("percent", c.percent, 0.0, 100.0);
    if (auto rv = m.get("rollback_on")) {
      MapReader rm(r_, *rv, {"error_rate", "semantic_failures", "feedback_below"});
      rm.read("error_rate", c.rollback_on.error_rate, 0.0, 1.0);
      rm.read("semantic_failures", c.rollback_on.semantic_failures, 1, kNoMax);
      rm.read("feedback_below", c.rollback_on.feedback_below, -1.0, 1.0);
    }
  }
  mc.canary = std::move(c);
}

}  // namespace llmgw::config::schema
