#include "llmgw/router/router.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <nlohmann/json.hpp>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/synthetic.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "router/continuation.hpp"
#include "router/plan.hpp"

namespace llmgw::router {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using TimePoint = common::Clock::time_point;
constexpr std::size_t kMaxErrorBody = 1u << 20;
constexpr std::size_t kMaxResponseBody = 64u << 20;

double seconds_since(const RouterEnvironment& env, TimePoint t) {
  return std::chrono::duration<double>(env.clock->now() - t).count();
}

std::vector<providers::Header> response_headers(const CallRequest& req, const CallOutcome& out) {
  return {{"x-request-id", req.request_id},
          {"x-llmgw-provider", out.provider},
          {"x-llmgw-model", out.served_model},
          {"x-llmgw-attempts", std::to_string(out.attempts)}};
}

struct AttemptResult {
  bool finished = false;  // a response went to the client; stop
  api::Failure failure;   // when !finished, or when finished but the stream broke after start
  bool broke_after_start = false;
  bool client_gone = false;
  const PlannedTarget* served_by = nullptr;  // the hedge partner when it won
};

// A second target to race against the first when the first is slow (models[].hedge).
struct HedgePlan {
  const PlannedTarget* partner = nullptr;
  std::chrono::milliseconds after{0};
};

// The hedged request: starts only after `delay`, unless the race is already over (the
// primary answered and this coroutine was cancelled while waiting).
asio::awaitable<upstream::Result<upstream::Response>> delayed_send(
    upstream::Transport& transport, common::Sleeper& sleeper, const upstream::Endpoint& endpoint,
    providers::UpstreamRequest request, upstream::Deadline deadline,
    std::chrono::milliseconds delay, metrics::Metrics& metrics, std::string model) {
  // (Named results, never a co_await inside a condition: g++ 12 miscompiles that.)
  const bool waited = co_await sleeper.sleep_for(delay);
  if (!waited) {
    co_return common::err(upstream::Error{api::FailureClass::cancelled, "hedge not needed"});
  }
  metrics.hedge(model);
  auto sent = co_await transport.send(endpoint, request, deadline);
  co_return sent;
}

}  // namespace

