// The config schema, probes: semantic health probes and what their answers must contain.
#include <array>
#include <regex>

#include "config/schema_loader.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/config/probe_template.hpp"

namespace llmgw::config::schema {

void SchemaLoader::probe(const Value& v, ProbeConfig& p) {
  MapReader m(r_, v,
              {"name", "prompt", "system", "response_format", "max_tokens", "temperature",
               "expect"});
  if (!m.ok()) {
    return;
  }
  name(m, p.name, probes_, false);
  if (auto at = required_string(m, "prompt", p.prompt)) {
    if (auto why = template_problem(p.prompt, true)) {
      r_.error(*at, *why);
    }
  }
  if (auto sv = m.get("system")) {
    if (auto text = detail::read_string(r_, *sv)) {
      if (auto why = template_problem(*text, true)) {
        r_.error(*sv, *why);
      }
      p.system = std::move(*text);
    }
  }
  m.read("max_tokens", p.max_tokens, 1, 100000);
  m.read("temperature", p.temperature, 0.0, 2.0);
  if (auto rf = m.get("response_format"); rf && !rf->node.IsNull()) {
    if (auto s = detail::read_choice(r_, *rf, detail::kResponseFormats, "response_format")) {
      p.response_format = std::move(*s);
    }
  }
  if (auto e = m.get("expect")) {
    expect(*e, p.expect);
  }
}

std::optional<std::string> SchemaLoader::regex_limits_problem(const std::string& pattern) {
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

void SchemaLoader::expect(const Value& v, ProbeExpect& e) {
  MapReader m(r_, v,
              {"regex", "max_latency", "json", "required_keys", "contains", "not_contains",
               "min_chars", "max_chars", "judge", "similar_to"});
  if (auto rv = m.get("regex")) {
    if (auto s = detail::read_string(r_, *rv)) {
      // A templated pattern is checked as it will be sent, with values in place: the extremes
      // of the draw (10..99), which give the longest and the negative results.
      std::string sample = render_template(*s, TemplateValues{12, 30});
      std::optional<std::string> limits;
      constexpr std::array<TemplateValues, 3> kExtremes{
          TemplateValues{10, 99}, TemplateValues{99, 10}, TemplateValues{99, 99}};
      for (const auto& values : kExtremes) {
        if (auto why = regex_limits_problem(render_template(*s, values)); why && !limits) {
          limits = why;
          sample = render_template(*s, values);
        }
      }
      if (auto why = template_problem(*s, false)) {
        r_.error(*rv, *why);
      } else if (limits || (limits = regex_limits_problem(sample))) {
        r_.error(*rv, "invalid regex: " + *limits);
      } else {
        try {
          for (const auto& values : kExtremes) {
            std::regex each(render_template(*s, values), std::regex::ECMAScript);
          }
          std::regex compiled(sample, std::regex::ECMAScript);
          e.regex = std::move(*s);
        } catch (const std::regex_error& err) {
          r_.error(*rv, std::string("invalid regex: ") + err.what());
        }
      }
    }
  }
  m.read("max_latency", e.max_latency, kPositive);
  m.read("json", e.json);
  if (auto kv = m.get("required_keys")) {
    if (auto items = detail::read_list(r_, *kv)) {
      for (const auto& item : *items) {
        if (auto key = detail::read_string(r_, item)) {
          e.required_keys.push_back(std::move(*key));
        }
      }
      if (!e.json && !e.required_keys.empty()) {
        r_.error(*kv, "needs json: true");
      }
    }
  }
  for (auto [key, field] : {std::pair{"contains", &e.contains},
                            std::pair{"not_contains", &e.not_contains}}) {
    optional_string(m, key, *field);
    if (*field) {
      if (auto why = template_problem(**field, false)) {
        r_.error(*m.get(key), *why);
      }
    }
  }
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
      jm.read("min_score", j.min_score, 0.0, 10.0);
    }
    e.judge = std::move(j);
  }
  if (auto sv = m.get("similar_to")) {
    SimilarConfig s;
    MapReader sm(r_, *sv, {"text", "min_cosine", "model"});
    if (sm.ok()) {
      if (auto at = required_string(sm, "text", s.text)) {
        if (auto why = template_problem(s.text, false)) {
          r_.error(*at, *why);
        }
      }
      sm.read("min_cosine", s.min_cosine, -1.0, 1.0);
      if (auto at = required_string(sm, "model", s.model)) {
        refs_.push_back(Ref{Ref::Kind::model, s.model, *at});
      }
    }
    e.similar_to = std::move(s);
  }
}

}  // namespace llmgw::config::schema
