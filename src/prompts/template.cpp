// Parsing and rendering of managed prompt templates ({{name}} placeholders).
#include "llmgw/prompts/template.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace llmgw::prompts {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// The 1-based character (not byte) a position is at: what an editor's column shows for text
// that is not ASCII.
std::size_t character_at(std::string_view text, std::size_t byte) {
  std::size_t n = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++n;
    }
  }
  return n;
}

void add_literal(Template& t, std::string_view text) {
  if (text.empty()) {
    return;
  }
  if (!t.pieces.empty() && !t.pieces.back().variable) {
    t.pieces.back().text.append(text);
    return;
  }
  t.pieces.push_back(Template::Piece{std::string(text), false});
}

}  // namespace

std::vector<std::string> Template::variables() const {
  std::vector<std::string> out;
  for (const auto& p : pieces) {
    if (p.variable && std::find(out.begin(), out.end(), p.text) == out.end()) {
      out.push_back(p.text);
    }
  }
  return out;
}

bool valid_variable_name(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(name.front())) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

common::Result<Template, std::string> parse(std::string_view text) {
  Template t;
  std::size_t at = 0;
  while (at < text.size()) {
    auto open = text.find("{{", at);
    if (open == std::string_view::npos) {
      add_literal(t, text.substr(at));
      break;
    }
    add_literal(t, text.substr(at, open - at));
    auto close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return common::err("unclosed '{{' at character " +
                         std::to_string(character_at(text, open)) + " (expected {{name}})");
    }
    auto name = trim_spaces(text.substr(open + 2, close - open - 2));
    if (!valid_variable_name(name)) {
      auto placeholder = text.substr(open, close + 2 - open);
      return common::err("invalid placeholder '" + std::string(placeholder) + "' at character " +
                         std::to_string(character_at(text, open)) +
                         " (a variable name is letters, digits and '_', not starting with a "
                         "digit)");
    }
    t.pieces.push_back(Template::Piece{std::string(name), true});
    at = close + 2;
  }
  return t;
}

common::Result<std::string, RenderError> render(const Template& t,
                                                const nlohmann::json& variables) {
  std::string out;
  for (const auto& p : t.pieces) {
    if (!p.variable) {
      out += p.text;
      continue;
    }
    const nlohmann::json* value = nullptr;
    if (variables.is_object()) {
      if (auto it = variables.find(p.text); it != variables.end()) {
        value = &*it;
      }
    }
    if (!value) {
      return common::err(RenderError{RenderError::Kind::missing, p.text});
    }
    if (value->is_string()) {
      out += value->get_ref<const std::string&>();
    } else if (value->is_number() || value->is_boolean()) {
      out += value->dump();
    } else {
      return common::err(RenderError{RenderError::Kind::not_scalar, p.text});
    }
  }
  return out;
}

}  // namespace llmgw::prompts