namespace {

// `tracker` follows what the client received so far. When it already received part of a
// streamed answer (`tracker.has_identity()`), this attempt is a continuation: the request
// carries the partial answer, and the new stream is rewritten to extend the old one.
asio::awaitable<AttemptResult> run_attempt(upstream::Transport& transport,
                                           const RouterEnvironment& env, metrics::Metrics& metrics,
                                           const PlannedTarget& p, CallRequest& req,
                                           api::ResponseSink& sink, CallOutcome& out,
                                           StreamTracker& tracker, const HedgePlan& hedge) {
  const auto& prov = *p.provider;
  const bool continuing = req.stream && tracker.has_identity();
  if (!continuing) {
    out.provider = prov.config->name;
    out.served_model = p.target->model;
  }
  providers::RequestOptions opts{req.stream, req.client_wants_usage, req.base64_embeddings,
                                 req.max_json_depth};
  std::size_t appended = 0;
  std::optional<std::string> original_prompt;
  if (continuing && req.op == providers::Operation::completions) {
    original_prompt = extend_prompt(*req.body, tracker.text());  // (the router checked it can)
  } else if (continuing) {
    appended = append_continuation(*req.body, tracker.text());
  }
  auto ureq = prov.adapter->build_request(req.op, *req.body, *prov.config, *p.target, opts);
  if (appended > 0) {
    remove_appended(*req.body, appended);
  }
  if (original_prompt) {
    restore_prompt(*req.body, std::move(*original_prompt));
  }
  ureq.headers.push_back({"x-request-id", req.request_id});
  if (!req.traceparent.empty()) {
    ureq.headers.push_back({"traceparent", req.traceparent});
    if (!req.tracestate.empty()) {
      ureq.headers.push_back({"tracestate", req.tracestate});
    }
  }
  auto t0 = env.clock->now();
  // providers[].timeouts.total bounds this attempt (header and body); the request's own
  // deadline still bounds everything.
  auto attempt_deadline = std::min(req.deadline, t0 + prov.config->timeouts.total);
  const PlannedTarget* served = &p;
  std::optional<upstream::Result<upstream::Response>> sent;
  if (hedge.partner && !continuing) {
    // Hedge: if the primary has not answered within the usual latency, a second request goes
    // to another target; the first answer wins and the other request is cancelled.
    const auto& hp = *hedge.partner;
    // The partner's own rendering and credentials; only the correlation headers are shared.
    auto hreq = hp.provider->adapter->build_request(req.op, *req.body, *hp.provider->config,
                                                    *hp.target, opts);
    for (const auto& h : ureq.headers) {
      if (h.name == "x-request-id" || h.name == "traceparent" || h.name == "tracestate") {
        hreq.headers.push_back(h);
      }
    }
    auto hedge_deadline = std::min(req.deadline, t0 + hp.provider->config->timeouts.total);
    auto primary = transport.send(prov.endpoint, ureq, attempt_deadline);
    auto secondary = delayed_send(transport, *env.sleeper, hp.provider->endpoint, std::move(hreq),
                                  hedge_deadline, hedge.after, metrics, req.model);
    auto winner = co_await (std::move(primary) || std::move(secondary));
    if (winner.index() == 0) {
      sent.emplace(std::move(std::get<0>(winner)));
    } else {
      sent.emplace(std::move(std::get<1>(winner)));
      served = &hp;
    }
  } else {
    sent.emplace(co_await transport.send(prov.endpoint, ureq, attempt_deadline));
  }
  auto& resp = *sent;
  const PlannedTarget& sp = *served;
  const auto& sprov = *sp.provider;
  if (!continuing) {
    out.provider = sprov.config->name;
    out.served_model = sp.target->model;
  }
  if (resp && resp->status() >= 200 && resp->status() < 300 && sprov.health) {
    sprov.health->record_header_latency(seconds_since(env, t0) * 1000.0);
  }
  if (!resp) {
    metrics.upstream_request(sprov.config->name, api::to_string(resp.error().cls), seconds_since(env, t0));
    co_return AttemptResult{false, api::Failure{resp.error().cls, 0, std::nullopt,
                                                resp.error().message, {}}};
  }
  int status = resp->status();
  if (status < 200 || status >= 300) {
    auto body = co_await resp->read_all(kMaxErrorBody);
    auto retry_after = api::parse_retry_after(resp->header("retry-after-ms"),
                                              resp->header("retry-after"));
    auto failure = sprov.adapter->classify_error(status, body ? *body : std::string(), retry_after);
    metrics.upstream_request(sprov.config->name, api::to_string(failure.cls), seconds_since(env, t0));
    const auto policy = api::failure_policy(failure.cls);
    const bool larger_context_may_help =
        policy.fail_over == api::FailOver::larger_context && req.context_fallback;
    // A continuation cannot hand a client fault on: the client already has a 200 and half an
    // answer. It is that target's failure to continue; the stream then goes on elsewhere or
    // ends with an error event, never silently.
    if (policy.client_fault && !larger_context_may_help && !continuing) {
      // The client's own mistake: the provider's answer is the most useful one it can get.
      auto headers = response_headers(req, out);
      headers.push_back({"content-type", "application/json"});
      out.status = status;
      co_await sink.send(status, std::move(headers), std::move(failure.body));
      co_return AttemptResult{true, {}, false, false, served};
    }
    co_return AttemptResult{false, std::move(failure), false, false, served};
  }
  if (!req.stream) {
    auto body = co_await resp->read_all(kMaxResponseBody);
    if (!body) {
      co_return AttemptResult{false, api::Failure{body.error().cls, status, std::nullopt,
                                                  body.error().message, {}}};
    }
    auto translated = sprov.adapter->translate_response(req.op, std::move(*body), opts, out.usage);
    if (!translated) {
      // A 2xx that is no answer: fail over like a 5xx, never hand it on as a success.
      metrics.upstream_request(sprov.config->name, api::to_string(translated.error().cls),
                               seconds_since(env, t0));
      co_return AttemptResult{false, std::move(translated.error()), false, false, served};
    }
    metrics.upstream_request(sprov.config->name, "success", seconds_since(env, t0));
    auto headers = response_headers(req, out);
    headers.push_back({"content-type", "application/json"});
    out.status = 200;
    out.ttft_seconds = seconds_since(env, req.started);
    co_await sink.send(200, std::move(headers), std::move(*translated));
    co_return AttemptResult{true, {}, false, false, served};
  }

  // A stream's outcome is known only at its end (one that breaks is that failure, not a
  // success); its duration is still the time to the response header, like every attempt's.
  const double header_seconds = seconds_since(env, t0);
  // Streaming: hold the 200 until the first translated event exists, so anything that fails
  // before it can still go to another target invisibly.
  auto translator = sprov.adapter->make_stream_translator(req.op, opts);
  std::string pending;
  bool started = continuing;
  std::optional<ContinuationFilter> filter;
  if (continuing) {
    filter.emplace(tracker);
  }
  // Set when the upstream stream breaks; handled after the loop. (No coroutine lambda and no
  // temporaries inside co_await expressions here: g++ 12 destroys such a temporary Failure
  // twice, which aborted the daemon on every broken stream.)
  std::optional<api::Failure> broken;
  for (;;) {
    auto slice = co_await resp->read_some();
    if (!slice) {
      api::Failure f;
      f.cls = slice.error().cls;
      f.status = 200;
      f.message = slice.error().message;
      broken = std::move(f);
      break;
    }
    bool ok = true;
    bool eof = slice->empty();
    if (eof) {
      ok = translator->finish(pending);
    } else {
      ok = translator->feed(*slice, pending);
    }
    if (!ok) {
      if (translator->failure()) {
        broken = *translator->failure();
      } else {
        api::Failure f;
        f.cls = api::FailureClass::bad_response;
        f.status = 200;
        f.message = "bad stream";
        broken = std::move(f);
      }
      break;
    }
    // The opening role-only chunk carries no answer yet: hold it (and the 200) until real
    // content arrives, so a stream that dies right after it still fails over invisibly.
    if (!pending.empty() && (started || translator->has_content() || eof)) {
      if (!started) {
        auto headers = response_headers(req, out);
        headers.push_back({"content-type", "text/event-stream; charset=utf-8"});
        headers.push_back({"cache-control", "no-cache"});
        out.status = 200;
        started = true;
        if (!co_await sink.start_stream(200, std::move(headers))) {
          out.status = 499;  // client went away; dropping `resp` closes the upstream
          AttemptResult gone;
          gone.served_by = served;
          gone.finished = true;
          gone.client_gone = true;
          metrics.upstream_request(sprov.config->name, "success", header_seconds);
          co_return gone;
        }
        out.ttft_seconds = seconds_since(env, req.started);
      }
      if (filter) {
        pending = filter->rewrite(pending);
      }
      tracker.observe(pending);
      if (!co_await sink.write(pending)) {
        out.status = 499;
        AttemptResult gone;
        gone.served_by = served;
        gone.finished = true;
        gone.client_gone = true;
        metrics.upstream_request(sprov.config->name, "success", header_seconds);
        co_return gone;
      }
      pending.clear();
    }
    if (eof) {
      out.usage = translator->usage();
      metrics.upstream_request(sprov.config->name, "success", header_seconds);
      co_await sink.end_stream();
      co_return AttemptResult{true, {}, false, false, served};
    }
  }

  // Broken. Whatever was translated but not written yet is dropped: a continuation (or the
  // error event) follows what the client actually has.
  metrics.upstream_request(sprov.config->name, api::to_string(broken->cls), header_seconds);
  AttemptResult result;
  result.served_by = served;
  result.broke_after_start = started;
  result.failure = std::move(*broken);
  co_return result;
}

}  // namespace

