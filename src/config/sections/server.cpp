// The config schema, server: listeners, limits, TLS, admin; logging.
#include "config/schema_loader.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::config::schema {

std::optional<common::HostPort> SchemaLoader::host_port(const MapReader& m, std::string_view key,
                                                        std::string& out,
                                                        std::optional<Value>& at) {
  at = m.get(key);
  if (!at) {
    return common::parse_host_port(out);
  }
  auto s = detail::read_string(r_, *at);
  if (!s) {
    return std::nullopt;
  }
  std::string why;
  auto hp = common::parse_host_port(*s, &why);
  if (!hp) {
    r_.error(*at, "invalid address '" + *s + "': " + why);
    return std::nullopt;
  }
  out = std::move(*s);
  return hp;
}

void SchemaLoader::server(const Value& v, ServerConfig& s) {
  MapReader m(
      r_, v,
      {"listen", "admin_listen", "threads", "max_body_bytes", "max_header_bytes", "request_timeout",
       "drain_timeout", "read_timeout", "idle_timeout", "tls", "max_json_depth", "admin_token"});
  if (!m.ok()) {
    return;
  }
  std::optional<Value> listen_at;
  std::optional<Value> admin_at;
  auto listen = host_port(m, "listen", s.listen, listen_at);
  auto admin = host_port(m, "admin_listen", s.admin_listen, admin_at);
  // Port 0 (ephemeral, used by tests) never clashes.
  if (listen && admin && listen->port != 0 && listen->port == admin->port &&
      (listen->host == admin->host || is_wildcard_host(listen->host) ||
       is_wildcard_host(admin->host))) {
    const auto& at = admin_at ? *admin_at : *listen_at;
    r_.error(at, "listen and admin_listen must not use the same address");
  }
  m.read("threads", s.threads, 0, 1024);
  m.read_size("max_body_bytes", s.max_body_bytes, 1, kNoMax);
  m.read_size("max_header_bytes", s.max_header_bytes, 1024, 1ull << 20);
  m.read("request_timeout", s.request_timeout, kPositive);
  m.read("drain_timeout", s.drain_timeout, kZero);
  m.read("read_timeout", s.read_timeout, kPositive);
  m.read("idle_timeout", s.idle_timeout, kPositive);
  // Walks of parsed JSON recurse (serialising, copying): the limit keeps them far from the
  // end of a worker's stack.
  std::uint64_t depth = s.max_json_depth;
  m.read("max_json_depth", depth, 2, 1000);
  s.max_json_depth = static_cast<std::size_t>(depth);
  auto token_at = m.get("admin_token");
  m.read("admin_token", s.admin_token);
  if (token_at && !s.admin_token.empty() && s.admin_token.size() < 16) {
    r_.error(*token_at,
             "must be at least 16 characters (a random string, e.g. openssl rand -hex 24)");
  }
  if (admin && s.admin_token.empty() && !is_loopback_host(admin->host)) {
    // An admin API reachable from the network with no credentials can eject every upstream
    // and read the config: refuse to start rather than warn.
    const auto* at = admin_at ? &*admin_at : nullptr;
    if (at) {
      r_.error(*at, "admin_listen '" + s.admin_listen +
                        "' is not a loopback address: set server.admin_token");
    }
  }
  if (auto t = m.get("tls")) {
    MapReader tm(r_, *t, {"cert", "key"});
    ServerTls tls;
    if (tm.ok()) {
      required_string(tm, "cert", tls.cert);
      required_string(tm, "key", tls.key);
    }
    s.tls = std::move(tls);
  }
}

void SchemaLoader::logging(const Value& v, LoggingConfig& l) {
  MapReader m(r_, v, {"level", "format", "access_log"});
  if (auto lv = m.get("level")) {
    if (auto s = detail::read_choice(r_, *lv, detail::kLogLevels, "level")) {
      l.level = std::move(*s);
    }
  }
  m.read("format", l.format, detail::kLogFormats);
  if (m.get("access_log")) {
    required_string(m, "access_log", l.access_log);
  }
}

}  // namespace llmgw::config::schema
