#pragma once
// The attempt loop: picks targets for a client-visible model, renders the request through the
// provider adapter, sends it through the worker's upstream client, fails over or retries by
// failure class, and relays the (possibly streamed) answer to the ResponseSink.
#include <boost/asio/awaitable.hpp>
#include <array>
#include <chrono>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "llmgw/common/clock.hpp"
#include "llmgw/common/timer.hpp"

#include "llmgw/providers/adapter.hpp"
#include "llmgw/api/response_sink.hpp"
#include "llmgw/router/route_table.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::metrics {
class Metrics;
}
namespace llmgw::tokenizer {
class Library;
}

namespace llmgw::router {

/// x-llmgw-route-hint: reorders the routable targets of the model that serves the request.
enum class RouteHint { none, cheapest, fastest };
/// The header's value; nullopt when it names no hint (a 400 for the client).
std::optional<RouteHint> parse_route_hint(std::string_view value);
struct CallRequest;
struct CallOutcome;

/// An answer of last resort for when no target could answer (every target and fallback
/// failed): the response cache's expired entry (cache.serve_stale_on_outage). Tried before the
/// model's degrade message and before no_healthy_upstream / upstream_timeout, only while
/// nothing of an answer went out.
class LastResort {
public:
  virtual ~LastResort() = default;
  /// Answers through `sink` and fills `out`; false when there is nothing to serve (the router
  /// then ends the request as it would have). `headers` are the router's for this request.
  virtual boost::asio::awaitable<bool> serve(const CallRequest& req,
                                             std::vector<common::Header> headers,
                                             CallOutcome& out, api::ResponseSink& sink) = 0;
};

struct CallRequest {
  providers::Operation op = providers::Operation::chat;
  std::string_view route;  // "/v1/chat/completions", for metrics
  nlohmann::json* body = nullptr;  // the client's parsed body; rewritten per attempt
  std::string model;               // client-visible model name
  bool stream = false;
  bool client_wants_usage = false;
  bool base64_embeddings = false;  // encoding_format: base64
  bool context_fallback = false;   // set by the router: context.overflow is fallback_larger
  bool context_reject = false;     // set by the router: context.overflow is reject
  const tokenizer::Library* tokenizers = nullptr;  // set by the router, from the table
  // Set by the router once an answer is held back (on_bad_answer: retry_elsewhere): another
  // target's client fault is then not passed on, the held answer is served instead.
  bool holding_answer = false;
  // Sessions: keep the served answer as a canonical assistant message (CallOutcome::answer);
  // a native relay is then given up so the answer passes through the canonical form.
  bool capture_answer = false;
  std::string_view session_id;  // echoed in x-llmgw-session
  const std::vector<common::Header>* extra_headers = nullptr;  // on every answer (x-ratelimit-*)
  LastResort* last_resort = nullptr;  // the cache's stale answer, when it has one
  // Where a session's stored turns sit in body.messages, and its stored summary: a summary
  // (context.overflow: summarize) replaces those turns in the store too.
  std::size_t session_history_begin = 0;
  std::size_t session_history = 0;
  std::string_view session_summary;
  const RouteTable* table = nullptr;  // set by the router (the summarizer is routed on it)
  // The summary made for this request, and of how many dropped messages: a failover that
  // drops the same turns uses it again instead of paying twice.
  std::size_t summary_of = 0;
  std::string summary_text;
  std::string request_id;
  std::string traceparent;  // to send upstream (already carries our new span id), may be empty
  std::string tracestate;
  std::size_t body_bytes = 0;            // for cost estimates
  std::uint64_t max_output_tokens = 0;   // max_tokens / max_completion_tokens, 0 = unset
  std::string preferred_region;          // region-aware routing; empty = none
  RouteHint route_hint = RouteHint::none;
  // The request's x-llmgw-* headers the gateway does not itself interpret, for the header
  // conditions of models[].select (names lowercase).
  std::span<const std::pair<std::string, std::string>> select_headers;
  std::size_t max_json_depth = 128;      // server.max_json_depth, for upstream answers
  upstream::Deadline deadline;
  std::chrono::steady_clock::time_point started;
};

/// One upstream attempt as the access log and the traces tell it. The pointers point into the
/// request's config snapshot, which outlives the outcome.
struct AttemptRecord {
  const ProviderRoute* provider = nullptr;          // who was asked (the hedge winner, if any)
  const config::TargetConfig* target = nullptr;     // its targets[] entry (model id)
  std::string_view outcome;  // "success", or the failure class (api::to_string)
  int status = 0;            // the upstream's HTTP status; 0 when none arrived
  common::Clock::time_point started{};
  double seconds = 0;
  // The parent id of the traceparent sent upstream (the attempt's span); empty without one.
  std::array<char, 16> span_id{};
};

struct CallOutcome {
  int status = 0;
  std::string provider;      // the provider that served (or the last tried)
  std::string served_model;  // the provider's model id
  unsigned attempts = 0;
  std::vector<AttemptRecord> attempt_log;  // one entry per attempt, in order
  providers::Usage usage;
  double cost_usd = 0;
  double ttft_seconds = -1;  // -1 when no byte of an answer reached the client
  std::string error_code;
  bool degraded = false;  // answered with the model's degrade message
  // With CallRequest::capture_answer, the served answer's first choice as a canonical
  // assistant message (JSON text); empty when none was served.
  std::string answer;
  // context.overflow: summarize on a session: how many stored turns `summary` replaces.
  std::size_t summarized = 0;
  std::string summary;
};

/// Where the attempt loop reads the time, waits, and draws its random numbers (balancing,
/// backoff jitter). The defaults are the real ones; unit tests pass a manual clock and a seed
/// and run every decision in simulated time.
struct RouterEnvironment {
  const common::Clock* clock = &common::SteadyClock::instance();
  common::Sleeper* sleeper = &common::SteadySleeper::instance();
  std::uint64_t seed = 0;  // 0: from std::random_device
};

/// One per worker thread (not thread safe).
class Router {
public:
  Router(upstream::Transport& transport, metrics::Metrics& metrics, RouterEnvironment env = {})
      : transport_(transport), metrics_(metrics), env_(env),
        rng_(env.seed ? env.seed : std::random_device{}()) {}

  boost::asio::awaitable<CallOutcome> call(const RouteTable& table, CallRequest& request,
                                           api::ResponseSink& sink);

private:
  upstream::Transport& transport_;
  metrics::Metrics& metrics_;
  RouterEnvironment env_;
  std::mt19937_64 rng_;
};

/// The first choice's message of a canonical chat answer, as a JSON text to store as a turn
/// (CallRequest::capture_answer; a session's, a stored response's), empty when there is none.
std::string assistant_message_of(std::string_view canonical_answer);

}  // namespace llmgw::router
