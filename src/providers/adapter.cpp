#include "llmgw/providers/adapter.hpp"

#include <nlohmann/json.hpp>

#include "providers/openai/openai_adapter.hpp"

namespace llmgw::providers {

std::string_view to_string(Operation op) {
  switch (op) {
    case Operation::chat: return "chat";
    case Operation::completions: return "completions";
    case Operation::embeddings: return "embeddings";
  }
  return "unknown";
}

std::shared_ptr<const ProviderAdapter> make_adapter(config::ProviderKind kind) {
  switch (kind) {
    case config::ProviderKind::openai:
    case config::ProviderKind::openai_compatible:
      return std::make_shared<OpenAiAdapter>(kind);
    default:
      return nullptr;  // azure, anthropic, gemini: the providers issue
  }
}

namespace {

// End of the JSON object starting at text[open] ('{'), string-aware; npos if unbalanced.
std::size_t object_end(std::string_view text, std::size_t open) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = open; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (--depth == 0) {
        return i + 1;
      }
    }
  }
  return std::string_view::npos;
}

}  // namespace

Usage scan_usage(std::string_view text) {
  Usage usage;
  // The usage object sits at the end of OpenAI bodies: search backwards.
  std::size_t pos = text.rfind("\"usage\"");
  while (pos != std::string_view::npos) {
    std::size_t i = pos + 7;
    while (i < text.size() && (text[i] == ' ' || text[i] == ':' || text[i] == '\n')) {
      ++i;
    }
    if (i < text.size() && text[i] == '{') {
      auto end = object_end(text, i);
      if (end != std::string_view::npos) {
        auto obj = nlohmann::json::parse(text.substr(i, end - i), nullptr, false);
        if (obj.is_object()) {
          auto get = [&](const char* k) -> std::uint64_t {
            auto it = obj.find(k);
            return it != obj.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
          };
          usage.prompt_tokens = get("prompt_tokens");
          usage.completion_tokens = get("completion_tokens");
          usage.present = true;
          return usage;
        }
      }
    }
    if (pos == 0) {
      break;
    }
    pos = text.rfind("\"usage\"", pos - 1);
  }
  return usage;
}

}  // namespace llmgw::providers
