#pragma once
// Which tiktoken encoding an OpenAI model name uses (data/tokenizers/model_to_encoding.json).
// A dated or suffixed name ("gpt-4o-2025-01-31", "gpt-4.1-mini-fast") takes the encoding of its
// longest listed prefix that ends at a '-', as tiktoken's prefix table does; anything else
// (other providers' models) has no exact encoding and is estimated by the caller.
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace llmgw::tokenizer {

class ModelEncodings {
public:
  /// Loads the map; throws std::runtime_error naming the file when it is unreadable.
  static ModelEncodings load(const std::string& path);
  /// "o200k_base", "cl100k_base", ... or nullopt.
  std::optional<std::string> encoding_for(std::string_view model) const;
  std::size_t size() const { return by_model_.size(); }

private:
  std::map<std::string, std::string, std::less<>> by_model_;
};

}  // namespace llmgw::tokenizer
