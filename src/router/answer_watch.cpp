#include "router/answer_watch.hpp"

#include <nlohmann/json.hpp>

#include "llmgw/metrics/metrics.hpp"

namespace llmgw::router {
namespace {

constexpr double kMinRatedTokens = 16;
constexpr std::chrono::duration<double> kMinRatedTime{0.05};

}  // namespace

WatchedAnswer watch_body(std::string_view openai_body) {
  WatchedAnswer out;
  auto parsed = nlohmann::json::parse(openai_body, nullptr, false);
  if (!parsed.is_object()) {
    return out;
  }
  auto choices = parsed.find("choices");
  if (choices == parsed.end() || !choices->is_array() || choices->empty() ||
      !(*choices)[0].is_object()) {
    return out;
  }
  const auto& choice = (*choices)[0];
  if (auto fr = choice.find("finish_reason"); fr != choice.end() && fr->is_string()) {
    out.finish_reason = fr->get<std::string>();
  }
  auto message = choice.find("message");
  if (message == choice.end() || !message->is_object()) {
    return out;
  }
  if (auto content = message->find("content"); content != message->end() && content->is_string()) {
    out.text = content->get<std::string>();
  }
  if (auto calls = message->find("tool_calls");
      calls != message->end() && calls->is_array() && !calls->empty()) {
    out.tool_call = true;
  }
  if (message->contains("function_call")) {
    out.tool_call = true;
  }
  return out;
}

bool asks_for_json(const nlohmann::json& request) {
  if (!request.is_object()) {
    return false;
  }
  auto rf = request.find("response_format");
  if (rf == request.end() || !rf->is_object()) {
    return false;
  }
  auto type = rf->find("type");
  return type != rf->end() && type->is_string() &&
         (*type == "json_object" || *type == "json_schema");
}

std::optional<double> tokens_per_second(const providers::Usage& usage, std::size_t text_bytes,
                                        std::chrono::duration<double> generation) {
  const double tokens = usage.present && usage.completion_tokens > 0
                            ? static_cast<double>(usage.completion_tokens)
                            : static_cast<double>(text_bytes) / 4.0;
  // A short answer's rate says more about the clock and the first token than about the
  // target's speed.
  if (tokens < kMinRatedTokens || generation < kMinRatedTime) {
    return std::nullopt;
  }
  return tokens / generation.count();
}

health::SignalSet watch(const ProviderRoute& provider, metrics::Metrics& metrics,
                        health::TimePoint now, const health::AnswerFacts& facts) {
  const bool recorded = provider.health && provider.health->watches_answers();
  const auto shown =
      recorded ? provider.health->record_answer(now, facts) : health::inspect(facts);
  for (std::size_t i = 0; shown.any() && i < health::kSignalCount; ++i) {
    const auto signal = static_cast<health::Signal>(i);
    if (shown.has(signal)) {
      metrics.semantic_signal(provider.config->name, health::to_string(signal));
    }
  }
  return shown;
}

bool watches(const PlannedTarget& target, providers::Operation op) {
  const auto& health = target.provider->health;
  return op == providers::Operation::chat &&
         (target.canary != nullptr || (health && health->watches_answers()));
}

Watched watch_complete(const PlannedTarget& target, metrics::Metrics& metrics,
                       std::string_view body, const nlohmann::json& request,
                       const providers::Usage& usage, health::TimePoint now,
                       std::chrono::duration<double> generation) {
  const auto seen = watch_body(body);
  health::AnswerFacts facts{seen.text, seen.finish_reason, seen.tool_call, asks_for_json(request),
                            tokens_per_second(usage, seen.text.size(), generation)};
  Watched out;
  out.shown = watch(*target.provider, metrics, now, facts);
  const auto& semantic = target.provider->config->health.semantic;
  if (semantic && semantic->signals &&
      semantic->on_bad_answer == config::OnBadAnswer::retry_elsewhere) {
    out.hold = retry_worthy(out.shown, &*semantic->signals);
  }
  return out;
}

health::SignalSet watch_stream(const PlannedTarget& target, metrics::Metrics& metrics,
                               std::string_view text, std::string_view finish_reason,
                               bool tool_call, const nlohmann::json& request,
                               const providers::Usage& usage, health::TimePoint now,
                               std::chrono::duration<double> generation) {
  health::AnswerFacts facts{text, finish_reason, tool_call, asks_for_json(request),
                            tokens_per_second(usage, text.size(), generation)};
  return watch(*target.provider, metrics, now, facts);
}

api::Failure held_back(health::Signal signal) {
  api::Failure f;
  f.cls = api::FailureClass::bad_response;
  f.status = 200;
  f.message = "answer held back (" + std::string(health::to_string(signal)) +
              "; on_bad_answer: retry_elsewhere)";
  return f;
}

std::optional<health::Signal> retry_worthy(health::SignalSet shown,
                                           const config::LiveSignalsConfig* thresholds) {
  using health::Signal;
  for (auto s : {Signal::empty, Signal::repetition, Signal::invalid_json, Signal::refusal,
                 Signal::content_filter}) {
    if (!shown.has(s)) {
      continue;
    }
    // A signal turned off (threshold 1) is not a reason to ask again either.
    if (thresholds && health::threshold_of(*thresholds, s) >= 1) {
      continue;
    }
    return s;
  }
  return std::nullopt;
}

}  // namespace llmgw::router
