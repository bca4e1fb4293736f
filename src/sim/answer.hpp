#pragma once
// The format-agnostic answer engine: given a conversation (already parsed out of whichever wire
// format the request used) it decides what the simulated model "says". Renderers turn an Answer
// into OpenAI (or later Anthropic/Gemini) bytes, so every face answers identically.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wire.hpp"

namespace llmgw::sim {

struct Message {
  std::string role;
  std::optional<std::string> text;  // nullopt: content was null (assistant turn with tool calls)
  bool content_was_string = true;   // false: parts were flattened; !history reports the text
  nlohmann::ordered_json extras;    // tool_calls / tool_call_id, echoed by !history
};

struct Conversation {
  std::vector<Message> messages;
  bool has_tools = false;
  bool json_mode = false;       // the request asked for a JSON object (response_format, MIME type)
  std::int64_t max_tokens = 0;  // <= 0: unlimited
  std::int64_t tokens_per_message = 3;
};

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;
};

enum class FinishReason { stop, length, tool_calls };

struct Answer {
  // Content pieces split at word boundaries (spaces kept), so their concatenation is the
  // non-streamed content; one piece is one "token" for usage purposes.
  std::vector<std::string> chunks;
  std::optional<ToolCall> tool_call;
  // The tool call's arguments streamed as two fragments (what real streams look like).
  std::vector<std::string> argument_fragments;
  FinishReason finish = FinishReason::stop;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;

  std::string content() const;
};

struct AnswerOptions {
  std::string_view name;
  Wrong wrong = Wrong::none;
};

Answer make_answer(const Conversation& conversation, const AnswerOptions& options);

std::string_view finish_reason_name(FinishReason reason);
std::size_t count_words(std::string_view text);
std::vector<std::string> split_words(std::string_view text);
/// "What is 17 + 25?" (extra words after tolerated) → 42; nullopt when not such a question.
std::optional<std::int64_t> eval_arithmetic(std::string_view text);
/// Stable 64-bit FNV-1a, used wherever "deterministic from the input" is needed.
std::uint64_t stable_hash(std::string_view data, std::uint64_t seed = 0);

/// Unit-length vector from the words of `input` (lowercase runs of letters and digits): texts
/// sharing most words have a cosine near 1, texts sharing none near 0, and every face embeds
/// the same text to the same vector; `garbage` negates it. `vector.size()` is the dimension.
void embed_text(std::string_view input, bool garbage, std::vector<float>& vector);
/// Dimensions when the request names none. Unrelated texts get near-random directions, whose
/// cosine spreads as 1/sqrt(d): in 8 dimensions four pairs in ten are past ±0.3, in 256 (real
/// models use 768-3072) none is in practice (4.8 standard deviations).
inline constexpr std::int64_t kDefaultEmbeddingDimensions = 256;
/// A tool call's arguments as the JSON object Anthropic `input` / Gemini `args` need; anything
/// that is not a JSON object becomes `{}`.
nlohmann::ordered_json arguments_object(std::string_view arguments);
/// The text of the last user message (the one the answer responds to), empty when none.
std::string_view last_user_text(const Conversation& conversation);
/// Random [0-9A-Za-z] characters, for provider-style ids (msg_01…, toolu_01…).
std::string random_base62(std::size_t chars);

}  // namespace llmgw::sim
