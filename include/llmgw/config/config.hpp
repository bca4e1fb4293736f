#pragma once
// The typed, immutable configuration (SPEC §3). Built once per load by config::load_*;
// published as std::shared_ptr<const Config>; never mutated afterwards.
//
// Every section of the schema parses and validates now, even where later work acts on it, so
// the file format is settled once. Defaults below are the documented ones.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "llmgw/common/url.hpp"

namespace llmgw::config {

using Duration = std::chrono::milliseconds;
using namespace std::chrono_literals;

/// Where a value came from, for error messages and /admin/config.
struct Position {
  int line = 0;    // 1-based; 0 = defaulted
  int column = 0;  // 1-based
};

struct ServerTls {
  std::string cert;
  std::string key;
};

struct ServerConfig {
  std::string listen = "0.0.0.0:8080";
  std::string admin_listen = "127.0.0.1:9901";
  unsigned threads = 0;  // 0 = one per core
  std::uint64_t max_body_bytes = 8ull << 20;
  std::uint64_t max_header_bytes = 16ull << 10;  // extension: request line + headers
  Duration request_timeout = 600s;               // whole request, client to last byte
  Duration drain_timeout = 30s;
  Duration read_timeout = 30s;   // extension: slow-client guard for header + body read
  Duration idle_timeout = 120s;  // extension: keep-alive idle
  std::size_t max_json_depth = 128;  // nesting limit for every JSON body parsed (client, upstream)
  std::string admin_token;           // bearer token for the admin listener; secret; empty = none
  std::optional<ServerTls> tls;
};

enum class ProviderKind { openai, azure, anthropic, gemini, openai_compatible };

struct UpstreamTimeouts {
  Duration connect = 2s;
  Duration first_byte = 30s;
  Duration idle_between_chunks = 30s;
  Duration total = 300s;
};

struct ActiveHealthConfig {
  enum class Kind { tcp, http };
  Kind kind = Kind::http;
  std::string path = "/models";
  unsigned expected_status = 200;  // extension
  Duration interval = 10s;
  Duration unhealthy_interval = 0ms;  // extension; 0 = interval / 4 (faster while unhealthy)
  Duration timeout = 2s;
  unsigned healthy_after = 2;
  unsigned unhealthy_after = 3;
};

struct PassiveHealthConfig {
  unsigned consecutive_failures = 5;
  double failure_rate = 0.5;  // 0..1
  unsigned min_requests = 20;
  Duration window = 30s;
  Duration eject_for = 30s;
  Duration max_eject_for = 300s;
  double max_ejected_percent = 50;  // extension: cap on a model's targets ejected at once
};

/// Live-traffic semantic signals (passive semantic health): the share of a target's recent
/// answers showing each sign of a bad answer. A share above its threshold marks the target.
/// Thresholds are fractions 0..1 of the answers in the window; 1 turns a signal off.
struct LiveSignalsConfig {
  enum class Action { degrade, eject };
  Duration window = 300s;
  unsigned min_answers = 20;      // fewer answers in the window judge nothing
  Action action = Action::degrade;  // degrade: tried after every clean target; eject: unroutable
  double empty = 0.2;             // no text and no tool call
  double repetition = 0.2;        // runaway repetition (repeated 4-gram share of the words)
  double invalid_json = 0.2;      // not JSON though response_format asked for it
  double finish_length = 0.5;     // finish_reason "length"
  double content_filter = 0.2;    // finish_reason "content_filter"
  double refusal = 0.3;           // a refusal phrase
  double slow_tokens = 0.5;       // tokens per second below slow_below × the target's baseline
  double slow_below = 0.25;
  // User feedback (POST /v1/feedback) on this provider's answers: a mean score below
  // feedback_below over at least min_feedback ratings in the window marks it too.
  double feedback_below = -0.2;  // -1..1; -1 turns it off
  unsigned min_feedback = 5;
};

enum class OnBadAnswer { serve, retry_elsewhere };

struct SemanticHealthConfig {
  Duration interval = 60s;
  std::string model;                // the provider's model to probe; required with probes
  std::vector<std::string> probes;  // names from Config::probes; required unless `signals`
  unsigned unhealthy_after = 2;
  unsigned healthy_after = 1;       // rounds of probes in a row (each runs every probe)
  std::optional<double> max_usd_per_day;  // probe spend cap per provider; past it, probing pauses
  std::optional<LiveSignalsConfig> signals;
  // retry_elsewhere: a non-streamed answer with a bad signal goes to another target first.
  OnBadAnswer on_bad_answer = OnBadAnswer::serve;
};

struct HealthConfig {
  std::optional<ActiveHealthConfig> active;
  std::optional<PassiveHealthConfig> passive;
  std::optional<SemanticHealthConfig> semantic;
};

struct CircuitBreakerConfig {
  double open_after_failure_rate = 0.5;  // 0..1
  unsigned min_requests = 20;
  Duration window = 10s;
  Duration open_for = 30s;
  unsigned half_open_probes = 3;
};

struct RateLimits {
  std::optional<std::uint64_t> rpm;
  std::optional<std::uint64_t> tpm;
};

struct ProviderConfig {
  std::string name;
  ProviderKind kind = ProviderKind::openai;
  std::string base_url;  // as written
  common::Url url;       // parsed base_url
  std::string api_key;   // secret: never logged, redacted in /admin/config
  std::string region;
  unsigned max_connections = 512;
  UpstreamTimeouts timeouts;
  HealthConfig health;
  std::optional<CircuitBreakerConfig> circuit_breaker;
  RateLimits limits;
  // Extensions (documented in docs/configuration.md):
  std::string ca_file;       // PEM bundle to verify the provider's certificate (private CAs)
  bool tls_verify = true;    // false only for lab use; logged loudly
  std::string api_version;   // azure: api-version query; anthropic: anthropic-version header
  std::map<std::string, std::string> headers;  // extra headers sent upstream
  Position pos;
};

struct JudgeConfig {
  std::string model;   // a name in Config::models: the judge call is routed, never to the judged
  std::string rubric;  // the grading instructions
  double min_score = 7;  // 0..10: the judge grades on that scale
};

struct SimilarConfig {
  std::string text;         // the reference answer (templated like other expect strings)
  double min_cosine = 0.8;  // -1..1
  std::string model;        // an embeddings model in Config::models, routed like the judge
};

struct ProbeExpect {
  std::optional<std::string> regex;  // validated as ECMAScript regex at load
  std::optional<Duration> max_latency;
  bool json = false;
  std::optional<std::string> contains;
  std::optional<std::string> not_contains;
  std::optional<std::uint64_t> min_chars;
  std::optional<std::uint64_t> max_chars;
  std::vector<std::string> required_keys;  // with json: top-level keys the object must have
  std::optional<JudgeConfig> judge;
  std::optional<SimilarConfig> similar_to;
};

struct ProbeConfig {
  std::string name;
  std::string prompt;
  std::string system;           // optional system prompt
  std::string response_format;  // "" | "text" | "json_object"
  std::uint64_t max_tokens = 256;
  double temperature = 0;
  ProbeExpect expect;
};

struct Price {
  double input_per_mtok = 0;
  double output_per_mtok = 0;
};

struct TargetConfig {
  std::string provider;  // name in Config::providers
  std::string model;     // the provider's model id
  unsigned weight = 1;
  std::optional<std::uint64_t> context_window;
  Price price;
  Position pos;
};

enum class Strategy { priority, weighted, round_robin, least_latency, least_cost, least_busy };
enum class Jitter { full, equal, none };

struct BackoffConfig {
  Duration base = 100ms;
  Duration max = 5s;
  Jitter jitter = Jitter::full;
};

/// retry.on, parsed once at load: which failures earn another try on the same target.
struct RetryConditions {
  bool connect = true;  // connect and TLS failures
  bool timeout = true;  // timeouts and stalls
  bool status_429 = true;
  bool status_4xx = false;
  bool status_5xx = true;
  std::vector<int> statuses;  // explicit statuses ("503")
};

struct RetryConfig {
  unsigned attempts = 3;  // total attempts per request across targets, >= 1
  BackoffConfig backoff;
  // Conditions as written: "connect", "timeout", "429", "5xx", "4xx" or a status such as "503".
  std::vector<std::string> on{"connect", "timeout", "429", "5xx"};
  RetryConditions when;  // `on`, parsed
  double budget = 0.2;  // retries <= budget * requests over a sliding window
};

struct HedgeConfig {
  std::string after = "p95";  // as written: "pNN" of the target's latency, or a duration
  // `after`, parsed: a quantile (0.95) of the target's recent header latencies, or a fixed delay.
  std::optional<double> after_quantile = 0.95;
  std::optional<Duration> after_delay;
  unsigned max = 1;
};

// models[].cache: the exact response cache of one model (src/cache).
struct CacheConfig {
  Duration ttl = 600s;
  bool serve_stale_on_outage = false;
  // Also cache requests with temperature > 0 (key `any_temperature`; the older key
  // `allow_nonzero_temperature` is its alias).
  bool any_temperature = false;
};

// The top-level `cache`: the store every model's cache shares (src/cache). Where it lives
// follows `state.backend` (local: this process's memory; redis: shared).
struct CacheStoreConfig {
  std::uint64_t max_bytes = 64ull << 20;   // memory store: LRU beyond this
  std::uint64_t max_entries = 100000;      // memory store: LRU beyond this
  std::uint64_t max_entry_bytes = 1ull << 20;  // a larger answer is not stored
  // How long an expired entry is kept for serve_stale_on_outage (then it is gone).
  Duration max_stale = std::chrono::hours(24);
};

enum class Overflow { truncate_oldest, summarize, reject, fallback_larger };

struct ContextConfig {
  Overflow overflow = Overflow::truncate_oldest;
  std::string summarizer;  // overflow: summarize — the (cheap) model that writes the summary
  // Output tokens kept free when the request sets no max_tokens.
  std::uint64_t reserve_output = 1024;
};

struct CanaryRollback {
  std::optional<double> error_rate;           // 0..1 of the canary's requests (5 min window)
  std::optional<unsigned> semantic_failures;  // canary answers with a bad-answer signal
  std::optional<double> feedback_below;       // mean user rating of canary answers, -1..1
};

struct CanaryConfig {
  std::string target;  // provider name of one of the model's targets
  double percent = 0;  // 0..100
  CanaryRollback rollback_on;
};

struct DegradeConfig {
  std::string message;
};

/// models[].select: a rule that sends a request for this model to another model (its targets,
/// strategy and retries) when every condition it sets holds. Rules are tried in order, before
/// the strategy runs; no match keeps the model's own targets.
struct SelectRule {
  std::optional<std::uint64_t> max_prompt_tokens;  // the prompt counts at most this many
  std::optional<std::uint64_t> min_prompt_tokens;  // ... at least this many
  std::optional<bool> tools;   // the request offers tools (true) or none (false)
  std::optional<bool> images;  // a message carries an image (true) or none does (false)
  // x-llmgw-* request headers (names lowercase) and the value each must have ("*": present).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string use;  // a model name in Config::models
  Position pos;
};

struct ModelConfig {
  std::string name;
  Strategy strategy = Strategy::priority;
  std::vector<TargetConfig> targets;  // non-empty
  std::vector<std::string> fallbacks;  // other model names
  RetryConfig retry;
  std::optional<HedgeConfig> hedge;
  std::optional<CacheConfig> cache;
  ContextConfig context;
  std::optional<CanaryConfig> canary;
  std::optional<DegradeConfig> degrade;
  std::vector<SelectRule> select;
  Position pos;
};

struct KeyBudget {
  double usd_per_day = 0;    // 0 = no daily cap (UTC days)
  double usd_per_month = 0;  // 0 = no monthly cap (UTC calendar months)
};

struct KeyConfig {
  std::string name;
  std::string sha256;  // 64 lowercase hex chars (input accepted in any case, stored lower)
  std::optional<std::vector<std::string>> models;  // allowlist; nullopt = all
  RateLimits rate_limit;
  std::optional<KeyBudget> budget;
  std::string persona;  // merged into the system context of this key's calls
};

struct AuthConfig {
  bool required = true;
};

enum class SessionStoreKind { memory, sqlite, redis };

struct SessionsConfig {
  SessionStoreKind store = SessionStoreKind::memory;
  std::string sqlite_path = "/var/lib/llmgw/sessions.db";
  std::string redis_url = "redis://127.0.0.1:6379/0";
  Duration ttl = 24h;
  std::string system_prompt;
  bool inject_everywhere = false;
  Duration busy_wait = std::chrono::seconds(10);  // then 409 session_busy
  std::uint64_t max_sessions = 100000;              // memory store
  std::uint64_t max_bytes = 256ull << 20;           // memory store, of stored message text
  std::map<std::string, std::string> profiles;      // x-llmgw-user: name -> persona text
};

enum class StateBackend { local, redis };

enum class OnUnavailable { allow, deny };

/// What a feature does while the shared state cannot be reached (state.on_unavailable).
struct OnUnavailableConfig {
  OnUnavailable limits = OnUnavailable::allow;   // this instance's own buckets meanwhile
  OnUnavailable cache = OnUnavailable::allow;    // a miss, the answer is not stored
  OnUnavailable budgets = OnUnavailable::deny;   // 503 state_unavailable for budgeted keys
};

struct StateConfig {
  StateBackend backend = StateBackend::local;
  std::string redis_url = "redis://127.0.0.1:6379/0";
  OnUnavailableConfig on_unavailable;
};

// A managed prompt (POST /v1/prompts/{name}). Several may share a name with different
// versions; a call without a version gets the highest.
struct PromptConfig {
  std::string name;
  unsigned version = 1;
  std::string model;  // a name in Config::models
  std::string system;
  std::string template_text;  // key "template": {{variable}} placeholders, checked at load
  // Sampling defaults of the chat request; a call may override each.
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<std::uint64_t> max_tokens;
  std::vector<std::string> stop;  // a string in the file is a list of one
  std::string response_format;    // "" | "text" | "json_object"
};

enum class LogFormat { text, json };

struct LoggingConfig {  // extension: the daemon and access logs
  std::string level = "info";         // trace | debug | info | warn | error
  LogFormat format = LogFormat::text;  // daemon log format
  std::string access_log = "stdout";  // stdout | stderr | off | a file path
};

// Extension: OpenTelemetry traces, exported over OTLP/HTTP JSON (docs/operations.md#traces).
struct TracingConfig {
  std::string otlp_endpoint;  // as written: the collector's base URL (/v1/traces is appended)
  common::Url url;            // parsed otlp_endpoint
  double sample_ratio = 1.0;  // of new traces; an incoming traceparent's decision is kept
  std::string service_name = "llmgw";
  std::map<std::string, std::string> headers;  // sent with every export (may hold a secret)
  std::uint64_t max_queue_spans = 8192;  // spans waiting for export; beyond: dropped, counted
  std::uint64_t max_batch_spans = 512;
  Duration export_interval = std::chrono::seconds(1);
  Duration export_timeout = std::chrono::seconds(5);
};

struct Config {
  ServerConfig server;
  std::vector<ProviderConfig> providers;
  std::vector<ProbeConfig> probes;
  std::vector<ModelConfig> models;
  std::vector<KeyConfig> keys;
  AuthConfig auth;
  SessionsConfig sessions;
  StateConfig state;
  CacheStoreConfig cache;
  std::vector<PromptConfig> prompts;
  LoggingConfig logging;
  std::optional<TracingConfig> tracing;  // off when absent
  std::string source_path;  // the file it was loaded from

  const ProviderConfig* find_provider(std::string_view name) const;
  const ModelConfig* find_model(std::string_view name) const;
  /// The prompt `name` at `version`, or its highest version when `version` is 0. A scan: prompts
  /// are few, and only prompt calls look them up.
  const PromptConfig* find_prompt(std::string_view name, unsigned version = 0) const;
};

std::string_view to_string(ProviderKind k);
std::string_view to_string(Strategy s);

}  // namespace llmgw::config
