#include <sstream>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include "llmgw/config/loader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <regex>
#include <system_error>

#include "config/yaml_reader.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/common/url.hpp"

namespace llmgw::config {
namespace {

using detail::MapReader;
using detail::Reader;
using detail::Value;

constexpr std::uint64_t kNoMax = std::numeric_limits<std::uint64_t>::max();
constexpr double kNoMaxDouble = std::numeric_limits<double>::max();
constexpr Duration kPositive{1};  // minimum for durations that must be > 0
constexpr Duration kZero{0};

// A name used before every name is known; resolved once the whole file is read.
struct Ref {
  enum class Kind { provider, model, probe };
  Kind kind;
  std::string name;
  Value at;
};

// Names that appear in URL paths (/admin/upstreams/{name}, /v1/prompts/{name}) and metric
// labels stay within characters that need no escaping anywhere.
bool is_url_safe_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool is_http_token(std::string_view name) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kExtra.find(c) != std::string_view::npos;
  });
}

bool is_retry_condition(std::string_view s) {
  if (s == "connect" || s == "timeout" || s == "429" || s == "5xx" || s == "4xx") {
    return true;
  }
  bool digits = std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  return s.size() == 3 && digits && s >= "100" && s <= "599";
}

// "p95", "p99.9" (a percentile of the target's time to first byte) or a duration.
bool is_hedge_after(std::string_view s) {
  if (s.size() > 1 && s.front() == 'p') {
    auto digits = s.substr(1);
    if (digits.front() == '.' || digits.back() == '.' ||
        std::count(digits.begin(), digits.end(), '.') > 1 ||
        !std::all_of(digits.begin(), digits.end(),
                     [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
      return false;
    }
    double p = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), p);
    return p >= 1 && p <= 99.9;
  }
  auto d = parse_duration(s);
  return d && d->count() > 0;
}

bool is_redis_url(std::string_view url) {
  return url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://");
}

// Where the second YAML document of a text starts, if it has one. Counted with the event
// parser, at most two documents: YAML::LoadAll loops forever on some inputs in yaml-cpp 0.7 (a
// lone ",": jbeder/yaml-cpp#1040), producing empty documents without consuming anything.
class DocumentCounter final : public YAML::EventHandler {
public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 2) {
      second = mark;
    }
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  int documents = 0;
  YAML::Mark second;
};

DocumentCounter count_documents(std::string_view yaml) {
  std::stringstream input{std::string(yaml)};
  YAML::Parser parser(input);
  DocumentCounter counter;
  while (counter.documents < 2 && parser.HandleNextDocument(counter)) {
  }
  return counter;
}

bool is_wildcard_host(std::string_view host) {
  return host == "0.0.0.0" || host == "::" || host == "*";
}

// 127.0.0.0/8, ::1 or localhost: reachable only from this machine.
bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") {
    return true;
  }
  if (!host.starts_with("127.")) {
    return false;
  }
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

class SchemaLoader {
 public:
  explicit SchemaLoader(Reader& r) : r_(r) {}

  void load(const Value& root, Config& c) {
    if (!root.node.IsNull() && !root.node.IsMap()) {
      r_.error(root, "expected a mapping of sections (server, providers, models, ...) at the top");
      return;
    }
    MapReader m(r_, root,
                {"server", "providers", "probes", "models", "keys", "auth", "sessions", "state",
                 "prompts", "logging"});
    if (auto v = m.get("server")) {
      server(*v, c.server);
    }
    list(m, "providers", c.providers, &SchemaLoader::provider);
    list(m, "probes", c.probes, &SchemaLoader::probe);
    list(m, "models", c.models, &SchemaLoader::model);
    list(m, "keys", c.keys, &SchemaLoader::key);
    if (auto v = m.get("auth")) {
      MapReader a(r_, *v, {"required"});
      a.read("required", c.auth.required);
    }
    if (auto v = m.get("sessions")) {
      sessions(*v, c.sessions);
    }
    if (auto v = m.get("state")) {
      state(*v, c.state);
    }
    list(m, "prompts", c.prompts, &SchemaLoader::prompt);
    if (auto v = m.get("logging")) {
      logging(*v, c.logging);
    }
    check_references(c);
  }

 private:
  struct NameTable {
    std::string_view what;
    std::map<std::string, int, std::less<>> first_line;
  };

  template <class T>
  void list(const MapReader& m, std::string_view key, std::vector<T>& out,
            void (SchemaLoader::*parse)(const Value&, T&)) {
    auto v = m.get(key);
    if (!v) {
      return;
    }
    if (auto items = detail::read_list(r_, *v)) {
      for (const auto& item : *items) {
        T parsed;
        (this->*parse)(item, parsed);
        out.push_back(std::move(parsed));
      }
    }
  }

