#include "llmgw/tokenizer/models.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace llmgw::tokenizer {

ModelEncodings ModelEncodings::load(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto j = nlohmann::json::parse(buffer.str(), nullptr, false);
  if (!in || !j.is_object()) {
    throw std::runtime_error(path + ": not a model-to-encoding map");
  }
  ModelEncodings out;
  for (const auto& [model, encoding] : j.items()) {
    if (encoding.is_string()) {
      out.by_model_.emplace(model, encoding.get<std::string>());
    }
  }
  return out;
}

std::optional<std::string> ModelEncodings::encoding_for(std::string_view model) const {
  if (auto it = by_model_.find(model); it != by_model_.end()) {
    return it->second;
  }
  // The longest listed name that is a prefix of `model` up to a '-'.
  for (auto end = model.rfind('-'); end != std::string_view::npos && end > 0;
       end = model.rfind('-', end - 1)) {
    if (auto it = by_model_.find(model.substr(0, end)); it != by_model_.end()) {
      return it->second;
    }
  }
  return std::nullopt;
}

}  // namespace llmgw::tokenizer
