#pragma once
// The rule verdicts of a semantic probe (SPEC probes[].expect): does one answer say what it
// must? Pure functions of the answer text and its latency; the prober sends the probe and
// keeps score, this only judges.
#include <chrono>
#include <string>
#include <string_view>

#include "llmgw/config/config.hpp"

namespace llmgw::health {

enum class ProbeVerdict { pass, fail, unknown };
std::string_view to_string(ProbeVerdict v);

struct ProbeResult {
  ProbeVerdict verdict = ProbeVerdict::pass;
  std::string check;   // the rule that failed ("regex", "contains", ...), or why unknown
  std::string detail;  // for operators: what was expected and what came (an excerpt)
};

/// Checks `answer` against every rule of `expect`, in a fixed order (latency, length,
/// contains, not_contains, regex, json); the first rule broken decides. `judge` is not a rule
/// here: it needs a model call (the prober's business).
ProbeResult check_answer(const config::ProbeExpect& expect, std::string_view answer,
                         std::chrono::milliseconds latency);

/// The first `max` bytes of `text`, cut at a UTF-8 boundary, with "…" when cut: what a log
/// line or the admin API shows of an upstream's answer.
std::string excerpt(std::string_view text, std::size_t max = 120);

}  // namespace llmgw::health