  // A required, non-blank string. Returns where it was, for errors found later.
  std::optional<Value> required_string(const MapReader& m, std::string_view key, std::string& out) {
    auto v = m.require(key);
    if (!v) {
      return std::nullopt;
    }
    auto s = detail::read_string(r_, *v);
    if (!s) {
      return std::nullopt;
    }
    if (common::trim(*s).empty()) {
      r_.error(*v, "must not be empty");
      return std::nullopt;
    }
    out = std::move(*s);
    return v;
  }

  void optional_string(const MapReader& m, std::string_view key, std::optional<std::string>& out) {
    if (auto v = m.get(key)) {
      if (auto s = detail::read_string(r_, *v)) {
        out = std::move(*s);
      }
    }
  }

  void name(const MapReader& m, std::string& out, NameTable& table, bool url_safe) {
    auto v = required_string(m, "name", out);
    if (!v) {
      return;
    }
    if (url_safe && !is_url_safe_name(out)) {
      r_.error(*v, "may contain only letters, digits, '.', '_' and '-'");
    }
    auto [it, inserted] = table.first_line.emplace(out, v->mark.line + 1);
    if (!inserted) {
      r_.error(*v, "duplicate " + std::string(table.what) + " name '" + out +
                       "' (first defined at line " + std::to_string(it->second) + ")");
    }
  }

  // A list of non-blank strings, each recorded as a reference of `kind` when given one.
  std::vector<std::string> name_list(const Value& v, std::optional<Ref::Kind> kind) {
    std::vector<std::string> out;
    auto items = detail::read_list(r_, v);
    if (!items) {
      return out;
    }
    for (const auto& item : *items) {
      auto s = detail::read_string(r_, item);
      if (!s) {
        continue;
      }
      if (common::trim(*s).empty()) {
        r_.error(item, "must not be empty");
        continue;
      }
      if (kind) {
        refs_.push_back(Ref{*kind, *s, item});
      }
      out.push_back(std::move(*s));
    }
    return out;
  }

  // Values that end up in an HTTP header or request line: a line break there would split it
  // (header injection). The usual cause is harmless — a key file or ${VAR} with a trailing
  // newline — so the message says so.
  void no_control_chars(const MapReader& m, std::string_view key, const std::string& value) {
    if (auto at = m.get(key); at && common::has_control_chars(value)) {
      r_.error(*at, "must not contain control characters such as a line break (a trailing "
                    "newline from ${VAR} or a key file?)");
    }
  }

  // --- server --------------------------------------------------------------------------------

