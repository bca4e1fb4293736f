#pragma once
// One attempt of a request on one planned target (and its hedge partner): render, send,
// classify, then hand the answer to the client's sink — whole, or relayed event by event with
// the 200 held until the first real content, so a stream that dies before it fails over
// invisibly. It decides nothing about other targets; AttemptState does.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <vector>

#include "llmgw/api/failure.hpp"
#include "llmgw/api/response_sink.hpp"
#include "llmgw/router/router.hpp"
#include "router/continuation.hpp"
#include "router/plan.hpp"

namespace llmgw::router {

/// A complete answer held back because it looked bad (on_bad_answer: retry_elsewhere): served
/// after all when no other target does better.
struct HeldAnswer {
  std::string body;
  providers::Usage usage;
  std::string provider;
  std::string served_model;
  health::Signal signal = health::Signal::empty;
  config::Price price;  // the serving target's
};

struct AttemptResult {
  bool finished = false;  // a response went to the client; stop
  api::Failure failure;   // when !finished, or when finished but the stream broke after start
  bool broke_after_start = false;
  bool client_gone = false;
  const PlannedTarget* served_by = nullptr;  // the hedge partner when it won
  std::optional<HeldAnswer> held;  // with a bad_response failure: the answer held back
  health::SignalSet signals;       // the bad-answer signs of the answer, when it was watched
};

// A second target to race against the first when the first is slow (models[].hedge).
struct HedgePlan {
  const PlannedTarget* partner = nullptr;
  std::chrono::milliseconds after{0};
};

/// The gateway's response headers: request id, who served, how many attempts.
std::vector<providers::Header> response_headers(const CallRequest& req, const CallOutcome& out);

// The failures of a hedged attempt's racers that did not decide it: a racer that failed while
// the other went on and answered (or was still running when the attempt ended). Each is that
// target's own failure, for its health and for the plan.
struct RaceLosses {
  std::optional<api::Failure> primary;
  std::optional<api::Failure> hedge;
};

/// `tracker` follows what the client received so far. When it already holds part of a streamed
/// answer, this attempt is a continuation: the request carries the partial answer, and the new
/// stream is rewritten to extend the old one. `losses` receives the failures of hedge racers
/// that did not decide the attempt (the result is the other racer's).
boost::asio::awaitable<AttemptResult> run_attempt(
    upstream::Transport& transport, const RouterEnvironment& env, metrics::Metrics& metrics,
    const PlannedTarget& p, CallRequest& req, api::ResponseSink& sink, CallOutcome& out,
    StreamTracker& tracker, const HedgePlan& hedge, RaceLosses& losses);

}  // namespace llmgw::router
