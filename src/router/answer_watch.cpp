#include "router/answer_watch.hpp"

#include <nlohmann/json.hpp>

#include "llmgw/metrics/metrics.hpp"

namespace llmgw::router {

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
  if (tokens <= 0 || generation.count() <= 0) {
    return std::nullopt;
  }
  return tokens / generation.count();
}

health::SignalSet watch(health::TargetHealth& health, metrics::Metrics& metrics,
                        std::string_view provider, health::TimePoint now,
                        const health::AnswerFacts& facts) {
  const auto shown = health.record_answer(now, facts);
  for (std::size_t i = 0; shown.any() && i < health::kSignalCount; ++i) {
    const auto signal = static_cast<health::Signal>(i);
    if (shown.has(signal)) {
      metrics.semantic_signal(provider, health::to_string(signal));
    }
  }
  return shown;
}

bool watches(const ProviderRoute& provider, providers::Operation op) {
  return op == providers::Operation::chat && provider.health && provider.health->watches_answers();
}

std::optional<health::Signal> watch_complete(const ProviderRoute& provider,
                                             metrics::Metrics& metrics, std::string_view body,
                                             const nlohmann::json& request,
                                             const providers::Usage& usage, health::TimePoint now,
                                             std::chrono::duration<double> generation) {
  const auto seen = watch_body(body);
  health::AnswerFacts facts{seen.text, seen.finish_reason, seen.tool_call, asks_for_json(request),
                            tokens_per_second(usage, seen.text.size(), generation)};
  const auto shown = watch(*provider.health, metrics, provider.config->name, now, facts);
  const auto& semantic = provider.config->health.semantic;
  if (!semantic || semantic->on_bad_answer != config::OnBadAnswer::retry_elsewhere) {
    return std::nullopt;
  }
  return retry_worthy(shown);
}

void watch_stream(const ProviderRoute& provider, metrics::Metrics& metrics, std::string_view text,
                  std::string_view finish_reason, bool tool_call, const nlohmann::json& request,
                  const providers::Usage& usage, health::TimePoint now,
                  std::chrono::duration<double> generation) {
  health::AnswerFacts facts{text, finish_reason, tool_call, asks_for_json(request),
                            tokens_per_second(usage, text.size(), generation)};
  watch(*provider.health, metrics, provider.config->name, now, facts);
}

api::Failure held_back(health::Signal signal) {
  api::Failure f;
  f.cls = api::FailureClass::bad_response;
  f.status = 200;
  f.message = "answer held back (" + std::string(health::to_string(signal)) +
              "; on_bad_answer: retry_elsewhere)";
  return f;
}

std::optional<health::Signal> retry_worthy(health::SignalSet shown) {
  for (auto s : {health::Signal::empty, health::Signal::repetition, health::Signal::invalid_json,
                 health::Signal::refusal, health::Signal::content_filter}) {
    if (shown.has(s)) {
      return s;
    }
  }
  return std::nullopt;
}

}  // namespace llmgw::router