  std::optional<common::HostPort> host_port(const MapReader& m, std::string_view key,
                                            std::string& out, std::optional<Value>& at) {
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

  void server(const Value& v, ServerConfig& s) {
    MapReader m(r_, v,
                {"listen", "admin_listen", "threads", "max_body_bytes", "max_header_bytes",
                 "request_timeout", "drain_timeout", "read_timeout", "idle_timeout", "tls",
                 "max_json_depth", "admin_token"});
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
      r_.error(*token_at, "must be at least 16 characters (a random string, e.g. openssl rand -hex 24)");
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

  // --- providers -----------------------------------------------------------------------------

  void provider(const Value& v, ProviderConfig& p) {
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

  void limits(const Value& v, RateLimits& out) {
    MapReader m(r_, v, {"rpm", "tpm"});
    m.read("rpm", out.rpm, 1, kNoMax);
    m.read("tpm", out.tpm, 1, kNoMax);
  }

  void headers(const Value& v, std::map<std::string, std::string>& out) {
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

  void health(const Value& v, HealthConfig& h) {
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
      MapReader sm(r_, *s, {"interval", "model", "probes", "unhealthy_after"});
      if (sm.ok()) {
        sm.read("interval", c.interval, kPositive);
        required_string(sm, "model", c.model);
        if (auto pv = sm.require("probes")) {
          c.probes = name_list(*pv, Ref::Kind::probe);
          if (pv->node.IsNull() || (pv->node.IsSequence() && pv->node.size() == 0)) {
            r_.error(*pv, "must name at least one probe");
          }
        }
        sm.read("unhealthy_after", c.unhealthy_after, 1, 1000);
      }
      h.semantic = std::move(c);
    }
  }

  // --- probes --------------------------------------------------------------------------------

  void probe(const Value& v, ProbeConfig& p) {
    MapReader m(r_, v, {"name", "prompt", "response_format", "expect"});
    if (!m.ok()) {
      return;
    }
    name(m, p.name, probes_, false);
    required_string(m, "prompt", p.prompt);
    if (auto rf = m.get("response_format"); rf && !rf->node.IsNull()) {
      if (auto s = detail::read_choice(r_, *rf, detail::kResponseFormats, "response_format")) {
        p.response_format = std::move(*s);
      }
    }
    if (auto e = m.get("expect")) {
      expect(*e, p.expect);
    }
  }

  // What std::regex's compiler cannot take safely: it reads a repeat count or a backreference
  // into a long without checking for overflow (found by fuzz_config), and compiles
  // recursively. Probe patterns are short; these bounds cost nothing real.
  static std::optional<std::string> regex_limits_problem(const std::string& pattern) {
    constexpr std::size_t kMaxPattern = 1024;
    constexpr std::size_t kMaxDigits = 6;
    if (pattern.size() > kMaxPattern) {
      return "longer than " + std::to_string(kMaxPattern) + " characters";
    }
    std::size_t run = 0;
    for (char c : pattern) {
      run = (c >= '0' && c <= '9') ? run + 1 : 0;
      if (run > kMaxDigits) {
        return "a number of more than " + std::to_string(kMaxDigits) +
               " digits (a repeat count or backreference)";
      }
    }
    return std::nullopt;
  }

  void expect(const Value& v, ProbeExpect& e) {
    MapReader m(r_, v,
                {"regex", "max_latency", "json", "contains", "not_contains", "min_chars",
                 "max_chars", "judge"});
    if (auto rv = m.get("regex")) {
      if (auto s = detail::read_string(r_, *rv)) {
        if (auto why = regex_limits_problem(*s)) {
          r_.error(*rv, "invalid regex: " + *why);
        } else {
          try {
            std::regex compiled(*s, std::regex::ECMAScript);
            e.regex = std::move(*s);
          } catch (const std::regex_error& err) {
            r_.error(*rv, std::string("invalid regex: ") + err.what());
          }
        }
      }
    }
    m.read("max_latency", e.max_latency, kPositive);
    m.read("json", e.json);
    optional_string(m, "contains", e.contains);
    optional_string(m, "not_contains", e.not_contains);
    m.read("min_chars", e.min_chars, 0, kNoMax);
    m.read("max_chars", e.max_chars, 0, kNoMax);
    if (e.min_chars && e.max_chars && *e.min_chars > *e.max_chars) {
      r_.error(*m.get("max_chars"),
               "must be at least min_chars (" + std::to_string(*e.min_chars) + ")");
    }
    if (auto jv = m.get("judge")) {
      JudgeConfig j;
      MapReader jm(r_, *jv, {"model", "rubric", "min_score"});
      if (jm.ok()) {
        // The judge call is routed like any client call, so it names a client-visible model.
        if (auto at = required_string(jm, "model", j.model)) {
          refs_.push_back(Ref{Ref::Kind::model, j.model, *at});
        }
        required_string(jm, "rubric", j.rubric);
        jm.read("min_score", j.min_score, 0.0, 1.0);
      }
      e.judge = std::move(j);
    }
  }

  // --- models --------------------------------------------------------------------------------

  void model(const Value& v, ModelConfig& mc) {
    mc.pos = detail::to_position(v.mark);
    MapReader m(r_, v,
                {"name", "strategy", "targets", "fallbacks", "retry", "hedge", "cache", "context",
                 "canary", "degrade"});
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
      if (auto items = detail::read_list(r_, *fv)) {
        for (const auto& item : *items) {
          auto s = detail::read_string(r_, item);
          if (!s) {
            continue;
          }
          if (common::trim(*s).empty()) {
            r_.error(item, "must not be empty");
          } else if (*s == mc.name) {
            r_.error(item, "a model cannot fall back to itself");
          } else if (std::find(mc.fallbacks.begin(), mc.fallbacks.end(), *s) !=
                     mc.fallbacks.end()) {
            r_.error(item, "duplicate fallback '" + *s + "'");
          } else {
            refs_.push_back(Ref{Ref::Kind::model, *s, item});
            mc.fallbacks.push_back(std::move(*s));
          }
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
      MapReader cm(r_, *cv, {"ttl", "serve_stale_on_outage", "allow_nonzero_temperature"});
      cm.read("ttl", c.ttl, kPositive);
      cm.read("serve_stale_on_outage", c.serve_stale_on_outage);
      cm.read("allow_nonzero_temperature", c.allow_nonzero_temperature);
      mc.cache = c;
    }
    if (auto cv = m.get("context")) {
      MapReader cm(r_, *cv, {"overflow"});
      cm.read("overflow", mc.context.overflow, detail::kOverflows);
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

  void target(const Value& v, TargetConfig& t) {
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

  void retry(const Value& v, RetryConfig& rc) {
    MapReader m(r_, v, {"attempts", "backoff", "on", "budget"});
    m.read("attempts", rc.attempts, 1, 100);
    if (auto bv = m.get("backoff")) {
      MapReader bm(r_, *bv, {"base", "max", "jitter"});
      bm.read("base", rc.backoff.base, kZero);
      bm.read("max", rc.backoff.max, kZero);
      bm.read("jitter", rc.backoff.jitter, detail::kJitters);
      if (rc.backoff.max < rc.backoff.base) {
        if (auto mv = bm.get("max")) {
          r_.error(*mv, "must be at least backoff.base (" +
                            detail::format_duration(rc.backoff.base) + ")");
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

  // After the targets: the canary must name one of their providers.
  void canary(const Value& v, ModelConfig& mc) {
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
        MapReader rm(r_, *rv, {"error_rate", "semantic_failures"});
        rm.read("error_rate", c.rollback_on.error_rate, 0.0, 1.0);
        rm.read("semantic_failures", c.rollback_on.semantic_failures, 1, kNoMax);
      }
    }
    mc.canary = std::move(c);
  }

  // --- keys, sessions, state, prompts, logging -----------------------------------------------

  void key(const Value& v, KeyConfig& k) {
    MapReader m(r_, v, {"name", "sha256", "models", "rate_limit", "budget"});
    if (!m.ok()) {
      return;
    }
    name(m, k.name, keys_, false);
    if (auto at = required_string(m, "sha256", k.sha256)) {
      auto hash = common::to_lower(common::trim(k.sha256));
      bool hex = hash.size() == 64 && std::all_of(hash.begin(), hash.end(), [](char c) {
                   return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                 });
      if (!hex) {
        r_.error(*at,
                 "expected 64 hex characters, the SHA-256 of the key (e.g. from "
                 "`printf %s \"$KEY\" | sha256sum`)");
      } else {
        k.sha256 = hash;
        auto [it, inserted] = hashes_.emplace(hash, std::make_pair(k.name, at->mark.line + 1));
        if (!inserted) {
          r_.error(*at, "same sha256 as key '" + it->second.first + "' (line " +
                            std::to_string(it->second.second) + ")");
        }
      }
    }
    if (auto mv = m.get("models")) {
      k.models = name_list(*mv, Ref::Kind::model);
    }
    if (auto rv = m.get("rate_limit")) {
      limits(*rv, k.rate_limit);
    }
    if (auto bv = m.get("budget")) {
      KeyBudget b;
      MapReader bm(r_, *bv, {"usd_per_day"});
      bm.read("usd_per_day", b.usd_per_day, 0.0, kNoMaxDouble);
      k.budget = b;
    }
  }

  void redis_url(const Value& v, std::string& out) {
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

  void sessions(const Value& v, SessionsConfig& s) {
    MapReader m(r_, v, {"store", "sqlite", "redis", "ttl", "system_prompt", "inject_everywhere"});
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
  }

  void state(const Value& v, StateConfig& s) {
    MapReader m(r_, v, {"backend", "redis"});
    m.read("backend", s.backend, detail::kStateBackends);
    if (auto rv = m.get("redis")) {
      redis_url(*rv, s.redis_url);
    }
  }

  void prompt(const Value& v, PromptConfig& p) {
    MapReader m(r_, v, {"name", "version", "model", "system", "template"});
    if (!m.ok()) {
      return;
    }
    name(m, p.name, prompts_, true);
    m.read("version", p.version, 1, kNoMax);
    if (auto at = required_string(m, "model", p.model)) {
      refs_.push_back(Ref{Ref::Kind::model, p.model, *at});
    }
    m.read("system", p.system);
    required_string(m, "template", p.template_text);
  }

  void logging(const Value& v, LoggingConfig& l) {
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

  // --- cross references ----------------------------------------------------------------------

  void check_references(const Config& c) {
    std::vector<std::string_view> providers;
    std::vector<std::string_view> models;
    std::vector<std::string_view> probes;
    for (const auto& p : c.providers) {
      providers.push_back(p.name);
    }
    for (const auto& m : c.models) {
      models.push_back(m.name);
    }
    for (const auto& p : c.probes) {
      probes.push_back(p.name);
    }
    for (const auto& ref : refs_) {
      const auto& names = ref.kind == Ref::Kind::provider ? providers
                          : ref.kind == Ref::Kind::model  ? models
                                                          : probes;
      std::string_view what = ref.kind == Ref::Kind::provider ? "provider"
                              : ref.kind == Ref::Kind::model  ? "model"
                                                              : "probe";
      if (std::find(names.begin(), names.end(), ref.name) != names.end()) {
        continue;
      }
      std::string message = "unknown " + std::string(what) + " '" + ref.name + "'";
      if (names.empty()) {
        message += " (no " + std::string(what) + "s are defined)";
      } else if (auto hint = detail::closest_match(ref.name, names); !hint.empty()) {
        message += " (did you mean '" + std::string(hint) + "'?)";
      }
      r_.error(ref.at, std::move(message));
    }
  }

  Reader& r_;
  std::vector<Ref> refs_;
  NameTable providers_{"provider", {}};
  NameTable probes_{"probe", {}};
  NameTable models_{"model", {}};
  NameTable keys_{"key", {}};
  NameTable prompts_{"prompt", {}};
  std::map<std::string, std::pair<std::string, int>> hashes_;  // sha256 -> (key name, line)
};

// yaml-cpp's message for a tab in the indentation ("illegal map value") does not say why.
std::string tab_hint(std::string_view yaml, const YAML::Mark& mark) {
  if (mark.line < 0) {
    return "";
  }
  std::size_t begin = 0;
  for (int line = 0; line < mark.line && begin != std::string_view::npos; ++line) {
    begin = yaml.find('\n', begin);
    begin = begin == std::string_view::npos ? begin : begin + 1;
  }
  if (begin == std::string_view::npos) {
    return "";
  }
  auto text = yaml.substr(begin, yaml.find('\n', begin) - begin);
  auto indent = text.substr(0, text.find_first_not_of(" \t"));
  return indent.find('\t') != std::string_view::npos ? " (tabs cannot be used for indentation)"
                                                     : "";
}

}  // namespace

std::string ConfigError::to_string() const {
  std::string out = file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  // Errors about the file as a whole (unreadable, YAML syntax) have no schema path.
  if (!path.empty()) {
    out += path + ": ";
  }
  return out + message;
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    std::string key(name);
    if (const char* value = std::getenv(key.c_str())) {
      return std::string(value);
    }
    return std::nullopt;
  };
}

RetryConditions parse_retry_conditions(const std::vector<std::string>& on) {
  RetryConditions c;
  c.connect = c.timeout = c.status_429 = c.status_4xx = c.status_5xx = false;
  for (const auto& cond : on) {
    if (cond == "connect") {
      c.connect = true;
    } else if (cond == "timeout") {
      c.timeout = true;
    } else if (cond == "429") {
      c.status_429 = true;
    } else if (cond == "4xx") {
      c.status_4xx = true;
    } else if (cond == "5xx") {
      c.status_5xx = true;
    } else if (is_retry_condition(cond)) {
      c.statuses.push_back(std::stoi(cond));
    }
  }
  return c;
}

LoadResult load_string(std::string_view yaml, std::string file_name, const EnvLookup& env) {
  Reader reader(file_name, env);
  auto config = std::make_shared<Config>();
  config->source_path = file_name;
  try {
    auto documents = count_documents(yaml);
    if (documents.documents > 1) {
      reader.error(documents.second, "", "expected one YAML document, found more");
    } else if (documents.documents == 1) {
      auto doc = YAML::Load(std::string(yaml));
      SchemaLoader(reader).load(Value{doc, doc.Mark(), ""}, *config);
    }
  } catch (const YAML::Exception& e) {
    reader.error(e.mark, "", "invalid YAML: " + e.msg + tab_hint(yaml, e.mark));
  } catch (const std::exception& e) {
    // Nothing above is expected to throw; if it does, reject the file rather than the process.
    reader.error(YAML::Mark::null_mark(), "", std::string("internal error: ") + e.what());
  }
  LoadResult result;
  result.errors = reader.take_errors();
  if (result.errors.empty()) {
    result.config = std::move(config);
  }
  return result;
}

LoadResult load_file(const std::string& path, const EnvLookup& env) {
  auto io_error = [&](int err) {
    LoadResult result;
    result.errors.push_back(ConfigError{
        path, 0, 0, "", "cannot read config file: " + std::generic_category().message(err)});
    return result;
  };
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return io_error(errno);
  }
  std::string text;
  char buffer[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    text.append(buffer, n);
  }
  int err = std::ferror(f) ? (errno != 0 ? errno : EIO) : 0;
  std::fclose(f);
  if (err != 0) {
    return io_error(err);
  }
  return load_string(text, path, env);
}

}  // namespace llmgw::config
