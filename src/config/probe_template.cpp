#include "llmgw/config/probe_template.hpp"

#include <algorithm>
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

// The next "{{name}}" at or after `from`: where it opens and ends (past its "}}") and its name
// without spaces. nullopt when there is none; `end` == npos for an opening that never closes.
struct Placeholder {
  std::size_t open;
  std::size_t end;
  std::string name;
};
std::optional<Placeholder> next_placeholder(std::string_view text, std::size_t from) {
  auto open = text.find("{{", from);
  if (open == std::string_view::npos) {
    return std::nullopt;
  }
  auto close = text.find("}}", open + 2);
  if (close == std::string_view::npos) {
    return Placeholder{open, std::string_view::npos, {}};
  }
  std::string name;
  for (char c : text.substr(open + 2, close - open - 2)) {
    if (c != ' ') {
      name += c;
    }
  }
  return Placeholder{open, close + 2, std::move(name)};
}

}  // namespace

bool is_templated(std::string_view text) { return text.find("{{") != std::string_view::npos; }

std::optional<std::string> template_problem(std::string_view text, bool in_prompt) {
  for (auto p = next_placeholder(text, 0); p; p = next_placeholder(text, p->end)) {
    if (p->end == std::string_view::npos) {
      return "'{{' without its closing '}}'";
    }
    const bool known = std::find(kNames.begin(), kNames.end(), p->name) != kNames.end();
    if (!known || (in_prompt && p->name != "a" && p->name != "b")) {
      return "unknown template value '{{" + p->name + "}}' (expected " +
             (in_prompt ? std::string("{{a}} or {{b}} in a prompt")
                        : std::string("{{a}}, {{b}}, {{a+b}}, {{a-b}} or {{a*b}}")) +
             ")";
    }
  }
  return std::nullopt;
}

std::string render_template(std::string_view text, const TemplateValues& v) {
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  for (auto p = next_placeholder(text, 0); p && p->end != std::string_view::npos;
       p = next_placeholder(text, p->end)) {
    out.append(text.substr(at, p->open - at));
    if (auto value = value_of(p->name, v)) {
      out += std::to_string(*value);
    } else {
      out.append(text.substr(p->open, p->end - p->open));  // the loader refuses these
    }
    at = p->end;
  }
  out.append(text.substr(at));
  return out;
}

bool is_templated(const ProbeConfig& p) {
  const auto& e = p.expect;
  auto opt = [](const std::optional<std::string>& s) { return s && is_templated(*s); };
  return is_templated(p.prompt) || is_templated(p.system) || opt(e.regex) || opt(e.contains) ||
         opt(e.not_contains) || (e.similar_to && is_templated(e.similar_to->text));
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
  if (out.expect.similar_to) {
    out.expect.similar_to->text = render_template(probe.expect.similar_to->text, v);
  }
  return out;
}

}  // namespace llmgw::config
