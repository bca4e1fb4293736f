#pragma once
// Live-traffic semantic signals, the router's side: what a served answer tells its target's
// health (health.semantic.signals), and whether a complete answer is bad enough to try
// another target before the client sees it (on_bad_answer: retry_elsewhere). Only targets that
// watch answers pay for this: the others' answers are never looked at.
#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "llmgw/health/target_health.hpp"
#include "llmgw/providers/adapter.hpp"
#include "llmgw/router/route_table.hpp"
#include "router/plan.hpp"

namespace llmgw::metrics {
class Metrics;
}

namespace llmgw::router {

/// The first choice of a complete chat answer in the OpenAI shape.
struct WatchedAnswer {
  std::string text;
  std::string finish_reason;
  bool tool_call = false;
};
WatchedAnswer watch_body(std::string_view openai_body);

/// Whether the request's response_format asks for JSON (json_object or json_schema).
bool asks_for_json(const nlohmann::json& request);

/// Completion tokens per second of generation: the usage's count, else about 4 bytes a token
/// of the text; nullopt when either is zero.
std::optional<double> tokens_per_second(const providers::Usage& usage, std::size_t text_bytes,
                                        std::chrono::duration<double> generation);

/// Records the answer in its provider's health (when that watches answers) and counts its
/// signals in the metrics.
health::SignalSet watch(const ProviderRoute& provider, metrics::Metrics& metrics,
                        health::TimePoint now, const health::AnswerFacts& facts);

/// Whether answers of `target` to this operation are watched (and so worth reading): its
/// provider watches its answers, or it is a canary (judged by its answers).
bool watches(const PlannedTarget& target, providers::Operation op);

struct Watched {
  health::SignalSet shown;            // the signs of a bad answer it showed
  std::optional<health::Signal> hold;  // hold it back for this one (retry_elsewhere)
};

/// A complete (OpenAI-shaped) chat answer from `target`, watched.
Watched watch_complete(const PlannedTarget& target, metrics::Metrics& metrics,
                       std::string_view body, const nlohmann::json& request,
                       const providers::Usage& usage, health::TimePoint now,
                       std::chrono::duration<double> generation);

/// A finished stream from `target`, watched (text and finish reason as the tracker saw them).
health::SignalSet watch_stream(const PlannedTarget& target, metrics::Metrics& metrics,
                               std::string_view text, std::string_view finish_reason,
                               bool tool_call, const nlohmann::json& request,
                               const providers::Usage& usage, health::TimePoint now,
                               std::chrono::duration<double> generation);

/// The failure of an attempt whose answer is held back for `signal`.
api::Failure held_back(health::Signal signal);

/// The signal that makes a complete answer worth another target's try (empty, repetition,
/// invalid JSON, refusal, content filter), if any. A cut-off (length) or slow answer is not:
/// another target would be cut off by the same max_tokens, and the answer is already here.
/// `thresholds`: the provider's signals config, whose turned-off signals (1) do not count.
std::optional<health::Signal> retry_worthy(health::SignalSet shown,
                                           const config::LiveSignalsConfig* thresholds = nullptr);

}  // namespace llmgw::router
