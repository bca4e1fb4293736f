#include "llmgw/config/probe_template.hpp"

#include <array>

namespace llmgw::config {
namespace {

constexpr std::array<std::string_view, 5> kNames = {"a", "b", "a+b", "a-b", "a*b"};

std::optional<std::int64_t> value_of(std::string_view name, const TemplateValues& v) {
  if (name == "a") return v.a;
  if (name == "b") return v.b;
  if (name == "a+b") return v.a + v.b;
  if (name == "a-b") return v.a - v.b;
  if (name == "a*b") return v.a * v.b;
  return std::nullopt;
}

// Calls f(name) for each "{{name}}" in text (spaces inside the braces ignored), and
// f(nullopt) for an opening "{{" that never closes.
template <class F>
void each_placeholder(std::string_view text, F&& f) {
  std::size_t at = 0;
  while ((at = text.find("{{", at)) != std::string_view::npos) {
    auto end = text.find("}}", at + 2);
    if (end == std::string_view::npos) {
      f(std::optional<std::string>());
      return;
    }
    std::string name;
    for (char c : text.substr(at + 2, end - at - 2)) {
      if (c != ' ') {
        name += c;
      }
    }
    f(std::optional<std::string>(std::move(name)));
    at = end + 2;
  }
}

}  // namespace

bool is_templated(std::string_view text) { return text.find("{{") != std::string_view::npos; }

std::optional<std::string> template_problem(std::string_view text, bool in_prompt) {
  std::optional<std::string> problem;
  each_placeholder(text, [&](const std::optional<std::string>& name) {
    if (problem) {
      return;
    }
    if (!name) {
      problem = "'{{' without its closing '}}'";
      return;
    }
    bool known = false;
    for (auto n : kNames) {
      known = known || n == *name;
    }
    if (!known || (in_prompt && *name != "a" && *name != "b")) {
      problem = "unknown template value '{{" + *name + "}}' (expected " +
                (in_prompt ? std::string("{{a}} or {{b}} in a prompt")
                           : std::string("{{a}}, {{b}}, {{a+b}}, {{a-b}} or {{a*b}}")) +
                ")";
    }
  });
  return problem;
}

std::string render_template(std::string_view text, const TemplateValues& v) {
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  while (at < text.size()) {
    auto open = text.find("{{", at);
    auto close = open == std::string_view::npos ? open : text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      out.append(text.substr(at));
      break;
    }
    out.append(text.substr(at, open - at));
    std::string name;
    for (char c : text.substr(open + 2, close - open - 2)) {
      if (c != ' ') {
        name += c;
      }
    }
    if (auto value = value_of(name, v)) {
      out += std::to_string(*value);
    } else {
      out.append(text.substr(open, close + 2 - open));  // the loader refuses these; kept as is
    }
    at = close + 2;
  }
  return out;
}

bool is_templated(const ProbeConfig& p) {
  const auto& e = p.expect;
  auto opt = [](const std::optional<std::string>& s) { return s && is_templated(*s); };
  return is_templated(p.prompt) || is_templated(p.system) || opt(e.regex) || opt(e.contains) ||
         opt(e.not_contains);
}

ProbeConfig instantiate(const ProbeConfig& probe, const TemplateValues& v) {
  ProbeConfig out = probe;
  out.prompt = render_template(probe.prompt, v);
  out.system = render_template(probe.system, v);
  for (auto* s : {&out.expect.regex, &out.expect.contains, &out.expect.not_contains}) {
    if (*s) {
      **s = render_template(**s, v);
    }
  }
  return out;
}

}  // namespace llmgw::config