namespace {

// Keeps a target's in-flight count (bulkhead, least_busy) for the length of one attempt.
class InflightGuard {
public:
  explicit InflightGuard(health::TargetHealth* h) : h_(h) {
    if (h_) {
      h_->inflight.fetch_add(1, std::memory_order_relaxed);
    }
  }
  ~InflightGuard() {
    if (h_) {
      h_->inflight.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  InflightGuard(const InflightGuard&) = delete;
  InflightGuard& operator=(const InflightGuard&) = delete;

private:
  health::TargetHealth* h_;
};

// Whether a stream the client has part of may go on on another target: not once it finished,
// not in the middle of a tool call (its arguments cannot be spliced), and for legacy
// completions only when the prompt can be extended.
bool continuable(const CallRequest& req, const StreamTracker& tracker) {
  if (tracker.tool_call_started() || tracker.finished()) {
    return false;
  }
  return req.op != providers::Operation::completions || can_extend_prompt(*req.body);
}

// The first model in the chain (the model, then its fallbacks) that has a degrade message.
const config::DegradeConfig* find_degrade(const RouteTable& table, const config::ModelConfig& m) {
  if (m.degrade) {
    return &*m.degrade;
  }
  for (const auto& name : m.fallbacks) {
    if (const auto* fb = table.model(name); fb && fb->degrade) {
      return &*fb->degrade;
    }
  }
  return nullptr;
}

std::string build_diagnosis(const std::vector<PlannedTarget>& targets,
                            const std::vector<std::string>& skipped, bool budget_exhausted,
                            const std::string& model) {
  std::string diagnosis;
  for (const auto& p : targets) {
    if (!diagnosis.empty()) {
      diagnosis += "; ";
    }
    diagnosis += p.provider->config->name + " (" + p.target->model + "): ";
    if (p.last_failure) {
      diagnosis += p.last_failure->message;
      if (p.tries > 1) {
        diagnosis += " after " + std::to_string(p.tries) + " tries";
      }
    } else if (!p.skip_reason.empty()) {
      diagnosis += p.skip_reason;
    } else {
      diagnosis += "not tried (attempt limit or deadline reached)";
    }
    if (p.last_resort) {
      diagnosis += " (tried as a last resort)";
    }
  }
  for (const auto& s : skipped) {
    diagnosis += (diagnosis.empty() ? "" : "; ") + s;
  }
  if (budget_exhausted) {
    diagnosis += (diagnosis.empty() ? "" : "; ") + std::string("retry budget exhausted");
  }
  if (diagnosis.empty()) {
    diagnosis = "model '" + model + "' has no targets";
  }
  return diagnosis;
}

}  // namespace

namespace {

// Picks the hedge partner for an attempt on `p` (models[].hedge): the next untried target of
// another provider that is routable now, started once `p` is slower than its usual latency
// (after: pNN of its recent header latencies, or a fixed duration).
HedgePlan plan_hedge(const config::ModelConfig& model, std::vector<PlannedTarget>& targets,
                     const PlannedTarget& p, unsigned round, const StreamTracker& tracker,
                     TimePoint now) {
  HedgePlan plan;
  if (!model.hedge || model.hedge->max == 0 || round > 0 || tracker.has_identity()) {
    return plan;
  }
  std::optional<double> delay_ms;
  if (model.hedge->after_quantile) {
    if (p.provider->health) {
      delay_ms = p.provider->health->header_latency_quantile(*model.hedge->after_quantile);
    }
  } else if (model.hedge->after_delay) {
    delay_ms = static_cast<double>(model.hedge->after_delay->count());
  }
  if (!delay_ms) {
    return plan;  // no latency history yet: nothing to call "slower than usual"
  }
  bool after_p = false;
  for (auto& q : targets) {
    if (&q == &p) {
      after_p = true;
      continue;
    }
    if (!after_p || q.provider == p.provider || q.tries > 0 || q.last_resort) {
      continue;
    }
    if (q.provider->health && !q.provider->health->peek(now).routable) {
      continue;
    }
    plan.partner = &q;
    plan.after = std::chrono::milliseconds(static_cast<long long>(std::max(1.0, *delay_ms)));
    break;
  }
  return plan;
}

}  // namespace

asio::awaitable<CallOutcome> Router::call(const RouteTable& table, CallRequest& req,
                                          api::ResponseSink& sink) {
  CallOutcome out;
  auto& rng = rng_;
  const auto& clock = *env_.clock;
  const auto* model_route = table.model_route(req.model);
  const auto& model = *model_route->config;
  const auto& retry = model.retry;
  PlanInput input;
  input.op = req.op;
  input.now = clock.now();
  input.body_bytes = req.body_bytes;
  input.max_output_tokens = req.max_output_tokens;
  input.preferred_region = req.preferred_region;
  if (model_route->retry_budget) {
    model_route->retry_budget->on_request(input.now);
  }
  input.body = req.body;
  auto plan = plan_targets(table, model, input, rng);
  auto& targets = plan.targets;
  if (targets.empty() && !plan.unsupported.empty() &&
      plan.unsupported.size() == plan.skipped.size()) {
    // Every target would have to change the request's meaning: that is the client's to fix.
    std::string why;
    for (const auto& u : plan.unsupported) {
      why += (why.empty() ? "" : "; ") + u;
    }
    // The adapters' explanations start with the parameter (or JSON path) at fault.
    std::string_view first = plan.unsupported.front();
    std::size_t n = 0;
    while (n < first.size() && (std::isalnum(static_cast<unsigned char>(first[n])) ||
                                first[n] == '_' || first[n] == '.' || first[n] == '[' ||
                                first[n] == ']')) {
      ++n;
    }
    auto error = api::invalid_request("This request cannot be served as asked: " + why,
                                      std::string(first.substr(0, n)));
    out.status = error.status;
    out.error_code = error.code;
    auto headers = response_headers(req, out);
    co_await sink.fail(error, std::move(headers));
    co_return out;
  }
  auto max_attempts = std::max<std::size_t>(retry.attempts, targets.size());
  bool budget_exhausted = false;
  std::string previous_model = model.name;
  StreamTracker tracker;
  bool continued = false;  // a stream broke after the client got part of it
  std::optional<api::Failure> context_failure;  // the first context-length error, if any
  req.context_fallback = model.context.overflow == config::Overflow::fallback_larger;

  for (unsigned round = 0; out.attempts < max_attempts && !budget_exhausted; ++round) {
    bool tried = false;
    for (auto& p : targets) {
      if (out.attempts >= max_attempts || clock.now() >= req.deadline) {
        break;
      }
      if (round == 0 && p.tries > 0) {
        continue;  // already done for this request (a hedge partner, or ruled out above)
      }
      if (round > 0) {
        if (!p.retry_again) {
          continue;
        }
        // Another try on a target that already failed: only within the retry budget, so an
        // outage cannot multiply the load on it.
        if (model_route->retry_budget &&
            !model_route->retry_budget->try_acquire(clock.now())) {
          budget_exhausted = true;
          break;
        }
        auto delay = backoff_delay(retry.backoff, round - 1, rng);
        if (p.last_failure && p.last_failure->retry_after) {
          // Every other target had its turn in round 0: waiting out the provider's own
          // retry-after is now the best option left.
          delay = std::max(delay, *p.last_failure->retry_after);
        }
        if (clock.now() + delay >= req.deadline) {
          continue;
        }
        co_await env_.sleeper->sleep_for(delay);
      }
      if ((co_await asio::this_coro::cancellation_state).cancelled() !=
          asio::cancellation_type::none) {
        out.status = 499;  // the client hung up; nothing more to do for it
        out.error_code = "client_closed_request";
        co_return out;
      }
      auto* health = p.provider->health.get();
      if (health && !p.last_resort) {
        // Re-check at the moment of sending: a retry-after cool-down, an ejection or an open
        // circuit from another request moves this one on instead of waiting.
        auto verdict = health->try_admit(clock.now());
        if (!verdict.routable) {
          p.skip_reason = verdict.reason;
          p.retry_again = false;
          continue;
        }
      }
      if (out.attempts > 0) {
        metrics_.retry(req.model, p.last_failure ? api::to_string(p.last_failure->cls)
                                                 : std::string_view("failover"));
      }
      if (p.model->name != previous_model && p.tries == 0) {
        metrics_.fallback(previous_model, p.model->name);
        previous_model = p.model->name;
      }
      ++out.attempts;
      ++p.tries;
      tried = true;
      AttemptResult result;
      bool cancelled = false;
      try {
        InflightGuard inflight(health);
        auto hedge = plan_hedge(model, targets, p, round, tracker, clock.now());
        result =
            co_await run_attempt(transport_, env_, metrics_, p, req, sink, out, tracker, hedge);
      } catch (const boost::system::system_error&) {
        // The client hung up (the server cancelled this request): the upstream call is already
        // abandoned; the target did nothing wrong.
        cancelled = true;
      }
      if (!cancelled && (co_await asio::this_coro::cancellation_state).cancelled() !=
                            asio::cancellation_type::none) {
        cancelled = true;  // the attempt ended because the client hung up, not the target
      }
      if (cancelled) {
        if (health) {
          health->on_abandoned(clock.now());
        }
        out.status = 499;
        out.error_code = "client_closed_request";
        co_return out;
      }
      auto now = clock.now();
      if (result.served_by && result.served_by != &p) {
        // The hedge partner answered first: the primary was cancelled (not its fault), and
        // what follows is the partner's outcome.
        if (health) {
          health->on_abandoned(now);
        }
        auto* partner = const_cast<PlannedTarget*>(result.served_by);
        ++partner->tries;
        health = partner->provider->health.get();
      }
      if (result.finished && continued) {
        metrics_.stream_continuation(req.model, out.status == 200 ? "ok" : "client_gone");
      }
      if (result.finished) {
        if (health) {
          if (result.client_gone) {
            health->on_abandoned(now);
          } else if (result.broke_after_start) {
            health->on_failure(now, result.failure);
          } else if (out.status >= 200 && out.status < 300) {
            std::optional<double> ttft;
            if (out.ttft_seconds >= 0) {
              ttft = out.ttft_seconds * 1000.0;
            }
            health->on_success(now, ttft);
            if (p.last_resort) {
              health->reinstate(now);  // a success is evidence: routable again at once
            }
          } else {
            health->on_abandoned(now);  // a client-fault answer: the target is fine
          }
        }
        if (out.status == 200) {
          out.cost_usd =
              (static_cast<double>(out.usage.prompt_tokens) * p.target->price.input_per_mtok +
               static_cast<double>(out.usage.completion_tokens) * p.target->price.output_per_mtok) /
              1e6;
          metrics_.tokens(out.provider, out.served_model, out.usage.prompt_tokens,
                          out.usage.completion_tokens);
        }
        co_return out;
      }
      if (health) {
        health->on_failure(now, result.failure);
      }
      const auto policy = api::failure_policy(result.failure.cls);
      if (policy.fail_over == api::FailOver::nowhere && !policy.client_fault) {
        // The gateway itself gave up on the request (cancelled): nobody waits for an answer.
        out.status = policy.ingress_status;
        out.error_code = "client_closed_request";
        co_return out;
      }
      // A panic (last-resort) target gets one try: the next one may be the one that works.
      p.retry_again =
          !p.last_resort && policy.retry_same_target && retry_allowed(retry, result.failure);
      if (policy.fail_over == api::FailOver::larger_context) {
        // context.overflow: fallback_larger — only a target with a larger context window can
        // help; the others are not tried for this request.
        auto window = p.target->context_window.value_or(0);
        for (auto& q : targets) {
          if (&q != &p && q.tries == 0 && q.target->context_window.value_or(0) <= window) {
            q.skip_reason = "context window " + std::to_string(q.target->context_window.value_or(0)) +
                            " is not larger than the " + std::to_string(window) +
                            " the request overflowed";
            q.tries = 1;  // marks it done for this request
            q.retry_again = false;
          }
        }
        if (!context_failure) {
          context_failure = result.failure;
        }
      }
      if (result.broke_after_start || tracker.has_identity()) {
        // Part of the answer is with the client: continue on another target, unless a tool
        // call was under way (its arguments cannot be spliced) or the answer had finished.
        continued = true;
        if (!continuable(req, tracker)) {
          p.last_failure = std::move(result.failure);
          break;
        }
        // Targets later in the plan come first (round 0); this one may continue in a retry
        // round only when nothing else could.
      }
      p.last_failure = std::move(result.failure);
    }
    if (continued && !continuable(req, tracker)) {
      break;
    }
    if (!tried) {
      break;
    }
  }

  if (sink.started()) {
    // The client has part of a streamed answer and no target could continue it: end the
    // stream with an error event its SDK raises, never a silent truncation.
    metrics_.stream_continuation(req.model, "failed");
    auto diagnosis = build_diagnosis(targets, plan.skipped, budget_exhausted, req.model);
    std::string why = tracker.tool_call_started()
                          ? "a tool call was in progress and cannot be continued"
                      : req.op == providers::Operation::completions && !can_extend_prompt(*req.body)
                          ? "a prompt that is not a single string cannot be continued"
                          : "no target could continue it";
    api::GatewayError e{502, "upstream_stream_failed", "server_error",
                        "The upstream stream failed and " + why + ": " + diagnosis, {}};
    auto headers = response_headers(req, out);
    co_await sink.fail(e, std::move(headers));
    out.error_code = e.code;
    co_return out;
  }

  if (context_failure) {
    // No target with a larger window could take it: the client gets the provider's own
    // context-length error, which tells it what to cut.
    out.status = context_failure->status;
    out.error_code = "context_length_exceeded";
    auto headers = response_headers(req, out);
    headers.emplace_back("content-type", "application/json");
    auto body = std::move(context_failure->body);
    co_await sink.send(out.status, std::move(headers), std::move(body));
    co_return out;
  }

  // Nothing could serve. Last resorts before an error: the degrade message.
  if (const auto* degrade = find_degrade(table, model);
      degrade && req.op != providers::Operation::embeddings) {
    metrics_.degraded(req.model);
    out.status = 200;
    out.degraded = true;
    out.provider = "degraded";
    out.served_model = req.model;
    auto headers = response_headers(req, out);
    headers.emplace_back("x-llmgw-degraded", "true");
    if (req.stream && req.op == providers::Operation::chat) {
      headers.emplace_back("content-type", "text/event-stream; charset=utf-8");
      headers.emplace_back("cache-control", "no-cache");
      auto body = api::synthetic_chat_stream(req.model, degrade->message);
      if (co_await sink.start_stream(200, std::move(headers))) {
        co_await sink.write(body);
        co_await sink.end_stream();
      }
    } else {
      headers.emplace_back("content-type", "application/json");
      auto body = req.op == providers::Operation::chat
                      ? api::synthetic_chat_completion(req.model, degrade->message)
                      : api::synthetic_text_completion(req.model, degrade->message);
      co_await sink.send(200, std::move(headers), std::move(body));
    }
    co_return out;
  }

  // Say exactly what happened to each target.
  bool all_timeouts = !targets.empty();
  for (const auto& p : targets) {
    all_timeouts = all_timeouts && p.last_failure &&
                   api::failure_policy(p.last_failure->cls).ingress_status == 504;
  }
  auto diagnosis = build_diagnosis(targets, plan.skipped, budget_exhausted, req.model);
  auto error = all_timeouts ? api::upstream_timeout("Upstream timed out: " + diagnosis)
                            : api::no_healthy_upstream(diagnosis);
  if (!all_timeouts) {
    metrics_.no_healthy_upstream(req.model);
  }
  out.status = error.status;
  out.error_code = error.code;
  auto headers = response_headers(req, out);
  co_await sink.fail(error, std::move(headers));
  co_return out;
}

}  // namespace llmgw::router
