// The access log's line (see access_line.hpp).
#include "server/access_line.hpp"

#include <charconv>
#include <cmath>

#include "llmgw/api/errors.hpp"
#include "llmgw/server/access_log.hpp"

namespace llmgw::server {
namespace {

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc() ? end : buf);
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc() ? end : buf);
}

void append_key(std::string& out, std::string_view key) {
  out += ",\"";
  out += key;
  out += "\":";
}

// A string, or null when there is none.
void append_field(std::string& out, std::string_view key, std::string_view value) {
  append_key(out, key);
  if (value.empty()) {
    out += "null";
  } else {
    append_json_string(out, value);
  }
}

void append_ms(std::string& out, std::string_view key, double seconds) {
  append_key(out, key);
  if (seconds >= 0) {
    // Microsecond precision: a shorter line than the shortest round-trip of the double.
    append_number(out, std::round(seconds * 1e6) / 1e3);
  } else {
    out += "null";
  }
}

// host:port of an upstream, IPv6 in brackets.
void append_address(std::string& out, const router::ProviderRoute* provider) {
  if (!provider) {
    out += "null";
    return;
  }
  const auto& url = provider->endpoint.url;
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string address;
  address.reserve(url.host.size() + 8);
  address += v6 ? "[" : "";
  address += url.host;
  address += v6 ? "]:" : ":";
  append_number(address, static_cast<std::uint64_t>(url.port));
  append_json_string(out, address);
}

// The served provider's record: a continued stream keeps its first provider's name.
const router::AttemptRecord* served_attempt(const router::CallOutcome& o) {
  for (auto it = o.attempt_log.rbegin(); it != o.attempt_log.rend(); ++it) {
    if (it->provider && it->provider->config && it->provider->config->name == o.provider) {
      return &*it;
    }
  }
  return nullptr;
}

void append_attempts(std::string& out, const router::CallOutcome& o) {
  append_key(out, "attempts");
  out += '[';
  const auto n = std::min(o.attempt_log.size(), kMaxLoggedAttempts);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& a = o.attempt_log[i];
    out += i == 0 ? "{\"target\":" : ",{\"target\":";
    append_json_string(out, a.provider && a.provider->config ? a.provider->config->name : "");
    append_key(out, "upstream");
    append_address(out, a.provider);
    append_field(out, "class", a.outcome);
    append_key(out, "status");
    if (a.status > 0) {
      append_number(out, static_cast<std::uint64_t>(a.status));
    } else {
      out += "null";
    }
    append_ms(out, "ms", a.seconds);
    out += '}';
  }
  out += ']';
  if (o.attempt_log.size() > n) {
    append_key(out, "attempts_not_logged");
    append_number(out, static_cast<std::uint64_t>(o.attempt_log.size() - n));
  }
}

}  // namespace

void format_access_line(const AccessEntry& e, std::string& out) {
  const auto& o = *e.outcome;
  out += "{\"ts\":\"";
  append_rfc3339_ms(out, e.received);
  out += '"';
  append_field(out, "request_id", e.request_id);
  append_field(out, "method", e.method);
  append_field(out, "route", e.route);
  if (!e.path.empty()) {
    append_field(out, "path", api::echo(e.path));
  }
  append_key(out, "status");
  append_number(out, static_cast<std::uint64_t>(o.status));
  append_key(out, "bytes_in");
  append_number(out, e.bytes_in);
  append_key(out, "bytes_out");
  if (e.bytes_out) {
    append_number(out, *e.bytes_out);
  } else {
    out += "null";
  }
  append_field(out, "user_agent", e.user_agent.substr(0, kMaxUserAgent));
  append_field(out, "remote", e.remote);
  append_field(out, "key", e.key);
  append_key(out, "model");
  if (e.model) {
    append_json_string(out, api::echo(*e.model));
  } else {
    out += "null";
  }
  append_field(out, "served_model", o.served_model);
  append_field(out, "provider", o.provider);
  append_key(out, "upstream");
  const auto* served = served_attempt(o);
  append_address(out, served ? served->provider : nullptr);
  append_attempts(out, o);
  append_ms(out, "ttft_ms", o.ttft_seconds);
  append_ms(out, "total_ms", e.total_seconds);
  append_key(out, "tokens_in");
  append_number(out, o.usage.prompt_tokens);
  append_key(out, "tokens_out");
  append_number(out, o.usage.completion_tokens);
  append_key(out, "cost_usd");
  append_number(out, o.cost_usd);
  append_field(out, "cache", e.cache);
  append_field(out, "session", e.session);
  append_key(out, "stream");
  out += e.stream ? "true" : "false";
  if (!e.prompt.empty()) {
    append_field(out, "prompt", e.prompt);
    append_key(out, "prompt_version");
    append_number(out, static_cast<std::uint64_t>(e.prompt_version));
  }
  append_field(out, "error", o.error_code);
  out += '}';
}

}  // namespace llmgw::server
