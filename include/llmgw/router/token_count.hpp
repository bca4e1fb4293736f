#pragma once
// Counting a request's prompt tokens the way the model's first target counts them: with its
// tokenizer, exact for OpenAI models (o200k_base / cl100k_base), an estimate that errs on the
// large side for the others (src/router/context_fit.hpp). For the select rules' max_tokens
// test and POST /v1/messages/count_tokens.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "llmgw/config/config.hpp"

namespace llmgw::tokenizer {
class Library;
}

namespace llmgw::router {

class RouteTable;

struct PromptCount {
  std::uint64_t tokens = 0;
  bool exact = false;
  std::string_view method;  // "o200k_base", "estimate_anthropic", "bytes", ...
};

/// The canonical chat request `body`'s messages (each with the chat format's overhead), its
/// tools' definitions and the reply's priming. `library` null: 4 bytes a token.
PromptCount count_prompt(const RouteTable& table, const tokenizer::Library* library,
                         const config::ModelConfig& model, const nlohmann::json& body);

}  // namespace llmgw::router
