#include "llmgw/health/live_signals.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <unordered_set>
#include <vector>


namespace llmgw::health {
namespace {

constexpr std::size_t kMinWords = 20;
constexpr std::size_t kMaxWords = 4000;
constexpr std::size_t kGram = 4;
constexpr double kLoopShare = 0.5;
// The baseline moves slowly, and a hundred times slower for answers judged slow: a target
// that turns 5× slower stays flagged for about 1,400 answers before the baseline has come
// down to it, while a lasting change of model or hardware is accepted in the end.
constexpr double kBaselineAlpha = 0.02;
constexpr double kSlowBaselineAlpha = 0.0002;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         static_cast<unsigned char>(c) >= 0x80 || c == '\'';
}

std::string percent(double share) {
  return std::to_string(static_cast<long long>(std::lround(share * 100))) + "%";
}

bool blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; });
}

}  // namespace

std::string_view to_string(Signal s) {
  switch (s) {
    case Signal::empty: return "empty";
    case Signal::repetition: return "repetition";
    case Signal::invalid_json: return "invalid_json";
    case Signal::finish_length: return "finish_length";
    case Signal::content_filter: return "content_filter";
    case Signal::refusal: return "refusal";
    case Signal::slow_tokens: return "slow_tokens";
  }
  return "unknown";
}

double repeated_ngram_share(std::string_view text) {
  // Word hashes (FNV-1a of the lowercased word), then the share of 4-grams seen before.
  std::vector<std::uint64_t> words;
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  bool in_word = false;
  for (char c : text) {
    if (word_char(c)) {
      hash = (hash ^ static_cast<unsigned char>(lower(c))) * 0x100000001b3ULL;
      in_word = true;
      continue;
    }
    if (in_word) {
      words.push_back(hash);
      hash = 0xcbf29ce484222325ULL;
      in_word = false;
      if (words.size() == kMaxWords) {
        break;
      }
    }
  }
  if (in_word && words.size() < kMaxWords) {
    words.push_back(hash);
  }
  if (words.size() < kMinWords) {
    return 0;
  }
  std::unordered_set<std::uint64_t> seen;
  seen.reserve(words.size());
  std::size_t repeats = 0;
  const std::size_t grams = words.size() - kGram + 1;
  for (std::size_t i = 0; i < grams; ++i) {
    std::uint64_t g = 0;
    for (std::size_t k = 0; k < kGram; ++k) {
      g = (g ^ words[i + k]) * 0x9e3779b97f4a7c15ULL + k;
    }
    if (!seen.insert(g).second) {
      ++repeats;
    }
  }
  return static_cast<double>(repeats) / static_cast<double>(grams);
}

bool runaway_repetition(std::string_view text) { return repeated_ngram_share(text) > kLoopShare; }

bool looks_like_refusal(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '"')) {
    text.remove_prefix(1);
  }
  // Refusals open the answer; a phrase deep inside an answer is usually quoting or hedging.
  text = text.substr(0, std::min<std::size_t>(text.size(), 80));
  // Refusal phrases, not apologies: "I'm sorry to hear that! Here is how…" is an answer.
  static constexpr std::string_view kOpenings[] = {
      "i'm sorry, but",   "i am sorry, but",   "i’m sorry, but",     "sorry, but i can",
      "i can't help",     "i cannot help",     "i can’t help",       "i can't assist",
      "i cannot assist",  "i can’t assist",    "i can't provide",    "i cannot provide",
      "i can't do that",  "i cannot do that",  "i'm unable to",      "i am unable to",
      "i’m unable to",    "i won't be able",   "i will not be able", "as an ai language model",
      "i'm not able to",  "i am not able to"};
  std::string head(text.size(), ' ');
  std::transform(text.begin(), text.end(), head.begin(), lower);
  return std::any_of(std::begin(kOpenings), std::end(kOpenings),
                     [&](std::string_view o) { return head.starts_with(o); });
}

SignalSet inspect(const AnswerFacts& facts) {
  SignalSet out;
  const bool no_text = blank(facts.text);
  if (no_text && !facts.tool_call) {
    out.add(Signal::empty);
  }
  if (!no_text) {
    if (runaway_repetition(facts.text)) {
      out.add(Signal::repetition);
    }
    if (facts.json_requested && !nlohmann::json::accept(facts.text)) {
      out.add(Signal::invalid_json);
    }
    if (looks_like_refusal(facts.text)) {
      out.add(Signal::refusal);
    }
  }
  if (facts.finish_reason == "length") {
    out.add(Signal::finish_length);
  } else if (facts.finish_reason == "content_filter") {
    out.add(Signal::content_filter);
  }
  return out;
}

