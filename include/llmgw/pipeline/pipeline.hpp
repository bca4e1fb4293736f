#pragma once
// The request pipeline around the router. A stage that builds the face's body from a route's
// own body runs before the face decodes it (the prompt template: POST /v1/prompts/{name}
// becomes a chat request). After the face decoded the body and the model was found, the other
// ingress stages run in order (limits and budget → session load → stored response load → cache
// lookup); any stage may end the request with an error. The router then runs the attempts (its
// per-attempt steps, window fitting and continuation, live in router/). When the answer is out,
// response taps observe the outcome (usage and cost, budget debit, session append, response
// store, cache store, metrics, access log).
//
// Each stage owns its config section and says from the request alone whether it applies: a
// stage the config does not use costs one virtual call and no coroutine frame.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/face.hpp"
#include "llmgw/common/header.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/limits/limits.hpp"
#include "llmgw/prompts/output.hpp"
#include "llmgw/router/router.hpp"

namespace llmgw::metrics {
class Metrics;
}
namespace llmgw::common {
class Clock;
}
namespace llmgw::cache {
class Cache;         // the process's store (src/cache)
class RequestCache;  // one request's lookup, capture and stale answer
}
namespace llmgw::session {
class Sessions;
struct SessionTurn;  // src/session: a session request's lease, store and new turns
struct StoredTurn;   // src/session: a Responses request's conversation, to store with its answer
}

namespace llmgw::state {
class Availability;
}

namespace llmgw::pipeline {

/// What stages share across requests and workers (owned by the server, outlives snapshots).
struct Services {
  session::Sessions* sessions = nullptr;
  metrics::Metrics* metrics = nullptr;
  limits::Limits* limits = nullptr;
  const common::Clock* clock = nullptr;  // null: the steady clock
  cache::Cache* cache = nullptr;          // the response cache's store
  state::Availability* availability = nullptr;  // whether the shared state answers
};

/// One request as the stages see it. Everything comes from the one config snapshot the request
/// started with.
struct RequestContext {
  RequestContext(const config::Config& c, const api::Route& r) : config(c), route(r) {}

  const config::Config& config;
  const api::Route& route;
  const config::KeyConfig* key = nullptr;       // null when auth is not required
  const config::ModelConfig* model = nullptr;   // the client-visible model
  nlohmann::json* body = nullptr;                // the canonical request
  const api::RequestFacts* facts = nullptr;
  std::string_view model_name;  // as the client asked (may name no configured model)
  std::string_view request_id;
  std::string_view session_id;  // x-session-id, empty when absent
  std::string_view user;        // x-llmgw-user (a profile in sessions.profiles), or empty
  std::string_view remote;      // "ip:port" of the client
  // The request's x-llmgw-* headers models[].select may test (the cache keys on them too).
  std::span<const std::pair<std::string, std::string>> select_headers;
  std::size_t body_bytes = 0;   // the client's body, for token estimates
  // Headers every answer to this request carries (x-ratelimit-*), and what the limits stage
  // holds for it (settled against the provider's usage and the cost after the answer).
  std::vector<common::Header> response_headers;
  limits::Ticket limits_ticket;
  std::string_view path;        // the request's path (a prompt call's names the prompt)
  std::string_view accept;      // the Accept header, or empty
  std::string_view cache_control;  // the Cache-Control header, or empty
  // Set by the prompt template stage on a prompt call: the prompt, and the answer's shape.
  const config::PromptConfig* prompt = nullptr;
  prompts::Output output = prompts::Output::chat;
  // Set by the session stage; the append tap stores the turns and then lets the lease go.
  std::shared_ptr<session::SessionTurn> session;
  struct SessionView {
    std::size_t history_begin = 0;  // the stored turns in body.messages
    std::size_t history = 0;
    std::string summary;  // the stored summary
  } session_view;
  // Set by the response store stage on a Responses request whose answer is kept (store:
  // true): the store, and the conversation the answer is stored with.
  std::shared_ptr<session::StoredTurn> stored_response;
  // Set by the cache lookup stage on a model with a cache: its hit, its capture, its result.
  std::shared_ptr<cache::RequestCache> cache;
  // For the access log and the trace: how the request came, and the client's connection.
  std::string_view method;
  std::string_view user_agent;
  std::chrono::system_clock::time_point received{};  // wall clock, when the body was read
  std::chrono::steady_clock::time_point started{};   // the same moment, on the steady clock
  // The W3C traceparent the client sent (may be empty or invalid), and the one this request
  // sends upstream (its trace; the router gives each attempt its own parent id), or empty.
  std::string_view traceparent_in;
  std::string_view traceparent;
  const api::ByteSink* client = nullptr;              // its bytes_sent() once the answer is out
  // Filled once the answer is out, for the taps.
  const router::CallOutcome* outcome = nullptr;
  double elapsed_seconds = 0;
};

class IngressStage {
public:
  virtual ~IngressStage() = default;
  virtual std::string_view name() const = 0;
  /// Whether this request meets the stage's config at all (cheap, no I/O).
  virtual bool applies(const RequestContext& ctx) const = 0;
  /// Runs the stage; an error ends the request with it.
  virtual boost::asio::awaitable<std::optional<api::GatewayError>> run(RequestContext& ctx) = 0;
  /// Whether the stage runs before the face decodes the body: it turns the route's own body
  /// (ctx.body, parsed but not decoded; no model, no facts yet) into the body the face decodes.
  virtual bool before_decode() const { return false; }
};

class ResponseTap {
public:
  virtual ~ResponseTap() = default;
  virtual std::string_view name() const = 0;
  /// Observes a finished request (ctx.outcome is set). Must not block: it runs on the worker.
  virtual void on_response(const RequestContext& ctx) = 0;
};

class Pipeline {
public:
  void add(std::unique_ptr<IngressStage> stage) { ingress_.push_back(std::move(stage)); }
  void add(std::unique_ptr<ResponseTap> tap) { taps_.push_back(std::move(tap)); }

