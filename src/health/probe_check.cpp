#include "llmgw/health/probe_check.hpp"

#include <nlohmann/json.hpp>
#include <regex>

namespace llmgw::health {
namespace {

// libstdc++'s std::regex matches recursively (a frame per character for some patterns) and
// has no step limit: an upstream's answer is untrusted and may be long, so longer answers are
// not matched at all. Probe answers worth matching are short ("42", a one-line JSON object).
constexpr std::size_t kMaxRegexInput = 1024;

ProbeResult failed(std::string check, std::string detail) {
  return ProbeResult{ProbeVerdict::fail, std::move(check), std::move(detail)};
}

ProbeResult unknown(std::string check, std::string detail) {
  return ProbeResult{ProbeVerdict::unknown, std::move(check), std::move(detail)};
}

std::string quoted(std::string_view text) { return "\"" + excerpt(text) + "\""; }

}  // namespace

std::string_view to_string(ProbeVerdict v) {
  switch (v) {
    case ProbeVerdict::pass: return "pass";
    case ProbeVerdict::fail: return "fail";
    case ProbeVerdict::unknown: return "unknown";
  }
  return "unknown";
}

std::string excerpt(std::string_view text, std::size_t max) {
  if (text.size() <= max) {
    return std::string(text);
  }
  std::size_t cut = max;
  // Back off continuation bytes (10xxxxxx) so a multi-byte character is never split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return std::string(text.substr(0, cut)) + "…";
}

ProbeResult check_answer(const config::ProbeExpect& e, std::string_view answer,
                         std::chrono::milliseconds latency) {
  if (e.max_latency && latency > *e.max_latency) {
    return failed("max_latency", "answered in " + std::to_string(latency.count()) +
                                     "ms, more than " + std::to_string(e.max_latency->count()) +
                                     "ms");
  }
  if (e.min_chars && answer.size() < *e.min_chars) {
    return failed("min_chars", std::to_string(answer.size()) + " characters, fewer than " +
                                   std::to_string(*e.min_chars) + ": " + quoted(answer));
  }
  if (e.max_chars && answer.size() > *e.max_chars) {
    return failed("max_chars", std::to_string(answer.size()) + " characters, more than " +
                                   std::to_string(*e.max_chars) + ": " + quoted(answer));
  }
  if (e.contains && answer.find(*e.contains) == std::string_view::npos) {
    return failed("contains", "no \"" + *e.contains + "\" in " + quoted(answer));
  }
  if (e.not_contains && answer.find(*e.not_contains) != std::string_view::npos) {
    return failed("not_contains", "\"" + *e.not_contains + "\" in " + quoted(answer));
  }
  if (e.regex) {
    if (answer.size() > kMaxRegexInput) {
      // Matching a prefix could pass or fail wrongly (`$`, lookaheads): say nothing. Long
      // answers are what max_chars is for.
      return unknown("regex", "answer of " + std::to_string(answer.size()) +
                                  " bytes, longer than the " + std::to_string(kMaxRegexInput) +
                                  " a regex is matched against");
    }
    try {
      std::regex re(*e.regex, std::regex::ECMAScript);
      if (!std::regex_search(answer.begin(), answer.end(), re)) {
        return failed("regex", "/" + *e.regex + "/ does not match " + quoted(answer));
      }
    } catch (const std::regex_error& err) {
      // error_complexity / error_stack: the matcher gave up. Neither good nor bad news about
      // the upstream.
      return unknown("regex", std::string("regex gave up: ") + err.what());
    }
  }
  if (e.json) {
    auto parsed = nlohmann::json::parse(answer, nullptr, false);
    if (parsed.is_discarded()) {
      return failed("json", "not JSON: " + quoted(answer));
    }
    for (const auto& key : e.required_keys) {
      if (!parsed.is_object() || !parsed.contains(key)) {
        return failed("json", "no key \"" + key + "\" in " + quoted(answer));
      }
    }
  }
  return {};
}

}  // namespace llmgw::health
