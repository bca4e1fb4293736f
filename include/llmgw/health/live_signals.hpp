#pragma once
// Live-traffic semantic signals (SPEC health.semantic.signals): signs of a bad answer in the
// answers a target actually serves — empty, runaway repetition, invalid JSON under a JSON
// response_format, finish_reason length or content_filter, refusals, tokens far slower than
// the target's own baseline — counted over a sliding window. A share over its threshold
// marks the target (TargetHealth: degraded or ejected, as configured). Pure: no clock of its
// own, no lock (TargetHealth holds its lock), no I/O.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "llmgw/config/config.hpp"
#include "llmgw/resilience/sliding_window.hpp"

namespace llmgw::health {

enum class Signal : std::uint8_t {
  empty,
  repetition,
  invalid_json,
  finish_length,
  content_filter,
  refusal,
  slow_tokens,
};
inline constexpr std::size_t kSignalCount = 7;
std::string_view to_string(Signal s);

/// A set of signals, one bit per Signal.
struct SignalSet {
  std::uint8_t bits = 0;
  void add(Signal s) { bits = static_cast<std::uint8_t>(bits | (1u << static_cast<unsigned>(s))); }
  bool has(Signal s) const { return (bits & (1u << static_cast<unsigned>(s))) != 0; }
  bool any() const { return bits != 0; }
};

/// What the router knows of one served answer.
struct AnswerFacts {
  std::string_view text;           // the answer's text (the first choice's content)
  std::string_view finish_reason;  // OpenAI's vocabulary ("stop", "length", ...); may be empty
  bool tool_call = false;          // the answer calls a tool (then no text is not "empty")
  bool json_requested = false;     // response_format asked for JSON
  std::optional<double> tokens_per_second;  // completion tokens over the generation time
};

/// The configured threshold of `s` (a share 0..1; 1 = off).
double threshold_of(const config::LiveSignalsConfig& config, Signal s);

/// The signs of a bad answer in `facts` alone (not slow_tokens: that needs the baseline).
SignalSet inspect(const AnswerFacts& facts);

/// The share (0..1) of the word 4-grams of `text` that repeat an earlier one: near 0 for
/// prose, near 1 for a loop. Texts of fewer than 20 words are 0. Reads at most 4,000 words.
double repeated_ngram_share(std::string_view text);
/// Whether `text` opens with a refusal ("I'm sorry, but I can't…", "I cannot help…").
bool looks_like_refusal(std::string_view text);
/// Whether `text` is a signal-worthy loop (repeated_ngram_share above one half).
bool runaway_repetition(std::string_view text);

/// One signal over its threshold, or user feedback below its own.
struct Breach {
  Signal signal = Signal::empty;
  double share = 0;
  double threshold = 0;
  bool feedback = false;  // then `share` is the mean score and `threshold` feedback_below
  std::uint64_t ratings = 0;
  // "42% of recent answers empty (threshold 20%)", "mean feedback -0.60 over 5 ratings
  // (below -0.20)"
  std::string describe() const;
};

/// A target's window of answers and their signals.
class LiveSignals {
public:
  explicit LiveSignals(const config::LiveSignalsConfig& config);

  /// Records one answer; returns the signals it showed (slow_tokens included).
  SignalSet record(resilience::TimePoint now, const AnswerFacts& facts);
  /// One user rating (-1..1) of an answer this target served.
  void record_feedback(resilience::TimePoint now, double score);
  /// Ratings in the window and their mean (0 when none).
  std::pair<std::uint64_t, double> feedback(resilience::TimePoint now) const;
  /// The first signal over its threshold, when the window holds at least min_answers; else
  /// the feedback, when it holds at least min_feedback ratings and their mean is too low.
  std::optional<Breach> breach(resilience::TimePoint now) const;
  /// Each signal's share of the answers in the window (0 when there are none).
  std::array<double, kSignalCount> shares(resilience::TimePoint now) const;
  std::uint64_t answers(resilience::TimePoint now) const;
  /// The tokens-per-second baseline (0 until min_answers answers had a rate).
  double baseline_tokens_per_second() const { return baseline_ready() ? baseline_ : 0; }
  config::LiveSignalsConfig::Action action() const { return config_.action; }

private:
  static constexpr unsigned kBuckets = 10;
  struct Bucket {
    std::int64_t epoch = -1;
    std::uint64_t answers = 0;
    std::array<std::uint64_t, kSignalCount> counts{};
    std::uint64_t ratings = 0;
    double score_sum = 0;
  };
  bool live(const Bucket& b, std::int64_t epoch) const {
    return b.epoch >= 0 && epoch - b.epoch < static_cast<std::int64_t>(kBuckets);
  }
  bool baseline_ready() const { return rated_ >= config_.min_answers; }
  Bucket& bucket_at(resilience::TimePoint now);
  std::int64_t epoch_of(resilience::TimePoint now) const;

  config::LiveSignalsConfig config_;
  std::chrono::nanoseconds width_;
  std::array<Bucket, kBuckets> buckets_{};
  double baseline_ = 0;     // EWMA of tokens per second
  std::uint64_t rated_ = 0;  // answers that had a rate
};

}  // namespace llmgw::health
