#pragma once
// A model's canary (SPEC models[].canary): `percent` of the model's requests try the canary
// target first; the others try it after every other target. The canary judges itself on the
// traffic it serves and rolls itself back — its share to 0 — on the first breach of
// `rollback_on` (error rate, answers showing a bad-answer signal, user feedback), and stays
// rolled back until an operator resumes it (POST /admin/canary/{model}/resume) or the canary's
// config changes. Shared by every worker; kept across reloads with the model (ModelState).
// It decides and reports; it does not log.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "llmgw/config/config.hpp"
#include "llmgw/resilience/sliding_window.hpp"

namespace llmgw::router {

/// A canary rolled back or resumed, for the log and the metrics.
struct CanaryEvent {
  std::string model;
  std::string target;
  bool rolled_back = false;  // false: resumed
  std::string reason;
};
using CanaryEventSink = std::function<void(const CanaryEvent&)>;

class CanaryState {
public:
  /// Requests on the canary (and ratings) needed before its rates are judged.
  static constexpr std::uint64_t kMinRequests = 10;
  static constexpr std::uint64_t kMinRatings = 5;
  static constexpr std::chrono::minutes kWindow{5};

  CanaryState(std::string model, const config::CanaryConfig& config,
              std::shared_ptr<const CanaryEventSink> events = nullptr);

  const std::string& model() const { return model_; }
  const std::string& target() const { return target_; }
  double percent() const { return percent_; }
  bool rolled_back() const { return rolled_back_.load(std::memory_order_acquire); }
  /// Whether a request with this draw (uniform in [0, 100)) tries the canary first.
  bool picks(double draw) const { return !rolled_back() && draw < percent_; }

  /// A request the canary target served (success) or failed (a failure that harms it).
  void on_result(resilience::TimePoint now, bool success);
  /// A canary answer showing a bad-answer signal (empty, loop, invalid JSON, refusal, filter).
  void on_bad_answer(resilience::TimePoint now);
  /// A user's rating (-1..1) of a canary answer.
  void on_feedback(resilience::TimePoint now, double score);
  /// The operator's resume: the canary gets its share again, judged afresh.
  void resume();

  struct Snapshot {
    std::string target;
    double percent = 0;
    bool rolled_back = false;
    std::string reason;  // why it rolled back
    std::uint64_t requests = 0;  // in the window
    double error_rate = 0;
    std::uint64_t bad_answers = 0;
    std::uint64_t ratings = 0;
    double mean_feedback = 0;
  };
  Snapshot snapshot(resilience::TimePoint now) const;

private:
  // Called under mutex_: rolls back on the first breach of rollback_on.
  void judge(resilience::TimePoint now);
  void emit(CanaryEvent event);

  std::string model_;
  std::string target_;
  double percent_;
  config::CanaryRollback rollback_;
  std::shared_ptr<const CanaryEventSink> events_;
  std::atomic<bool> rolled_back_{false};
  mutable std::mutex mutex_;
  std::string reason_;
  resilience::SlidingCounter requests_{kWindow, 10};
  resilience::SlidingCounter bad_answers_{kWindow, 10};  // failures = bad answers
  std::uint64_t ratings_ = 0;  // since the last (re)start: feedback is sparse
  double score_sum_ = 0;
};

}  // namespace llmgw::router
