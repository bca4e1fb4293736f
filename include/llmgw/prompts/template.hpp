#pragma once
// Managed prompt templates (config prompts[].template): the text with {{name}} placeholders,
// parsed once and rendered with a request's variables. Pure functions with no config or I/O, so
// the config loader checks a template with the same parser the request path renders with.
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "llmgw/common/result.hpp"

namespace llmgw::prompts {

/// A parsed template: literal text and placeholders, in order.
struct Template {
  struct Piece {
    std::string text;       // the literal text, or the placeholder's variable name
    bool variable = false;
  };
  std::vector<Piece> pieces;

  /// Each variable the template uses, once, in order of first use.
  std::vector<std::string> variables() const;
};

/// [A-Za-z_][A-Za-z0-9_]*
bool valid_variable_name(std::string_view name);

/// Parses `text`: `{{name}}` (whitespace inside the braces allowed) is a placeholder, anything
/// else is literal. The error says what is wrong and at which character (1-based): an unclosed
/// `{{` or a placeholder whose name is not a variable name.
common::Result<Template, std::string> parse(std::string_view text);

struct RenderError {
  enum class Kind {
    missing,     // the variable is not in `variables`
    not_scalar,  // an object, an array or null: no text to put in
  };
  Kind kind = Kind::missing;
  std::string variable;
};

/// The template with every placeholder replaced by its variable's value from `variables` (a
/// JSON object; anything else counts as empty): a string as it is, a number or a boolean as its
/// JSON text. Variables the template does not use are ignored. The first variable in template
/// order that cannot be rendered is the error.
common::Result<std::string, RenderError> render(const Template& t,
                                                const nlohmann::json& variables);

}  // namespace llmgw::prompts
