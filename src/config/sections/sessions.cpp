// The config schema, sessions and state: where conversations and shared counters live.
#include "config/schema_loader.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::config::schema {

void SchemaLoader::redis_url(const Value& v, std::string& out) {
  MapReader m(r_, v, {"url"});
  if (!m.ok()) {
    return;
  }
  std::string url;
  if (auto at = required_string(m, "url", url)) {
    if (is_redis_url(url)) {
      out = std::move(url);
    } else {
      r_.error(*at, "expected a redis://, rediss:// or unix:// URL");
    }
  }
}

void SchemaLoader::sessions(const Value& v, SessionsConfig& s) {
  MapReader m(r_, v, {"store", "sqlite", "redis", "ttl", "system_prompt", "inject_everywhere",
                      "busy_wait", "max_sessions", "max_bytes", "profiles"});
  m.read("store", s.store, detail::kSessionStores);
  if (auto sv = m.get("sqlite")) {
    MapReader sm(r_, *sv, {"path"});
    if (sm.ok()) {
      required_string(sm, "path", s.sqlite_path);
    }
  }
  if (auto rv = m.get("redis")) {
    redis_url(*rv, s.redis_url);
  }
  m.read("ttl", s.ttl, kPositive);
  m.read("system_prompt", s.system_prompt);
  m.read("inject_everywhere", s.inject_everywhere);
  m.read("busy_wait", s.busy_wait, Duration::zero());
  m.read("max_sessions", s.max_sessions, 1, kNoMax);
  m.read_size("max_bytes", s.max_bytes, 1024, kNoMax);
  if (auto pv = m.get("profiles")) {
    auto pm = MapReader::any_keys(r_, *pv);
    for (const auto& e : pm.entries()) {
      auto text = detail::read_string(r_, e.value);
      if (text) {
        s.profiles[e.key] = std::move(*text);
      }
    }
  }
}

void SchemaLoader::state(const Value& v, StateConfig& s) {
  MapReader m(r_, v, {"backend", "redis", "on_unavailable"});
  m.read("backend", s.backend, detail::kStateBackends);
  if (auto rv = m.get("redis")) {
    redis_url(*rv, s.redis_url);
  }
  if (auto uv = m.get("on_unavailable")) {
    MapReader um(r_, *uv, {"limits", "cache", "budgets"});
    um.read("limits", s.on_unavailable.limits, detail::kOnUnavailable);
    um.read("cache", s.on_unavailable.cache, detail::kOnUnavailable);
    um.read("budgets", s.on_unavailable.budgets, detail::kOnUnavailable);
  }
}

}  // namespace llmgw::config::schema
