#pragma once
// Templated probes (SPEC probes[], "templated values"): a probe's prompt and its expect strings
// may name `{{a}}` and `{{b}}`, two numbers drawn anew for every run, and the expect strings
// also `{{a+b}}`, `{{a-b}}`, `{{a*b}}`. So "What is {{a}} + {{b}}?" with
// `regex: '^\s*{{a+b}}\s*$'` asks a new question each time: neither a cache nor an answer
// learnt by heart passes. The config owns the grammar (the loader validates it); the prober
// instantiates a probe per run.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "llmgw/config/config.hpp"

namespace llmgw::config {

struct TemplateValues {
  std::int64_t a = 0;
  std::int64_t b = 0;
};

/// Whether `text` names any template value.
bool is_templated(std::string_view text);
/// What is wrong with the placeholders of `text` ("unknown template value '{{c}}' ..."), if
/// anything. `in_prompt`: only {{a}} and {{b}} are allowed there.
std::optional<std::string> template_problem(std::string_view text, bool in_prompt);
/// `text` with every placeholder replaced by its value.
std::string render_template(std::string_view text, const TemplateValues& v);
/// Whether the probe uses template values at all.
bool is_templated(const ProbeConfig& probe);
/// The probe as sent and checked for these values: prompt, system and expect strings rendered.
ProbeConfig instantiate(const ProbeConfig& probe, const TemplateValues& v);

}  // namespace llmgw::config
