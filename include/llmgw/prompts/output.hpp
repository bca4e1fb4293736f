#pragma once
// The shape of a managed prompt call's answer (POST /v1/prompts/{name}), chosen from the
// call's body and its Accept header; light enough for the pipeline's request context.
#include <string_view>

namespace llmgw::prompts {

/// The path prefix of a prompt call; the rest of the path is the prompt's name.
inline constexpr std::string_view kPathPrefix = "/v1/prompts/";

/// How a prompt call's answer is shaped.
enum class Output {
  chat,    // the OpenAI chat.completion (or its SSE chunks), as a chat call gives it
  text,    // Accept: text/plain: the answer's text alone
  object,  // "output": "plain" or Accept: application/vnd.llmgw.output+json: {"output": ...}
};

/// The shape an Accept header asks for: the known media range with the highest q (the first
/// of equals). Absent, `*/*`, `application/json` and anything unknown: chat.
Output output_for_accept(std::string_view accept);

}  // namespace llmgw::prompts
