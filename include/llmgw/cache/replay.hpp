#pragma once
// A cached answer replayed as a stream: the canonical SSE events (OpenAI chat.completion.chunk
// or text_completion chunks, then [DONE]) of a stored complete answer. The face's sink renders
// them in the client's own format (the OpenAI face passes them on, the Anthropic face turns
// them into message events), exactly as it renders a provider's stream.
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "llmgw/api/operation.hpp"

namespace llmgw::cache {

/// The stream of `answer` (a chat.completion for chat, a text_completion for completions):
/// per choice a role chunk, its content, its tool calls and its finish reason; the usage
/// chunk (empty choices) when `include_usage` and the answer has usage; then [DONE]. Nullopt
/// when `answer` has no choices to replay.
std::optional<std::string> replay_stream(api::Operation op, const nlohmann::json& answer,
                                         bool include_usage);

}  // namespace llmgw::cache
