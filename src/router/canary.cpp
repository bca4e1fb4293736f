#include "llmgw/router/canary.hpp"

#include <algorithm>
#include <cstdio>

namespace llmgw::router {
namespace {

std::string format(const char* fmt, double a, double b) {
  char text[160];
  std::snprintf(text, sizeof text, fmt, a, b);
  return text;
}

}  // namespace

CanaryState::CanaryState(std::string model, const config::CanaryConfig& config,
                         std::shared_ptr<const CanaryEventSink> events)
    : model_(std::move(model)),
      target_(config.target),
      percent_(config.percent),
      rollback_(config.rollback_on),
      events_(std::move(events)) {}

void CanaryState::on_result(resilience::TimePoint now, bool success) {
  std::unique_lock lock(mutex_);
  requests_.record(now, success);
  judge(now);
}

void CanaryState::on_bad_answer(resilience::TimePoint now) {
  std::unique_lock lock(mutex_);
  bad_answers_.record(now, false);
  judge(now);
}

void CanaryState::on_feedback(resilience::TimePoint now, double score) {
  std::unique_lock lock(mutex_);
  ++ratings_;
  score_sum_ += std::clamp(score, -1.0, 1.0);
  judge(now);
}

void CanaryState::judge(resilience::TimePoint now) {
  if (rolled_back()) {
    return;
  }
  std::string why;
  const auto totals = requests_.totals(now);
  const auto bad = bad_answers_.totals(now).failures;
  if (rollback_.error_rate && totals.total() >= kMinRequests &&
      totals.failure_rate() > *rollback_.error_rate) {
    why = format("error rate %.2f over the last 5m, above %.2f", totals.failure_rate(),
                 *rollback_.error_rate);
  } else if (rollback_.semantic_failures && bad >= *rollback_.semantic_failures) {
    why = std::to_string(bad) + " answers with a bad-answer signal over the last 5m (" +
          "semantic_failures: " + std::to_string(*rollback_.semantic_failures) + ")";
  } else if (rollback_.feedback_below && ratings_ >= kMinRatings &&
             score_sum_ / static_cast<double>(ratings_) < *rollback_.feedback_below) {
    why = format("mean user feedback %.2f, below %.2f",
                 score_sum_ / static_cast<double>(ratings_), *rollback_.feedback_below) +
          " (" + std::to_string(ratings_) + " ratings)";
  }
  if (why.empty()) {
    return;
  }
  reason_ = why;
  rolled_back_.store(true, std::memory_order_release);
  emit(CanaryEvent{model_, target_, true, std::move(why)});
}

void CanaryState::resume() {
  {
    std::lock_guard lock(mutex_);
    if (!rolled_back()) {
      return;
    }
    rolled_back_.store(false, std::memory_order_release);
    reason_.clear();
    requests_.reset();
    bad_answers_.reset();
    ratings_ = 0;
    score_sum_ = 0;
  }
  emit(CanaryEvent{model_, target_, false, "resumed by operator"});
}

void CanaryState::emit(CanaryEvent event) {
  if (events_ && *events_) {
    (*events_)(event);
  }
}

CanaryState::Snapshot CanaryState::snapshot(resilience::TimePoint now) const {
  std::lock_guard lock(mutex_);
  Snapshot s;
  s.target = target_;
  s.percent = percent_;
  s.rolled_back = rolled_back();
  s.reason = reason_;
  const auto totals = requests_.totals(now);
  s.requests = totals.total();
  s.error_rate = totals.failure_rate();
  s.bad_answers = bad_answers_.totals(now).failures;
  s.ratings = ratings_;
  s.mean_feedback = ratings_ == 0 ? 0 : score_sum_ / static_cast<double>(ratings_);
  return s;
}

}  // namespace llmgw::router