  /// True when some stage that runs before decode applies (else run_prepare can be skipped).
  bool has_prepare_work(const RequestContext& ctx) const;
  /// Runs the stages before decode that apply, in order; the first error ends the run.
  boost::asio::awaitable<std::optional<api::GatewayError>> run_prepare(RequestContext& ctx);
  /// True when some ingress stage after decode applies (else run_ingress can be skipped).
  bool has_ingress_work(const RequestContext& ctx) const;
  /// Runs the stages after decode that apply, in order; the first error ends the run.
  boost::asio::awaitable<std::optional<api::GatewayError>> run_ingress(RequestContext& ctx);
  /// Runs every tap, in order.
  void run_taps(const RequestContext& ctx);

  const std::vector<std::unique_ptr<IngressStage>>& ingress() const { return ingress_; }
  const std::vector<std::unique_ptr<ResponseTap>>& taps() const { return taps_; }

private:
  std::vector<std::unique_ptr<IngressStage>> ingress_;
  std::vector<std::unique_ptr<ResponseTap>> taps_;
};

/// The stages and taps, in pipeline order (each in its concept's folder).
// src/limits: rate limits and budgets; budget debit and token settlement after the answer
std::unique_ptr<IngressStage> make_limits_stage(const Services& services);
std::unique_ptr<IngressStage> make_prompt_template_stage();  // src/prompts (before decode)
std::unique_ptr<IngressStage> make_session_load_stage(const Services& services);  // src/session
std::unique_ptr<IngressStage> make_response_load_stage(const Services& services);  // src/session
std::unique_ptr<IngressStage> make_cache_lookup_stage(const Services& services);  // src/cache
std::unique_ptr<ResponseTap> make_budget_debit_tap(const Services& services);
std::unique_ptr<ResponseTap> make_session_append_tap(const Services& services);  // src/session
std::unique_ptr<ResponseTap> make_response_store_tap(const Services& services);  // src/session
std::unique_ptr<ResponseTap> make_cache_store_tap(const Services& services);  // src/cache

/// The pipeline with every seam in place; the caller appends its own taps (metrics, access
/// log) after them.
Pipeline make_pipeline(const Services& services);

}  // namespace llmgw::pipeline
