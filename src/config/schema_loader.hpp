#pragma once
// The config schema: one SchemaLoader reads the whole document and checks the references
// between sections; each section's parser is in its own file under src/config/sections/, so a
// section and its checks are found and changed in one place. Private to the config module.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/yaml_reader.hpp"
#include "llmgw/common/url.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/config/loader.hpp"

namespace llmgw::config::schema {

using detail::MapReader;
using detail::Reader;
using detail::Value;

inline constexpr std::uint64_t kNoMax = std::numeric_limits<std::uint64_t>::max();
inline constexpr double kNoMaxDouble = std::numeric_limits<double>::max();
inline constexpr Duration kPositive{1};  // minimum for durations that must be > 0
inline constexpr Duration kZero{0};

// A name used before every name is known; resolved once the whole file is read.
struct Ref {
  enum class Kind { provider, model, probe };
  Kind kind;
  std::string name;
  Value at;
};

// Names that appear in URL paths (/admin/upstreams/{name}, /v1/prompts/{name}) and metric
// labels stay within characters that need no escaping anywhere.
inline bool is_url_safe_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

inline bool is_http_token(std::string_view name) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kExtra.find(c) != std::string_view::npos;
  });
}

inline bool is_retry_condition(std::string_view s) {
  if (s == "connect" || s == "timeout" || s == "429" || s == "5xx" || s == "4xx") {
    return true;
  }
  bool digits = std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  return s.size() == 3 && digits && s >= "100" && s <= "599";
}

// "p95", "p99.9" (a percentile of the target's time to first byte) or a duration.
inline bool is_hedge_after(std::string_view s) {
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

inline bool is_redis_url(std::string_view url) {
  return url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://");
}

inline bool is_wildcard_host(std::string_view host) {
  return host == "0.0.0.0" || host == "::" || host == "*";
}

// 127.0.0.0/8, ::1 or localhost: reachable only from this machine.
inline bool is_loopback_host(std::string_view host) {
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

  void load(const Value& root, Config& c);

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

  // src/config/loader.cpp
  // A required, non-blank string. Returns where it was, for errors found later.
  std::optional<Value> required_string(const MapReader& m, std::string_view key, std::string& out);
  void optional_string(const MapReader& m, std::string_view key, std::optional<std::string>& out);
  void name(const MapReader& m, std::string& out, NameTable& table, bool url_safe);
  // A list of distinct non-blank strings, each recorded as a reference of `kind` when given
  // one; `what` names an item in the duplicate error ("fallback" → "duplicate fallback 'x'").
  // An item equal to `self` (when not empty) is refused with `self_error`.
  std::vector<std::string> name_list(const Value& v, std::optional<Ref::Kind> kind,
                                     std::string_view what, std::string_view self = {},
                                     std::string_view self_error = {});
  // Values that end up in an HTTP header or request line: a line break there would split it
  // (header injection). The usual cause is harmless — a key file or ${VAR} with a trailing
  // newline — so the message says so.
  void no_control_chars(const MapReader& m, std::string_view key, const std::string& value);
  void check_references(const Config& c);

  // src/config/sections/server.cpp
  std::optional<common::HostPort> host_port(const MapReader& m, std::string_view key,
                                            std::string& out, std::optional<Value>& at);
  void server(const Value& v, ServerConfig& s);
  void logging(const Value& v, LoggingConfig& l);

  // src/config/sections/providers.cpp
  void provider(const Value& v, ProviderConfig& p);
  void limits(const Value& v, RateLimits& out);
  void headers(const Value& v, std::map<std::string, std::string>& out);
  void health(const Value& v, HealthConfig& h);
  LiveSignalsConfig live_signals(const Value& v);

  // src/config/sections/probes.cpp
  void probe(const Value& v, ProbeConfig& p);
  // What std::regex's compiler cannot take safely: it reads a repeat count or a backreference
  // into a long without checking for overflow (found by fuzz_config), and compiles
  // recursively. Probe patterns are short; these bounds cost nothing real.
  static std::optional<std::string> regex_limits_problem(const std::string& pattern);
  void expect(const Value& v, ProbeExpect& e);

  // src/config/sections/models.cpp
  void model(const Value& v, ModelConfig& mc);
  void target(const Value& v, TargetConfig& t);
  void select_rule(const Value& v, const std::string& model, SelectRule& rule);
  void retry(const Value& v, RetryConfig& rc);
  // After the targets: the canary must name one of their providers.
  void canary(const Value& v, ModelConfig& mc);

  // src/config/sections/keys.cpp
  void key(const Value& v, KeyConfig& k);

  // src/config/sections/sessions.cpp
  void redis_url(const Value& v, std::string& out);
  void sessions(const Value& v, SessionsConfig& s);
  void state(const Value& v, StateConfig& s);
  // src/config/sections/cache.cpp
  void cache_store(const Value& v, CacheStoreConfig& c);

  // src/config/sections/prompts.cpp
  void prompt(const Value& v, PromptConfig& p);

  // src/config/sections/tracing.cpp
  void tracing(const Value& v, std::optional<TracingConfig>& out);

  Reader& r_;
  std::vector<Ref> refs_;
  NameTable providers_{"provider", {}};
  NameTable probes_{"probe", {}};
  NameTable models_{"model", {}};
  NameTable keys_{"key", {}};
  std::map<std::pair<std::string, unsigned>, int> prompt_versions_;  // (name, version) -> line
  std::map<std::string, std::pair<std::string, int>> hashes_;  // sha256 -> (key name, line)
};

}  // namespace llmgw::config::schema
