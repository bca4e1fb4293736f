// GET /admin/config: the running config in the file's own shape, secrets removed.
#include <nlohmann/json.hpp>

#include "config/detail.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/config/loader.hpp"

namespace llmgw::config {
namespace {

using Json = nlohmann::ordered_json;  // keeps the schema's key order, which operators know
using detail::format_duration;
using detail::format_size;

constexpr const char* kRedacted = "<redacted>";

// Header names that by convention carry credentials. Broader than strictly needed: hiding a
// harmless value costs nothing, showing a secret cannot be undone.
bool is_secret_header(std::string_view name) {
  auto lower = common::to_lower(name);
  for (std::string_view word : {"auth", "key", "token", "secret", "password", "cookie"}) {
    if (lower.find(word) != std::string::npos) {
      return true;
    }
  }
  return false;
}

Json prompt_json(const PromptConfig& p) {
  Json j = {{"name", p.name},
            {"version", p.version},
            {"model", p.model},
            {"system", p.system},
            {"template", p.template_text}};
  // Unset sampling defaults are left out: the provider's own defaults apply then.
  if (p.temperature) {
    j["temperature"] = *p.temperature;
  }
  if (p.top_p) {
    j["top_p"] = *p.top_p;
  }
  if (p.max_tokens) {
    j["max_tokens"] = *p.max_tokens;
  }
  if (!p.stop.empty()) {
    j["stop"] = p.stop;
  }
  if (!p.response_format.empty()) {
    j["response_format"] = p.response_format;
  }
  return j;
}

Json limits_json(const RateLimits& l) {
  Json j = Json::object();
  if (l.rpm) {
    j["rpm"] = *l.rpm;
  }
  if (l.tpm) {
    j["tpm"] = *l.tpm;
  }
  return j;
}

Json health_json(const HealthConfig& h) {
  Json j = Json::object();
  if (h.active) {
    const auto& a = *h.active;
    j["active"] = {{"kind", detail::enum_name(detail::kActiveKinds, a.kind)},
                   {"path", a.path},
                   {"expected_status", a.expected_status},
                   {"interval", format_duration(a.interval)},
                   {"unhealthy_interval", format_duration(a.unhealthy_interval)},
                   {"timeout", format_duration(a.timeout)},
                   {"healthy_after", a.healthy_after},
                   {"unhealthy_after", a.unhealthy_after}};
  }
  if (h.passive) {
    const auto& p = *h.passive;
    j["passive"] = {{"consecutive_failures", p.consecutive_failures},
                    {"failure_rate", p.failure_rate},
                    {"min_requests", p.min_requests},
                    {"window", format_duration(p.window)},
                    {"eject_for", format_duration(p.eject_for)},
                    {"max_eject_for", format_duration(p.max_eject_for)},
                    {"max_ejected_percent", p.max_ejected_percent}};
  }
  if (h.semantic) {
    const auto& s = *h.semantic;
    j["semantic"] = {{"interval", format_duration(s.interval)},
                     {"model", s.model},
                     {"probes", s.probes},
                     {"unhealthy_after", s.unhealthy_after},
                     {"healthy_after", s.healthy_after}};
    if (s.max_usd_per_day) {
      j["semantic"]["max_usd_per_day"] = *s.max_usd_per_day;
    }
    j["semantic"]["on_bad_answer"] = detail::enum_name(detail::kOnBadAnswer, s.on_bad_answer);
    if (s.signals) {
      const auto& g = *s.signals;
      j["semantic"]["signals"] = {
          {"window", format_duration(g.window)},
          {"min_answers", g.min_answers},
          {"action", detail::enum_name(detail::kSignalActions, g.action)},
          {"empty", g.empty},
          {"repetition", g.repetition},
          {"invalid_json", g.invalid_json},
          {"finish_length", g.finish_length},
          {"content_filter", g.content_filter},
          {"refusal", g.refusal},
          {"slow_tokens", g.slow_tokens},
          {"slow_below", g.slow_below},
          {"feedback_below", g.feedback_below},
          {"min_feedback", g.min_feedback}};
    }
  }
  return j;
}

Json provider_json(const ProviderConfig& p) {
  Json j;
  j["name"] = p.name;
  j["kind"] = to_string(p.kind);
  j["base_url"] = detail::redact_url_credentials(p.base_url);
  // Empty stays empty: whether a key is configured at all is useful and not secret.
  j["api_key"] = p.api_key.empty() ? "" : kRedacted;
  j["region"] = p.region;
  j["max_connections"] = p.max_connections;
  j["timeouts"] = {{"connect", format_duration(p.timeouts.connect)},
                   {"first_byte", format_duration(p.timeouts.first_byte)},
                   {"idle_between_chunks", format_duration(p.timeouts.idle_between_chunks)},
                   {"total", format_duration(p.timeouts.total)}};
  j["health"] = health_json(p.health);
  if (p.circuit_breaker) {
    const auto& c = *p.circuit_breaker;
    j["circuit_breaker"] = {{"open_after_failure_rate", c.open_after_failure_rate},
                            {"min_requests", c.min_requests},
                            {"window", format_duration(c.window)},
                            {"open_for", format_duration(c.open_for)},
                            {"half_open_probes", c.half_open_probes}};
  }
  j["limits"] = limits_json(p.limits);
  j["ca_file"] = p.ca_file;
  j["tls_verify"] = p.tls_verify;
  j["api_version"] = p.api_version;
  Json headers = Json::object();
  for (const auto& [name, value] : p.headers) {
    headers[name] = is_secret_header(name) ? kRedacted : value;
  }
  j["headers"] = std::move(headers);
  return j;
}

Json probe_json(const ProbeConfig& p) {
  Json expect = Json::object();
  const auto& e = p.expect;
  if (e.regex) {
    expect["regex"] = *e.regex;
  }
  if (e.max_latency) {
    expect["max_latency"] = format_duration(*e.max_latency);
  }
  expect["json"] = e.json;
  if (!e.required_keys.empty()) {
    expect["required_keys"] = e.required_keys;
  }
  if (e.contains) {
    expect["contains"] = *e.contains;
  }
  if (e.not_contains) {
    expect["not_contains"] = *e.not_contains;
  }
  if (e.min_chars) {
    expect["min_chars"] = *e.min_chars;
  }
  if (e.max_chars) {
    expect["max_chars"] = *e.max_chars;
  }
  if (e.judge) {
    expect["judge"] = {
        {"model", e.judge->model}, {"rubric", e.judge->rubric}, {"min_score", e.judge->min_score}};
  }
  if (e.similar_to) {
    expect["similar_to"] = {{"text", e.similar_to->text},
                            {"min_cosine", e.similar_to->min_cosine},
                            {"model", e.similar_to->model}};
  }
  return {{"name", p.name},
          {"prompt", p.prompt},
          {"system", p.system},
          {"response_format", p.response_format},
          {"max_tokens", p.max_tokens},
          {"temperature", p.temperature},
          {"expect", std::move(expect)}};
}

Json model_json(const ModelConfig& m) {
  Json j;
  j["name"] = m.name;
  j["strategy"] = to_string(m.strategy);
  Json targets = Json::array();
  for (const auto& t : m.targets) {
    Json tj = {{"provider", t.provider}, {"model", t.model}, {"weight", t.weight}};
    if (t.context_window) {
      tj["context_window"] = *t.context_window;
    }
    tj["price"] = {{"input_per_mtok", t.price.input_per_mtok},
                   {"output_per_mtok", t.price.output_per_mtok}};
    targets.push_back(std::move(tj));
  }
  j["targets"] = std::move(targets);
  j["fallbacks"] = m.fallbacks;
  j["retry"] = {{"attempts", m.retry.attempts},
                {"backoff",
                 {{"base", format_duration(m.retry.backoff.base)},
                  {"max", format_duration(m.retry.backoff.max)},
                  {"jitter", detail::enum_name(detail::kJitters, m.retry.backoff.jitter)}}},
                {"on", m.retry.on},
                {"budget", m.retry.budget}};
  if (m.hedge) {
    j["hedge"] = {{"after", m.hedge->after}, {"max", m.hedge->max}};
  }
  if (m.cache) {
    j["cache"] = {{"ttl", format_duration(m.cache->ttl)},
                  {"serve_stale_on_outage", m.cache->serve_stale_on_outage},
                  {"any_temperature", m.cache->any_temperature}};
  }
  j["context"] = {{"overflow", detail::enum_name(detail::kOverflows, m.context.overflow)}};
  if (m.canary) {
    Json rollback = Json::object();
    if (m.canary->rollback_on.error_rate) {
      rollback["error_rate"] = *m.canary->rollback_on.error_rate;
    }
    if (m.canary->rollback_on.semantic_failures) {
      rollback["semantic_failures"] = *m.canary->rollback_on.semantic_failures;
    }
    if (m.canary->rollback_on.feedback_below) {
      rollback["feedback_below"] = *m.canary->rollback_on.feedback_below;
    }
    j["canary"] = {{"target", m.canary->target},
                   {"percent", m.canary->percent},
                   {"rollback_on", std::move(rollback)}};
  }
  for (const auto& rule : m.select) {
    Json when = Json::object();
    if (rule.max_prompt_tokens) {
      when["max_prompt_tokens"] = *rule.max_prompt_tokens;
    }
    if (rule.min_prompt_tokens) {
      when["min_prompt_tokens"] = *rule.min_prompt_tokens;
    }
    if (rule.tools) {
      when["tools"] = *rule.tools;
    }
    if (rule.images) {
      when["images"] = *rule.images;
    }
    for (const auto& [name, value] : rule.headers) {
      when["headers"][name] = value;
    }
    j["select"].push_back({{"when", when}, {"use", rule.use}});
  }
  if (m.degrade) {
    j["degrade"] = {{"message", m.degrade->message}};
  }
  return j;
}

Json key_json(const KeyConfig& k) {
  Json j;
  j["name"] = k.name;
  // Only a hash, but it still identifies the key and helps offline guessing of weak keys.
  j["sha256"] = kRedacted;
  if (k.models) {
    j["models"] = *k.models;
  }
  j["rate_limit"] = limits_json(k.rate_limit);
  if (k.budget) {
    j["budget"] = {{"usd_per_day", k.budget->usd_per_day},
                   {"usd_per_month", k.budget->usd_per_month}};
  }
  return j;
}

}  // namespace

namespace detail {

std::string redact_url_credentials(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return std::string(url);
  }
  auto start = scheme + 3;
  // The last '@' rather than the first one before a '/': an unescaped '/' or '@' inside the
  // password must not make the password survive. Over-redacting is the safe failure.
  auto at = url.rfind('@');
  if (at == std::string_view::npos || at < start) {
    return std::string(url);
  }
  auto userinfo = url.substr(start, at - start);
  auto colon = userinfo.find(':');
  std::string out(url.substr(0, start));
  if (colon != std::string_view::npos) {
    out.append(userinfo.substr(0, colon + 1));
  }
  out += kRedacted;
  out.append(url.substr(at));
  return out;
}

}  // namespace detail

