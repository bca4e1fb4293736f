#pragma once
// Fitting a chat request to one target's context window (models[].context, docs/sessions.md).
// Before each attempt on a target with a context_window, the router counts the request with
// that target's tokenizer — exact for OpenAI models (o200k_base / cl100k_base), an estimate
// that errs on the large side for the others — and when messages + the reserved output do not
// fit, drops whole turns from the oldest (never a system message, never the last user turn,
// never a tool call apart from its result). The decisions are pure; counting is the only work.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llmgw/config/config.hpp"
#include "llmgw/tokenizer/library.hpp"

namespace llmgw::router {

/// How one target's tokens are counted.
struct TokenCounter {
  const tokenizer::BpeEncoding* encoding = nullptr;  // null: no tokenizer data, bytes / 4
  double factor = 1.0;  // applied to the encoding's count (estimates for non-OpenAI models)
  bool exact = false;
  std::string_view method;  // "o200k_base", "estimate_anthropic", ... (for messages)

  std::uint64_t count(std::string_view text) const;
  /// One chat message: the chat format's overhead (3), role, name, text, tool calls, images.
  std::uint64_t message(const nlohmann::json& m) const;
};

TokenCounter counter_for(const tokenizer::Library* library, config::ProviderKind kind,
                         std::string_view model);

/// A bound no count can exceed (every token is at least one byte; estimates scale it), so a
/// request well inside the window is never tokenized.
std::uint64_t upper_bound(const nlohmann::json& messages, const TokenCounter& counter);

struct MessageInfo {
  std::uint64_t tokens = 0;
  bool system = false;  // system / developer: always kept
  bool user = false;    // a user message starts a turn
};

struct FitDecision {
  bool fits = true;              // as it is, or after dropping `drop`
  std::vector<std::size_t> drop;  // message indices to drop, ascending
  std::uint64_t before = 0;      // message tokens before dropping (with the reply priming)
  std::uint64_t after = 0;
};

/// Drops whole turns (a user message and what follows it up to the next user message) from
/// the oldest until the messages take at most `budget` tokens. Kept always: system messages
/// and everything from the last user message on. `fits` is false when even that is too much.
FitDecision plan_fit(const std::vector<MessageInfo>& messages, std::uint64_t budget);

}  // namespace llmgw::router

#include <optional>
#include "llmgw/api/failure.hpp"

namespace llmgw::router {
struct CallRequest;
struct PlannedTarget;

/// What the fitting step decided for one attempt.
struct Fitted {
  std::optional<api::Failure> failure;  // does not fit this target: a context_length failure
  std::optional<nlohmann::json> body;   // the fitted copy to send instead of the request
  std::string_view action;              // for llmgw_context_fits_total; empty = nothing done
  std::uint64_t counted = 0;            // prompt tokens as counted; 0 = not counted
  std::size_t dropped = 0;              // messages dropped
  std::vector<std::size_t> drop;        // their indices in the request's messages
  bool summarize = false;               // context.overflow: summarize asks for a summary
};

/// Tokens kept free for the summary note that stands in for dropped turns.
inline constexpr std::uint64_t kSummaryTokens = 512;

/// The per-attempt step: counts for `p`'s tokenizer when the request might not fit its
/// context_window and applies the model's context.overflow.
Fitted fit_for_target(const CallRequest& req, const PlannedTarget& p);

}  // namespace llmgw::router
