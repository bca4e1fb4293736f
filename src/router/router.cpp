#include "llmgw/router/router.hpp"

#include <boost/asio/this_coro.hpp>
#include <cctype>
#include <nlohmann/json.hpp>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/synthetic.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "router/answer_watch.hpp"
#include "router/attempt.hpp"
#include "router/attempt_state.hpp"
#include "router/plan.hpp"
#include "router/select.hpp"

namespace llmgw::router {
namespace {

namespace asio = boost::asio;
using TimePoint = common::Clock::time_point;

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

// When every target would have to change the request's meaning, that is the client's to fix:
// the error names the parameter (or JSON path) at fault, where the adapters' explanations
// start.
std::optional<api::GatewayError> unservable(const Plan& plan) {
  if (!plan.targets.empty() || plan.unsupported.empty() ||
      plan.unsupported.size() != plan.skipped.size()) {
    return std::nullopt;
  }
  std::string why;
  for (const auto& u : plan.unsupported) {
    why += (why.empty() ? "" : "; ") + u;
  }
  std::string_view first = plan.unsupported.front();
  std::size_t n = 0;
  while (n < first.size() &&
         (std::isalnum(static_cast<unsigned char>(first[n])) || first[n] == '_' ||
          first[n] == '.' || first[n] == '[' || first[n] == ']')) {
    ++n;
  }
  return api::invalid_request("This request cannot be served as asked: " + why,
                              std::string(first.substr(0, n)));
}

// What an attempt on the canary target tells the canary (it judges itself on its traffic).
void record_canary(CanaryState& canary, const AttemptResult& result, const CallOutcome& out,
                   TimePoint now) {
  if (result.client_gone) {
    return;
  }
  if (result.held) {
    canary.on_result(now, true);  // it answered; what it said is a bad answer
    canary.on_bad_answer(now);
    return;
  }
  if (!result.finished || result.broke_after_start) {
    if (api::failure_policy(result.failure.cls).harms_target) {
      canary.on_result(now, false);
    }
    return;
  }
  if (out.status >= 200 && out.status < 300) {
    canary.on_result(now, true);
    if (retry_worthy(result.signals)) {
      canary.on_bad_answer(now);
    }
  }
}

// Serves an answer held back as bad after every other target failed to do better.
asio::awaitable<void> serve_held(HeldAnswer& held, const CallRequest& req, CallOutcome& out,
                                 api::ResponseSink& sink) {
  out.provider = held.provider;
  out.served_model = held.served_model;
  out.usage = held.usage;
  out.status = 200;
  out.cost_usd = providers::cost_usd(out.usage, held.price);
  if (req.capture_answer && req.op == providers::Operation::chat) {
    out.answer = assistant_message_of(held.body);
  }
  auto headers = response_headers(req, out);
  headers.emplace_back("content-type", "application/json");
  headers.emplace_back("x-llmgw-bad-answer", std::string(health::to_string(held.signal)));
  const bool sent = co_await sink.send(200, std::move(headers), std::move(held.body));
  if (!sent) {
    out.answer.clear();  // the client never got it: not a turn of its conversation
  }
}

// What one finished or failed attempt tells the target's health.
void record_health(health::TargetHealth& health, const PlannedTarget& p,
                   const AttemptResult& result, const CallOutcome& out, TimePoint now) {
  if (!result.finished) {
    health.on_failure(now, result.failure);
  } else if (result.client_gone) {
    health.on_abandoned(now);
  } else if (result.broke_after_start) {
    health.on_failure(now, result.failure);
  } else if (out.status >= 200 && out.status < 300) {
    std::optional<double> ttft;
    if (out.ttft_seconds >= 0) {
      ttft = out.ttft_seconds * 1000.0;
    }
    health.on_success(now, ttft);
    if (p.last_resort) {
      health.reinstate(now);  // a success is evidence: routable again at once
    }
  } else {
    health.on_abandoned(now);  // a client-fault answer: the target is fine
  }
}

// W3C trace context: each attempt is its own span, so each carries its own parent id upstream
// (never all zeros). Drawn from the router's engine: simulated tests see the same ids.
std::array<char, 16> new_attempt_span(std::string& traceparent, std::mt19937_64& rng) {
  std::array<char, 16> id{};
  if (traceparent.size() != 55) {
    return id;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t bits = 0;
  while (bits == 0) {
    bits = rng();
  }
  for (int i = 15; i >= 0; --i) {
    id[static_cast<std::size_t>(i)] = kHex[bits & 0xf];
    bits >>= 4;
  }
  traceparent.replace(36, 16, id.data(), id.size());
  return id;
}

// The access log's and the trace's account of one attempt.
AttemptRecord attempt_record(const PlannedTarget& served, const AttemptResult& result,
                             const CallOutcome& out, TimePoint started, TimePoint now) {
  AttemptRecord r;
  r.provider = served.provider;
  r.target = served.target;
  r.started = started;
  r.seconds = std::chrono::duration<double>(now - started).count();
  if (result.finished && !result.broke_after_start) {
    // An answer went out: a success, or the upstream's client fault passed on as it was.
    r.status = out.status;
    const bool ok = out.status >= 200 && out.status < 300;
    r.outcome = ok ? "success" : api::to_string(api::status_failure_class(out.status));
  } else {
    r.status = result.failure.status;
    r.outcome = api::to_string(result.failure.cls);
  }
  return r;
}

bool cancelled(const asio::cancellation_state& state) {
  return state.cancelled() != asio::cancellation_type::none;
}

}  // namespace

asio::awaitable<CallOutcome> Router::call(const RouteTable& table, CallRequest& req,
                                          api::ResponseSink& sink) {
  CallOutcome out;
  const auto& clock = *env_.clock;
  const auto* model_route = table.model_route(req.model);
  if (!model_route->config->select.empty() && req.body) {
    // models[].select: another model serves this request (its targets, strategy, retries).
    if (const auto* chosen = select_model(table, *model_route->config, *req.body,
                                          req.select_headers)) {
      if (const auto* chosen_route = table.model_route(chosen->name)) {
        metrics_.model_selected(req.model, chosen->name);
        model_route = chosen_route;
      }
    }
  }
  const auto& model = *model_route->config;
  PlanInput input;
  input.op = req.op;
  input.now = clock.now();
  input.body_bytes = req.body_bytes;
  input.max_output_tokens = req.max_output_tokens;
  input.preferred_region = req.preferred_region;
  input.hint = req.route_hint;
  input.body = req.body;
  if (model_route->retry_budget) {
    model_route->retry_budget->on_request(input.now);
  }
  auto plan = plan_targets(table, model, input, rng_);
  if (auto error = unservable(plan)) {
    out.status = error->status;
    out.error_code = error->code;
    auto headers = response_headers(req, out);
    co_await sink.fail(*error, std::move(headers));
    co_return out;
  }
  req.context_fallback = model.context.overflow == config::Overflow::fallback_larger;
  req.context_reject = model.context.overflow == config::Overflow::reject;
  req.tokenizers = table.tokenizers();
  req.table = &table;
  AttemptState state(table, *model_route, std::move(plan), req, rng_);
  if (req.capture_answer) {
    state.tracker().keep_tool_calls();
  }
  // The first answer held back as bad (on_bad_answer: retry_elsewhere): served when no other
  // target does better, since a doubtful answer beats none.
  std::optional<HeldAnswer> held;

  for (;;) {
    const auto cancellation = co_await asio::this_coro::cancellation_state;
    if (cancelled(cancellation)) {
      out.status = 499;  // the client hung up; nothing more to do for it
      out.error_code = "client_closed_request";
      co_return out;
    }
    auto step = state.next(clock.now());
    if (step.kind == Step::Kind::end) {
      break;
    }
    if (step.kind == Step::Kind::wait) {
      co_await env_.sleeper->sleep_for(step.wait);
      continue;
    }
    auto& p = *step.target;
    if (!step.retry_reason.empty()) {
      metrics_.retry(req.model, step.retry_reason);
    }
    if (!step.fallback_from.empty()) {
      metrics_.fallback(step.fallback_from, p.model->name);
    }
    out.attempts = state.attempts();
    auto* health = p.provider->health.get();
    AttemptResult result;
    RaceLosses losses;
    bool client_gone = false;
    const auto attempt_started = clock.now();
    const auto span_id = new_attempt_span(req.traceparent, rng_);
    try {
      InflightGuard inflight(health);
      result = co_await run_attempt(transport_, env_, metrics_, p, req, sink, out, state.tracker(),
                                    step.hedge, losses);
    } catch (const boost::system::system_error&) {
      // The client hung up (the server cancelled this request): the upstream call is already
      // abandoned; the target did nothing wrong.
      client_gone = true;
    }
    const auto after = co_await asio::this_coro::cancellation_state;
    client_gone = client_gone || cancelled(after);
    auto now = clock.now();
    if (client_gone) {
      if (health) {
        health->on_abandoned(now);
      }
      auto& gone = out.attempt_log.emplace_back(
          attempt_record(result.served_by ? *result.served_by : p, result, out, attempt_started,
                         now));
      gone.outcome = api::to_string(api::FailureClass::cancelled);
      gone.span_id = span_id;
      out.status = 499;
      out.error_code = "client_closed_request";
      co_return out;
    }
    // A hedge racer that failed while the other decided the attempt: its own failure.
    const auto charge_loss = [&](const PlannedTarget& racer, api::Failure failure) {
      if (auto* racer_health = racer.provider->health.get()) {
        racer_health->on_failure(now, failure);
      }
      state.on_race_loss(racer, std::move(failure));
    };
    if (losses.hedge && step.hedge.partner) {
      charge_loss(*step.hedge.partner, std::move(*losses.hedge));
    }
    // Who decided the attempt: the hedge partner when it answered first, else the target.
    const PlannedTarget& served = result.served_by ? *result.served_by : p;
    out.attempt_log.push_back(attempt_record(served, result, out, attempt_started, now));
    out.attempt_log.back().span_id = span_id;
    if (&served != &p) {
      // The primary failed before the partner answered (its own failure) or was cancelled
      // (not its fault); what follows is the partner's outcome.
      if (losses.primary) {
        charge_loss(p, std::move(*losses.primary));
      } else if (health) {
        health->on_abandoned(now);
      }
      health = served.provider->health.get();
    }
    if (result.held) {
      // The target answered; what was wrong is its content, which its live signals count.
      if (health) {
        health->on_success(now, std::nullopt);
      }
      if (!held) {
        held = std::move(result.held);
        req.holding_answer = true;
      }
    } else if (health) {
      record_health(*health, served, result, out, now);
    }
    if (served.canary) {
      record_canary(*served.canary, result, out, now);
    }
    if (p.quota_tokens > 0) {
      // The provider counted what it served; a failed attempt used no tokens.
      if (auto* primary = p.provider->health.get()) {
        const bool served_here = &served == &p && result.finished && !result.broke_after_start;
        primary->settle_quota(
            p.quota_tokens,
            served_here ? static_cast<double>(out.usage.prompt_tokens + out.usage.completion_tokens)
                        : 0,
            now);
      }
      p.quota_tokens = 0;
    }
    const auto verdict = state.on_result(p, result);
    if (verdict == Verdict::ended) {
      // The gateway itself gave up on the request (cancelled): nobody waits for an answer.
      out.status = api::failure_policy(result.failure.cls).ingress_status;
      out.error_code = "client_closed_request";
      co_return out;
    }
    if (verdict == Verdict::served) {
      if (state.continued()) {
        metrics_.stream_continuation(req.model, out.status == 200 ? "ok" : "client_gone");
      }
      if (out.status == 200) {
        if (req.capture_answer && req.stream && req.op == providers::Operation::chat) {
          out.answer = state.tracker().assistant_message();
        }
        out.cost_usd = providers::cost_usd(out.usage, served.target->price);
        metrics_.tokens(out.provider, out.served_model, out.usage.prompt_tokens,
                        out.usage.completion_tokens);
      }
      co_return out;
    }
  }

  if (held) {
    co_await serve_held(*held, req, out, sink);
    metrics_.tokens(out.provider, out.served_model, out.usage.prompt_tokens,
                    out.usage.completion_tokens);
    co_return out;
  }
  const auto ending = state.conclude(sink.started());
  if (state.budget_exhausted()) {
    metrics_.retry_budget_exhausted(req.model);
  }
  auto headers = response_headers(req, out);
  // Nothing could answer: an expired cached answer beats the degrade message and an error.
  const bool outage = ending.kind == Ending::Kind::degrade ||
                      ending.kind == Ending::Kind::no_healthy_upstream ||
                      ending.kind == Ending::Kind::upstream_timeout;
  if (outage && req.last_resort && !sink.started()) {
    auto copy = headers;
    auto serving = req.last_resort->serve(req, std::move(copy), out, sink);
    const bool served = co_await std::move(serving);
    if (served) {
      co_return out;
    }
  }
  switch (ending.kind) {
    case Ending::Kind::stream_failed: {
      metrics_.stream_continuation(req.model, "failed");
      api::GatewayError e{502, "upstream_stream_failed", "server_error", ending.message, {}};
      out.error_code = e.code;
      co_await sink.fail(e, std::move(headers));
      co_return out;
    }
    case Ending::Kind::context_length: {
      out.status = ending.context_failure->status;
      out.error_code = "context_length_exceeded";
      headers = response_headers(req, out);
      if (ending.context_failure->body.empty()) {
        // The gateway's own count said it does not fit: its error, in the client's format.
        api::GatewayError e{400, "context_length_exceeded", "invalid_request_error",
                            ending.context_failure->message, "messages"};
        co_await sink.fail(e, std::move(headers));
        co_return out;
      }
      headers.emplace_back("content-type", "application/json");
      auto body = ending.context_failure->body;
      co_await sink.send(out.status, std::move(headers), std::move(body));
      co_return out;
    }
    case Ending::Kind::degrade: {
      metrics_.degraded(req.model);
      out.status = 200;
      out.degraded = true;
      out.provider = "degraded";
      out.served_model = req.model;
      headers = response_headers(req, out);
      headers.emplace_back("x-llmgw-degraded", "true");
      const auto& message = ending.degrade->message;
      if (req.stream && req.op == providers::Operation::chat) {
        headers.emplace_back("content-type", "text/event-stream; charset=utf-8");
        headers.emplace_back("cache-control", "no-cache");
        auto body = api::synthetic_chat_stream(req.model, message);
        const bool started = co_await sink.start_stream(200, std::move(headers));
        if (started) {
          co_await sink.write(body);
          co_await sink.end_stream();
        }
      } else {
        headers.emplace_back("content-type", "application/json");
        auto body = req.op == providers::Operation::chat
                        ? api::synthetic_chat_completion(req.model, message)
                        : api::synthetic_text_completion(req.model, message);
        co_await sink.send(200, std::move(headers), std::move(body));
      }
      co_return out;
    }
    case Ending::Kind::upstream_timeout:
    case Ending::Kind::no_healthy_upstream:
      break;
  }
  const bool timed_out = ending.kind == Ending::Kind::upstream_timeout;
  auto error =
      timed_out ? api::upstream_timeout(ending.message) : api::no_healthy_upstream(ending.message);
  if (!timed_out) {
    metrics_.no_healthy_upstream(req.model);
  }
  out.status = error.status;
  out.error_code = error.code;
  headers = response_headers(req, out);
  co_await sink.fail(error, std::move(headers));
  co_return out;
}

}  // namespace llmgw::router
