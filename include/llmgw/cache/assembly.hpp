#pragma once
// A streamed answer made complete for the cache: the canonical SSE events a stream delivered
// (OpenAI chunks) joined into the complete answer (chat.completion / text_completion) that a
// non-streaming request would have got. Only a whole stream becomes an answer: every choice
// finished and [DONE] seen.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "llmgw/api/operation.hpp"

namespace llmgw::cache {

struct TokenUsage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
};

/// The complete answer of the canonical stream `sse` ("data: {...}\n\n" events); its usage is
/// the stream's usage chunk, else `usage` (what the router counted: the client may not have
/// asked for the usage chunk). Nullopt for a stream that is incomplete or not understood.
std::optional<std::string> assemble_stream(api::Operation op, std::string_view sse,
                                           std::optional<TokenUsage> usage);

}  // namespace llmgw::cache
