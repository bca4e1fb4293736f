#pragma once
// What a client asks the gateway to do; a route of an ingress face maps to one.
#include <string_view>

namespace llmgw::api {

enum class Operation { chat, completions, embeddings };
std::string_view to_string(Operation op);

}  // namespace llmgw::api