std::string Breach::describe() const {
  if (feedback) {
    char text[96];
    std::snprintf(text, sizeof text, "mean feedback %.2f over %llu ratings (below %.2f)", share,
                  static_cast<unsigned long long>(ratings), threshold);
    return text;
  }
  return percent(share) + " of recent answers " + std::string(to_string(signal)) +
         " (threshold " + percent(threshold) + ")";
}

LiveSignals::LiveSignals(const config::LiveSignalsConfig& config)
    : config_(config),
      width_(std::max<std::chrono::nanoseconds>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(config.window) / kBuckets,
          std::chrono::nanoseconds(1))) {}

std::int64_t LiveSignals::epoch_of(resilience::TimePoint now) const {
  return now.time_since_epoch() / width_;
}

LiveSignals::Bucket& LiveSignals::bucket_at(resilience::TimePoint now) {
  const auto epoch = epoch_of(now);
  auto& b = buckets_[static_cast<std::size_t>(epoch % kBuckets)];
  if (b.epoch != epoch) {
    b = Bucket{};
    b.epoch = epoch;
  }
  return b;
}

double threshold_of(const config::LiveSignalsConfig& c, Signal s) {
  switch (s) {
    case Signal::empty: return c.empty;
    case Signal::repetition: return c.repetition;
    case Signal::invalid_json: return c.invalid_json;
    case Signal::finish_length: return c.finish_length;
    case Signal::content_filter: return c.content_filter;
    case Signal::refusal: return c.refusal;
    case Signal::slow_tokens: return c.slow_tokens;
  }
  return 1;
}

SignalSet LiveSignals::record(resilience::TimePoint now, const AnswerFacts& facts) {
  auto signals = inspect(facts);
  if (facts.tokens_per_second && *facts.tokens_per_second > 0 &&
      std::isfinite(*facts.tokens_per_second)) {
    const double rate = *facts.tokens_per_second;
    const bool slow = baseline_ready() && rate < config_.slow_below * baseline_;
    if (slow) {
      signals.add(Signal::slow_tokens);
    }
    const double alpha = slow ? kSlowBaselineAlpha : kBaselineAlpha;
    baseline_ = rated_ == 0 ? rate : baseline_ + alpha * (rate - baseline_);
    ++rated_;
  }
  auto& b = bucket_at(now);
  ++b.answers;
  for (std::size_t i = 0; i < kSignalCount; ++i) {
    if (signals.has(static_cast<Signal>(i))) {
      ++b.counts[i];
    }
  }
  return signals;
}

std::uint64_t LiveSignals::answers(resilience::TimePoint now) const {
  const auto epoch = epoch_of(now);
  std::uint64_t n = 0;
  for (const auto& b : buckets_) {
    if (live(b, epoch)) {
      n += b.answers;
    }
  }
  return n;
}

void LiveSignals::record_feedback(resilience::TimePoint now, double score) {
  auto& b = bucket_at(now);
  ++b.ratings;
  b.score_sum += std::clamp(score, -1.0, 1.0);
}

std::pair<std::uint64_t, double> LiveSignals::feedback(resilience::TimePoint now) const {
  const auto epoch = epoch_of(now);
  std::uint64_t n = 0;
  double sum = 0;
  for (const auto& b : buckets_) {
    if (live(b, epoch)) {
      n += b.ratings;
      sum += b.score_sum;
    }
  }
  return {n, n == 0 ? 0.0 : sum / static_cast<double>(n)};
}

std::array<double, kSignalCount> LiveSignals::shares(resilience::TimePoint now) const {
  const auto epoch = epoch_of(now);
  std::uint64_t n = 0;
  std::array<std::uint64_t, kSignalCount> counts{};
  for (const auto& b : buckets_) {
    if (!live(b, epoch)) {
      continue;
    }
    n += b.answers;
    for (std::size_t i = 0; i < kSignalCount; ++i) {
      counts[i] += b.counts[i];
    }
  }
  std::array<double, kSignalCount> out{};
  if (n == 0) {
    return out;
  }
  for (std::size_t i = 0; i < kSignalCount; ++i) {
    out[i] = static_cast<double>(counts[i]) / static_cast<double>(n);
  }
  return out;
}

std::optional<Breach> LiveSignals::breach(resilience::TimePoint now) const {
  if (answers(now) >= config_.min_answers) {
    const auto s = shares(now);
    for (std::size_t i = 0; i < kSignalCount; ++i) {
      const auto signal = static_cast<Signal>(i);
      if (s[i] > threshold_of(config_, signal)) {
        return Breach{signal, s[i], threshold_of(config_, signal), false, 0};
      }
    }
  }
  const auto [ratings, mean] = feedback(now);
  if (ratings >= config_.min_feedback && mean < config_.feedback_below) {
    return Breach{Signal::empty, mean, config_.feedback_below, true, ratings};
  }
  return std::nullopt;
}

}  // namespace llmgw::health
