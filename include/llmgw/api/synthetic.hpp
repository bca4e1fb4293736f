#pragma once
// Answers the gateway writes itself, in the OpenAI format: the `degrade` last resort
// (SPEC §4: a normal completion marked x-llmgw-degraded: true).
#include <string>
#include <string_view>

namespace llmgw::api {

/// A complete chat.completion body with `content` as the assistant message.
std::string synthetic_chat_completion(std::string_view model, std::string_view content);
/// The same answer as an OpenAI SSE stream (role chunk, content chunk, finish chunk, [DONE]).
std::string synthetic_chat_stream(std::string_view model, std::string_view content);
/// Legacy text_completion body.
std::string synthetic_text_completion(std::string_view model, std::string_view content);

}  // namespace llmgw::api
