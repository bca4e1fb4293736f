#include "router/attempt.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <nlohmann/json.hpp>

#include "llmgw/exchange/exchange.hpp"
#include "llmgw/metrics/metrics.hpp"

namespace llmgw::router {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using TimePoint = common::Clock::time_point;

double seconds_since(const RouterEnvironment& env, TimePoint t) {
  return std::chrono::duration<double>(env.clock->now() - t).count();
}

exchange::Target exchange_target(const PlannedTarget& p) {
  return {p.provider->adapter.get(), p.provider->config, &p.provider->endpoint, p.target};
}

// The hedged request: starts only after `delay`, unless the race is already over (the
// primary answered and this coroutine was cancelled while waiting). A hedge that fails does
// not end the race — the primary may still answer: its failure goes to `failed`, and it waits
// (until the primary's answer cancels the wait, or its own deadline).
asio::awaitable<upstream::Result<upstream::Response>> delayed_send(
    upstream::Transport& transport, const RouterEnvironment& env,
    const upstream::Endpoint& endpoint, providers::UpstreamRequest request,
    upstream::Deadline deadline, std::chrono::milliseconds delay, metrics::Metrics& metrics,
    const PlannedTarget& partner, std::string model, std::optional<api::Failure>& failed) {
  // (Named results, never a co_await inside a condition: g++ 12 miscompiles that.)
  const bool waited = co_await env.sleeper->sleep_for(delay);
  if (!waited) {
    co_return common::err(upstream::Error{api::FailureClass::cancelled, "hedge not needed"});
  }
  metrics.hedge(model);
  const auto t0 = env.clock->now();
  auto sent = co_await transport.send(endpoint, request, deadline);
  if (!sent) {
    metrics.upstream_request(partner.provider->config->name, api::to_string(sent.error().cls),
                             seconds_since(env, t0));
    api::Failure f;
    f.cls = sent.error().cls;
    f.message = sent.error().message;
    failed = std::move(f);
    const auto left = deadline - env.clock->now();
    co_await env.sleeper->sleep_for(left);
  }
  co_return sent;
}

AttemptResult gone_result(const PlannedTarget* served) {
  AttemptResult gone;
  gone.served_by = served;
  gone.finished = true;
  gone.client_gone = true;
  return gone;
}

}  // namespace

std::vector<providers::Header> response_headers(const CallRequest& req, const CallOutcome& out) {
  return {{"x-request-id", req.request_id},
          {"x-llmgw-provider", out.provider},
          {"x-llmgw-model", out.served_model},
          {"x-llmgw-attempts", std::to_string(out.attempts)}};
}

