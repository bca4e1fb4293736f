#include "llmgw/api/operation.hpp"

namespace llmgw::api {

std::string_view to_string(Operation op) {
  switch (op) {
    case Operation::chat: return "chat";
    case Operation::completions: return "completions";
    case Operation::embeddings: return "embeddings";
  }
  return "unknown";
}

}  // namespace llmgw::api