std::string to_redacted_json(const Config& c) {
  Json j;
  j["source_path"] = c.source_path;
  Json server = {{"listen", c.server.listen},
                 {"admin_listen", c.server.admin_listen},
                 {"threads", c.server.threads},
                 {"max_body_bytes", format_size(c.server.max_body_bytes)},
                 {"max_header_bytes", format_size(c.server.max_header_bytes)},
                 {"request_timeout", format_duration(c.server.request_timeout)},
                 {"drain_timeout", format_duration(c.server.drain_timeout)},
                 {"read_timeout", format_duration(c.server.read_timeout)},
                 {"idle_timeout", format_duration(c.server.idle_timeout)},
                 {"max_json_depth", c.server.max_json_depth}};
  if (!c.server.admin_token.empty()) {
    server["admin_token"] = kRedacted;
  }
  if (c.server.tls) {
    // Paths, not key material: safe to show.
    server["tls"] = {{"cert", c.server.tls->cert}, {"key", c.server.tls->key}};
  }
  j["server"] = std::move(server);
  j["providers"] = Json::array();
  for (const auto& p : c.providers) {
    j["providers"].push_back(provider_json(p));
  }
  j["probes"] = Json::array();
  for (const auto& p : c.probes) {
    j["probes"].push_back(probe_json(p));
  }
  j["models"] = Json::array();
  for (const auto& m : c.models) {
    j["models"].push_back(model_json(m));
  }
  j["keys"] = Json::array();
  for (const auto& k : c.keys) {
    j["keys"].push_back(key_json(k));
  }
  j["auth"] = {{"required", c.auth.required}};
  j["sessions"] = {{"store", detail::enum_name(detail::kSessionStores, c.sessions.store)},
                   {"sqlite", {{"path", c.sessions.sqlite_path}}},
                   {"redis", {{"url", detail::redact_url_credentials(c.sessions.redis_url)}}},
                   {"ttl", format_duration(c.sessions.ttl)},
                   {"system_prompt", c.sessions.system_prompt},
                   {"inject_everywhere", c.sessions.inject_everywhere}};
  const auto& down = c.state.on_unavailable;
  j["state"] = {{"backend", detail::enum_name(detail::kStateBackends, c.state.backend)},
                {"redis", {{"url", detail::redact_url_credentials(c.state.redis_url)}}},
                {"on_unavailable",
                 {{"limits", detail::enum_name(detail::kOnUnavailable, down.limits)},
                  {"cache", detail::enum_name(detail::kOnUnavailable, down.cache)},
                  {"budgets", detail::enum_name(detail::kOnUnavailable, down.budgets)}}}};
  j["cache"] = {{"max_bytes", format_size(c.cache.max_bytes)},
                {"max_entries", c.cache.max_entries},
                {"max_entry_bytes", format_size(c.cache.max_entry_bytes)},
                {"max_stale", format_duration(c.cache.max_stale)}};
  j["prompts"] = Json::array();
  for (const auto& p : c.prompts) {
    j["prompts"].push_back(prompt_json(p));
  }
  j["logging"] = {{"level", c.logging.level},
                  {"format", detail::enum_name(detail::kLogFormats, c.logging.format)},
                  {"access_log", c.logging.access_log}};
  if (c.tracing) {
    // A collector's headers are its credentials (API keys under many names): none is shown.
    Json headers = Json::object();
    for (const auto& [name, value] : c.tracing->headers) {
      headers[name] = kRedacted;
    }
    j["tracing"] = {{"otlp_endpoint", detail::redact_url_credentials(c.tracing->otlp_endpoint)},
                    {"sample_ratio", c.tracing->sample_ratio},
                    {"service_name", c.tracing->service_name},
                    {"headers", std::move(headers)},
                    {"max_queue_spans", c.tracing->max_queue_spans},
                    {"max_batch_spans", c.tracing->max_batch_spans},
                    {"export_interval", format_duration(c.tracing->export_interval)},
                    {"export_timeout", format_duration(c.tracing->export_timeout)}};
  }
  return j.dump(2);
}

}  // namespace llmgw::config
