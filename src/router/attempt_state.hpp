#pragma once
// The attempt loop's decisions, with no I/O and no coroutine (as Envoy's RetryState): which
// target comes next and after what wait, what an attempt's result means for the rest of the
// request, and how a request that nothing served ends. Router::call drives it: it waits,
// sends, relays, records health and metrics; every "what now" is asked here.
#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "llmgw/router/router.hpp"
#include "router/attempt.hpp"
#include "router/continuation.hpp"
#include "router/plan.hpp"

namespace llmgw::router {

/// What the driver does next.
struct Step {
  enum class Kind {
    wait,     // sleep `wait` (a retry's backoff), then ask again
    attempt,  // run one attempt on `target` (with `hedge`)
    end,      // nothing more to try: end the request as conclude() says
  };
  Kind kind = Kind::end;
  std::chrono::milliseconds wait{0};
  PlannedTarget* target = nullptr;
  HedgePlan hedge;
  // For metrics: why this attempt is not the first ("failover", or the failure class retried)
  // and the model it falls back from when it is a fallback model's first target.
  std::string_view retry_reason;
  std::string fallback_from;
};

/// What an attempt's result means for the request.
enum class Verdict {
  served,  // an answer (or the client's own error) reached the client: done
  go_on,   // ask next()
  ended,   // the gateway gave up on the request (the attempt was cancelled): nobody waits
};

/// How a request ends when no target served it.
struct Ending {
  enum class Kind {
    stream_failed,        // the client has part of a stream: end it with an error event
    context_length,       // the provider's own context-length error, passed to the client
    degrade,              // the model's degrade message
    upstream_timeout,     // every target timed out
    no_healthy_upstream,  // the diagnosis says what happened to each target
  };
  Kind kind = Kind::no_healthy_upstream;
  std::string message;                            // stream_failed and the two errors
  const api::Failure* context_failure = nullptr;  // context_length
  const config::DegradeConfig* degrade = nullptr;
};

class AttemptState {
 public:
  AttemptState(const RouteTable& table, const ModelRoute& model, Plan plan,
               const CallRequest& request, std::mt19937_64& rng);

  /// The next step at `now`. An attempt step has already counted the attempt and passed the
  /// target's admission gate (a cool-down, ejection or open circuit since planning skips it).
  Step next(common::Clock::time_point now);

  /// Takes the result of the attempt next() last gave (health is the driver's to record).
  Verdict on_result(PlannedTarget& target, AttemptResult& result);

  /// A racer of a hedged attempt failed while the other went on and decided the attempt: it
  /// has had its try.
  void on_race_loss(const PlannedTarget& racer, api::Failure failure);

  /// How the request ends after next() said end; `stream_started`: the client has a 200 and
  /// part of a stream.
  Ending conclude(bool stream_started) const;

  unsigned attempts() const { return attempts_; }
  bool continued() const { return continued_; }  // a stream broke after the client got part
  /// A retry was refused by the model's retry budget (the request ended without it).
  bool budget_exhausted() const { return budget_exhausted_; }
  StreamTracker& tracker() { return tracker_; }

 private:
  bool continuable() const;
  std::string diagnosis() const;
  void end_round();
  PlannedTarget& own(const PlannedTarget* target);

  const RouteTable& table_;
  const ModelRoute& model_;
  const CallRequest& request_;
  std::mt19937_64& rng_;
  Plan plan_;
  StreamTracker tracker_;
  std::size_t max_attempts_ = 0;
  unsigned attempts_ = 0;
  unsigned round_ = 0;
  std::size_t index_ = 0;  // the next target of this round to consider
  const PlannedTarget* attempted_ = nullptr;  // the target of the last attempt step
  bool tried_in_round_ = false;
  bool waited_ = false;  // the wait for targets[index_] is over
  bool stopped_ = false;
  bool budget_exhausted_ = false;
  bool continued_ = false;
  std::string previous_model_;
  std::optional<api::Failure> context_failure_;  // the first context-length error, if any
};

}  // namespace llmgw::router
