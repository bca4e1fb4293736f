#include "router/select.hpp"

#include <nlohmann/json.hpp>

#include "llmgw/router/route_table.hpp"
#include "llmgw/router/token_count.hpp"

namespace llmgw::router {
namespace {

bool has_tools(const nlohmann::json& body) {
  auto it = body.find("tools");
  return it != body.end() && it->is_array() && !it->empty();
}

bool is_image_part(const nlohmann::json& part) {
  if (!part.is_object()) {
    return false;
  }
  auto type = part.find("type");
  return type != part.end() && type->is_string() &&
         (*type == "image_url" || *type == "image" || *type == "input_image");
}

bool has_images(const nlohmann::json& body) {
  auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array()) {
    return false;
  }
  for (const auto& m : *messages) {
    auto content = m.find("content");
    if (content == m.end() || !content->is_array()) {
      continue;
    }
    for (const auto& part : *content) {
      if (is_image_part(part)) {
        return true;
      }
    }
  }
  return false;
}

std::string_view header(HeaderList headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) {
      return v;
    }
  }
  return {};
}

// Counted lazily, once per request, by the rules that need it.
class PromptTokens {
public:
  PromptTokens(const RouteTable& table, const config::ModelConfig& model,
               const nlohmann::json& body)
      : table_(table), model_(model), body_(body) {}

  std::uint64_t get() {
    if (!counted_) {
      counted_ = true;
      value_ = count();
    }
    return value_;
  }

private:
  std::uint64_t count() const {
    return count_prompt(table_, table_.tokenizers(), model_, body_).tokens;
  }

  const RouteTable& table_;
  const config::ModelConfig& model_;
  const nlohmann::json& body_;
  bool counted_ = false;
  std::uint64_t value_ = 0;
};

bool matches(const config::SelectRule& rule, const nlohmann::json& body, HeaderList headers,
             PromptTokens& tokens) {
  if (rule.tools && *rule.tools != has_tools(body)) {
    return false;
  }
  if (rule.images && *rule.images != has_images(body)) {
    return false;
  }
  for (const auto& [name, want] : rule.headers) {
    auto have = header(headers, name);
    if (have.empty() || (want != "*" && have != want)) {
      return false;
    }
  }
  if (rule.max_prompt_tokens && tokens.get() > *rule.max_prompt_tokens) {
    return false;
  }
  if (rule.min_prompt_tokens && tokens.get() < *rule.min_prompt_tokens) {
    return false;
  }
  return true;
}

}  // namespace

const config::ModelConfig* select_model(const RouteTable& table, const config::ModelConfig& model,
                                        const nlohmann::json& body, HeaderList headers) {
  PromptTokens tokens(table, model, body);
  for (const auto& rule : model.select) {
    if (matches(rule, body, headers, tokens)) {
      return table.model(rule.use);
    }
  }
  return nullptr;
}

std::optional<RouteHint> parse_route_hint(std::string_view value) {
  if (value == "cheapest") {
    return RouteHint::cheapest;
  }
  if (value == "fastest") {
    return RouteHint::fastest;
  }
  return std::nullopt;
}

}  // namespace llmgw::router