asio::awaitable<AttemptResult> run_attempt(upstream::Transport& transport,
                                           const RouterEnvironment& env, metrics::Metrics& metrics,
                                           const PlannedTarget& p, CallRequest& req,
                                           api::ResponseSink& sink, CallOutcome& out,
                                           StreamTracker& tracker, const HedgePlan& hedge,
                                           std::optional<api::Failure>& hedge_failure) {
  const auto& prov = *p.provider;
  const bool continuing = req.stream && tracker.has_identity();
  if (!continuing) {
    out.provider = prov.config->name;
    out.served_model = p.target->model;
  }
  providers::RequestOptions opts{req.stream, req.client_wants_usage, req.base64_embeddings,
                                 req.max_json_depth};
  const exchange::Correlation correlation{req.request_id, req.traceparent, req.tracestate};
  std::size_t appended = 0;
  std::optional<std::string> original_prompt;
  if (continuing && req.op == providers::Operation::completions) {
    original_prompt = extend_prompt(*req.body, tracker.text());  // (the router checked it can)
  } else if (continuing) {
    appended = append_continuation(*req.body, tracker.text());
  }
  auto ureq = exchange::render(exchange_target(p), req.op, *req.body, opts, correlation);
  if (appended > 0) {
    remove_appended(*req.body, appended);
  }
  if (original_prompt) {
    restore_prompt(*req.body, std::move(*original_prompt));
  }
  auto t0 = env.clock->now();
  // providers[].timeouts.total bounds this attempt (header and body); the request's own
  // deadline still bounds everything.
  auto deadline = exchange::attempt_deadline(*prov.config, t0, req.deadline);
  const PlannedTarget* served = &p;
  std::optional<upstream::Result<upstream::Response>> sent;
  if (hedge.partner && !continuing) {
    // Hedge: if the primary has not answered within the usual latency, a second request goes
    // to another target; the first answer wins and the other request is cancelled.
    const auto& hp = *hedge.partner;
    // The partner's own rendering and credentials; only the correlation headers are shared.
    auto hreq = exchange::render(exchange_target(hp), req.op, *req.body, opts, correlation);
    auto hedge_deadline = exchange::attempt_deadline(*hp.provider->config, t0, req.deadline);
    auto primary = transport.send(prov.endpoint, ureq, deadline);
    auto secondary =
        delayed_send(transport, env, hp.provider->endpoint, std::move(hreq), hedge_deadline,
                     hedge.after, metrics, hp, req.model, hedge_failure);
    auto winner = co_await (std::move(primary) || std::move(secondary));
    if (winner.index() == 0) {
      sent.emplace(std::move(std::get<0>(winner)));
    } else {
      hedge_failure.reset();  // the partner's outcome is the attempt's own
      sent.emplace(std::move(std::get<1>(winner)));
      served = &hp;
    }
  } else {
    sent.emplace(co_await transport.send(prov.endpoint, ureq, deadline));
  }
  auto& resp = *sent;
  const PlannedTarget& sp = *served;
  const auto& sprov = *sp.provider;
  const auto& provider_name = sprov.config->name;
  if (!continuing) {
    out.provider = provider_name;
    out.served_model = sp.target->model;
  }
  if (resp && resp->status() >= 200 && resp->status() < 300 && sprov.health) {
    sprov.health->record_header_latency(seconds_since(env, t0) * 1000.0);
  }
  if (!resp) {
    metrics.upstream_request(provider_name, api::to_string(resp.error().cls),
                             seconds_since(env, t0));
    AttemptResult failed;
    failed.failure.cls = resp.error().cls;
    failed.failure.message = resp.error().message;
    co_return failed;
  }
  int status = resp->status();
  if (status < 200 || status >= 300) {
    auto failure = co_await exchange::classify_error(*resp, *sprov.adapter);
    metrics.upstream_request(provider_name, api::to_string(failure.cls), seconds_since(env, t0));
    const auto policy = api::failure_policy(failure.cls);
    const bool larger_context_may_help =
        policy.fail_over == api::FailOver::larger_context && req.context_fallback;
    // A continuation cannot hand a client fault on: the client already has a 200 and half an
    // answer. It is that target's failure to continue; the stream then goes on elsewhere or
    // ends with an error event, never silently.
    if (policy.client_fault && !larger_context_may_help && !continuing) {
      // The client's own mistake: the provider's answer is the most useful one it can get.
      auto headers = response_headers(req, out);
      headers.emplace_back("content-type", "application/json");
      out.status = status;
      co_await sink.send(status, std::move(headers), std::move(failure.body));
      co_return AttemptResult{true, {}, false, false, served};
    }
    co_return AttemptResult{false, std::move(failure), false, false, served};
  }
  if (!req.stream) {
    auto translated =
        co_await exchange::read_answer(*resp, *sprov.adapter, req.op, opts, out.usage);
    if (!translated) {
      // A 2xx that is no answer: fail over like a 5xx, never hand it on as a success.
      metrics.upstream_request(provider_name, api::to_string(translated.error().cls),
                               seconds_since(env, t0));
      co_return AttemptResult{false, std::move(translated.error()), false, false, served};
    }
    metrics.upstream_request(provider_name, "success", seconds_since(env, t0));
    auto headers = response_headers(req, out);
    headers.emplace_back("content-type", "application/json");
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
        headers.emplace_back("content-type", "text/event-stream; charset=utf-8");
        headers.emplace_back("cache-control", "no-cache");
        out.status = 200;
        started = true;
        if (!co_await sink.start_stream(200, std::move(headers))) {
          out.status = 499;  // client went away; dropping `resp` closes the upstream
          metrics.upstream_request(provider_name, "success", header_seconds);
          co_return gone_result(served);
        }
        out.ttft_seconds = seconds_since(env, req.started);
      }
      if (filter) {
        pending = filter->rewrite(pending);
      }
      tracker.observe(pending);
      if (!co_await sink.write(pending)) {
        out.status = 499;
        metrics.upstream_request(provider_name, "success", header_seconds);
        co_return gone_result(served);
      }
      pending.clear();
    }
    if (eof) {
      out.usage = translator->usage();
      metrics.upstream_request(provider_name, "success", header_seconds);
      co_await sink.end_stream();
      co_return AttemptResult{true, {}, false, false, served};
    }
  }

  // Broken. Whatever was translated but not written yet is dropped: a continuation (or the
  // error event) follows what the client actually has.
  metrics.upstream_request(provider_name, api::to_string(broken->cls), header_seconds);
  AttemptResult result;
  result.served_by = served;
  result.broke_after_start = started;
  result.failure = std::move(*broken);
  co_return result;
}

}  // namespace llmgw::router
