// GET / on the admin listener: the status page. Rendered on the server from the same
// StatusView as /admin/upstreams, and refreshed by the browser (meta refresh): no script runs,
// so text from config and from upstream errors is inert once escaped, and the page works
// behind any tunnel without assets or a CDN.
#include <cmath>
#include <cstdio>

#include "server/status_view.hpp"

namespace llmgw::server {
namespace {

constexpr int kRefreshSeconds = 2;

// Escapes for text and for double- or single-quoted attribute values.
std::string esc(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Rounded up: a hold shown as "0 s left" would still be in force.
std::string countdown(std::chrono::milliseconds left) {
  auto secs = static_cast<long long>(std::ceil(static_cast<double>(left.count()) / 1000.0));
  return "<span class=\"countdown\" data-ms=\"" + std::to_string(left.count()) + "\">" +
         std::to_string(secs) + " s left</span>";
}

std::string age_text(std::chrono::milliseconds age) {
  auto secs = age.count() / 1000;
  if (secs < 1) {
    return "just now";
  }
  if (secs < 120) {
    return std::to_string(secs) + " s ago";
  }
  if (secs < 7200) {
    return std::to_string(secs / 60) + " min ago";
  }
  return std::to_string(secs / 3600) + " h ago";
}

std::string td(std::string_view cls, const std::string& html) {
  return "<td class=\"" + std::string(cls) + "\">" + html + "</td>";
}

std::string check_cell(const std::optional<bool>& v, const char* bad) {
  return v ? (*v ? std::string("healthy") : std::string(bad)) : std::string("&mdash;");
}

// The live-signal cell: the breach, else the worst rate.
std::string signals_cell(const health::HealthSnapshot& s) {
  if (!s.signals) {
    return "&mdash;";
  }
  const auto& g = *s.signals;
  if (!g.breach.empty()) {
    return esc((g.ejects ? "unhealthy: " : "degraded: ") + g.breach);
  }
  std::size_t worst = 0;
  for (std::size_t i = 1; i < health::kSignalCount; ++i) {
    worst = g.shares[i] > g.shares[worst] ? i : worst;
  }
  char cell[96];
  std::snprintf(cell, sizeof cell, "healthy (%llu answers; most %s %.0f%%)",
                static_cast<unsigned long long>(g.answers),
                std::string(health::to_string(static_cast<health::Signal>(worst))).c_str(),
                g.shares[worst] * 100);
  return esc(cell);
}

std::string semantic_cell(const health::HealthSnapshot& s) {
  std::string cell = check_cell(s.semantic_healthy, "unhealthy");
  if (s.semantic_healthy && !s.semantic_last_failure.empty()) {
    cell += "<div class=\"note\">last failing round: " + esc(s.semantic_last_failure) + "</div>";
  }
  return cell;
}

std::string reasons_cell(const health::HealthSnapshot& s) {
  if (s.holds.empty()) {
    return s.reason.empty() ? "" : esc(s.reason);  // e.g. degraded, still routable
  }
  std::string cell = "<ul class=\"reasons\">";
  for (const auto& h : s.holds) {
    cell += "<li data-kind=\"" + esc(h.kind) + "\">" + esc(h.reason);
    if (h.remaining) {
      cell += " &mdash; " + countdown(*h.remaining);
    }
    cell += "</li>";
  }
  return cell + "</ul>";
}

std::string last_error_cell(const health::HealthSnapshot& s) {
  if (s.last_error.empty()) {
    return "&mdash;";
  }
  std::string cell = esc(s.last_error);
  if (s.last_error_age) {
    cell += " <span class=\"age\">(" + age_text(*s.last_error_age) + ")</span>";
  }
  return cell;
}

std::string provider_row(const health::HealthSnapshot& s) {
  char ttft[32] = "&mdash;";
  if (s.ttft_sampled) {
    std::snprintf(ttft, sizeof ttft, "%.1f", s.ewma_ttft_ms);
  }
  char rate[48];
  std::snprintf(rate, sizeof rate, "%.0f%% of %llu", s.error_rate * 100,
                static_cast<unsigned long long>(s.recent_calls));
  return "<tr class=\"" + std::string(s.routable ? "ok" : "bad") + "\" data-provider=\"" +
         esc(s.provider) + "\">" + td("name", esc(s.provider)) +
         td("state", s.routable ? "routable" : "not routable") + td("why", reasons_cell(s)) +
         td("active", check_cell(s.active_healthy, "unhealthy")) +
         td("passive", check_cell(s.passive_healthy, "ejected")) +
         td("semantic", semantic_cell(s)) + td("signals", signals_cell(s)) +
         td("circuit", s.circuit_enabled ? resilience::to_string(s.circuit) : "&mdash;") +
         td("inflight", std::to_string(s.inflight)) + td("ttft", ttft) + td("errors", rate) +
         td("last-error", last_error_cell(s)) + "</tr>\n";
}

std::string step_text(const router::PlanStep& step, const router::ModelPreview& m) {
  std::string text = esc(step.provider) + " (" + esc(step.target_model) + ")";
  if (step.model != m.name) {
    text += " <span class=\"note\">fallback " + esc(step.model) + "</span>";
  }
  if (step.last_resort) {
    text += " <span class=\"note\">last resort</span>";
  }
  return text;
}

std::string model_row(const router::ModelPreview& m) {
  std::string next = "<span class=\"bad\">nothing: requests fail</span>";
  std::string plan = "<ol class=\"plan\">";
  for (std::size_t i = 0; i < m.plan.size(); ++i) {
    const auto& step = m.plan[i];
    plan += "<li data-provider=\"" + esc(step.provider) + "\"" +
            (i == 0 ? " class=\"next\"" : "") + ">" + step_text(step, m) + "</li>";
  }
  plan += "</ol>";
  if (!m.plan.empty()) {
    next = step_text(m.plan.front(), m);
  }
  std::string skipped;
  for (const auto& s : m.skipped) {
    skipped += "<li>" + esc(s) + "</li>";
  }
  std::string fallbacks;
  for (const auto& f : m.fallbacks) {
    fallbacks += (fallbacks.empty() ? "" : ", ") + esc(f);
  }
  return "<tr class=\"" + std::string(m.routable ? "ok" : "bad") + "\" data-model=\"" +
         esc(m.name) + "\">" + td("name", esc(m.name)) +
         td("state", m.routable ? "routable" : "no routable target") +
         td("strategy", std::string(config::to_string(m.strategy))) +
         td("next", next) + td("plan", plan) +
         td("skipped", skipped.empty() ? "" : "<ul>" + skipped + "</ul>") +
         td("fallbacks", fallbacks.empty() ? "&mdash;" : fallbacks) + "</tr>\n";
}

}  // namespace

std::string status_page(const StatusView& view) {
  std::string page =
      "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
      "content=\"" + std::to_string(kRefreshSeconds) + "\"><title>llmgw status</title><style>"
      "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:2em}"
      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
      "tr.ok td.state{color:#080}tr.bad td.state,span.bad{color:#b00;font-weight:bold}"
      "ul,ol{margin:0;padding-left:1.2em}li.next{font-weight:bold}.note,.age{color:#666;"
      "font-size:90%}.countdown{font-weight:bold;white-space:nowrap}</style></head><body>"
      "<h1>llmgw status</h1><p>Refreshes every " + std::to_string(kRefreshSeconds) +
      " s. JSON: <a href=\"/admin/upstreams\">/admin/upstreams</a>, metrics: "
      "<a href=\"/metrics\">/metrics</a>.</p>"
      "<h2>Upstreams</h2><table id=\"upstreams\"><tr><th>provider</th><th>state</th>"
      "<th>why not routable</th><th>active</th><th>passive</th><th>semantic</th>"
      "<th>live answers</th><th>circuit</th><th>in flight</th><th>TTFT ms (EWMA)</th>"
      "<th>errors (1 min)</th><th>last error</th></tr>\n";
  for (const auto& p : view.providers) {
    page += provider_row(p.health);
  }
  page += "</table><h2>Models</h2><p>What a chat request would try now, in order; the first "
          "serves next.</p><table id=\"models\"><tr><th>model</th><th>state</th>"
          "<th>strategy</th><th>next</th><th>plan</th><th>left out</th><th>fallbacks</th>"
          "</tr>\n";
  for (const auto& m : view.models) {
    page += model_row(m);
  }
  return page + "</table></body></html>\n";
}

}  // namespace llmgw::server
