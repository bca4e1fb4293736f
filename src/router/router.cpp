#include "llmgw/router/router.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "llmgw/api/errors.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "router/plan.hpp"

namespace llmgw::router {
namespace {

namespace asio = boost::asio;
using std::chrono::steady_clock;
constexpr std::size_t kMaxErrorBody = 1u << 20;
constexpr std::size_t kMaxResponseBody = 64u << 20;

double seconds_since(steady_clock::time_point t) {
  return std::chrono::duration<double>(steady_clock::now() - t).count();
}

std::vector<providers::Header> response_headers(const CallRequest& req, const CallOutcome& out) {
  return {{"x-request-id", req.request_id},
          {"x-llmgw-provider", out.provider},
          {"x-llmgw-model", out.served_model},
          {"x-llmgw-attempts", std::to_string(out.attempts)}};
}

struct AttemptResult {
  bool finished = false;  // a response went to the client; stop
  api::Failure failure;   // when !finished
};

}  // namespace

namespace {

asio::awaitable<AttemptResult> run_attempt(upstream::Client& client, metrics::Metrics& metrics,
                                           const PlannedTarget& p, CallRequest& req,
                                           ResponseSink& sink, CallOutcome& out) {
  const auto& prov = *p.provider;
  out.provider = prov.config->name;
  out.served_model = p.target->model;
  providers::RequestOptions opts{req.stream, req.client_wants_usage};
  auto ureq = prov.adapter->build_request(req.op, *req.body, *prov.config, *p.target, opts);
  ureq.headers.push_back({"x-request-id", req.request_id});
  if (!req.traceparent.empty()) {
    ureq.headers.push_back({"traceparent", req.traceparent});
    if (!req.tracestate.empty()) {
      ureq.headers.push_back({"tracestate", req.tracestate});
    }
  }
  auto t0 = steady_clock::now();
  // providers[].timeouts.total bounds this attempt (header and body); the request's own
  // deadline still bounds everything.
  auto attempt_deadline = std::min(req.deadline, t0 + prov.config->timeouts.total);
  auto resp = co_await client.send(prov.endpoint, ureq, attempt_deadline);
  if (!resp) {
    metrics.upstream_request(prov.config->name, api::to_string(resp.error().cls), seconds_since(t0));
    co_return AttemptResult{false, api::Failure{resp.error().cls, 0, std::nullopt,
                                                resp.error().message, {}}};
  }
  int status = resp->status();
  if (status < 200 || status >= 300) {
    auto body = co_await resp->read_all(kMaxErrorBody);
    auto retry_after = api::parse_retry_after(resp->header("retry-after-ms"),
                                              resp->header("retry-after"));
    auto failure = prov.adapter->classify_error(status, body ? *body : std::string(), retry_after);
    metrics.upstream_request(prov.config->name, api::to_string(failure.cls), seconds_since(t0));
    if (api::failure_policy(failure.cls).client_fault) {
      // The client's own mistake: the provider's answer is the most useful one it can get.
      auto headers = response_headers(req, out);
      headers.push_back({"content-type", "application/json"});
      out.status = status;
      co_await sink.send(status, std::move(headers), std::move(failure.body));
      co_return AttemptResult{true, {}};
    }
    co_return AttemptResult{false, std::move(failure)};
  }
  metrics.upstream_request(prov.config->name, "success", seconds_since(t0));

  if (!req.stream) {
    auto body = co_await resp->read_all(kMaxResponseBody);
    if (!body) {
      co_return AttemptResult{false, api::Failure{body.error().cls, status, std::nullopt,
                                                  body.error().message, {}}};
    }
    auto translated = prov.adapter->translate_response(req.op, std::move(*body), out.usage);
    auto headers = response_headers(req, out);
    headers.push_back({"content-type", "application/json"});
    out.status = 200;
    out.ttft_seconds = seconds_since(req.started);
    co_await sink.send(200, std::move(headers), std::move(translated));
    co_return AttemptResult{true, {}};
  }

  // Streaming: hold the 200 until the first translated event exists, so anything that fails
  // before it can still go to another target invisibly.
  auto translator = prov.adapter->make_stream_translator(req.op, opts);
  std::string pending;
  bool started = false;
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
        f.cls = api::FailureClass::protocol;
        f.status = 200;
        f.message = "bad stream";
        broken = std::move(f);
      }
      break;
    }
    if (!pending.empty()) {
      if (!started) {
        auto headers = response_headers(req, out);
        headers.push_back({"content-type", "text/event-stream; charset=utf-8"});
        headers.push_back({"cache-control", "no-cache"});
        out.status = 200;
        started = true;
        if (!co_await sink.start_stream(200, std::move(headers))) {
          out.status = 499;  // client went away; dropping `resp` closes the upstream
          co_return AttemptResult{true, {}};
        }
        out.ttft_seconds = seconds_since(req.started);
      }
      if (!co_await sink.write(pending)) {
        out.status = 499;
        co_return AttemptResult{true, {}};
      }
      pending.clear();
    }
    if (eof) {
      out.usage = translator->usage();
      co_await sink.end_stream();
      co_return AttemptResult{true, {}};
    }
  }

  if (!started) {
    AttemptResult result;
    result.failure = std::move(*broken);
    co_return result;
  }
  // Continuation on another target is the resilience issue's job; until then end the stream
  // with an error event the client's SDK raises, never a silent truncation.
  if (!pending.empty()) {
    co_await sink.write(pending);
  }
  api::GatewayError e{502, "upstream_stream_failed", "server_error",
                      "The upstream stream failed: " + broken->message, {}};
  std::string event = api::openai_stream_error_event(e);
  co_await sink.write(event);
  co_await sink.end_stream();
  out.error_code = e.code;
  co_return AttemptResult{true, {}};
}

}  // namespace

asio::awaitable<CallOutcome> Router::call(const RouteTable& table, CallRequest& req,
                                          ResponseSink& sink) {
  CallOutcome out;
  const auto* model = table.model(req.model);
  std::vector<std::string> skipped;
  auto plan = plan_targets(table, *model, req.op, skipped);
  const auto& retry = model->retry;
  auto max_attempts = std::max<std::size_t>(retry.attempts, plan.size());
  auto executor = co_await asio::this_coro::executor;
  thread_local std::mt19937_64 rng{std::random_device{}()};

  for (unsigned round = 0; out.attempts < max_attempts; ++round) {
    bool tried = false;
    for (auto& p : plan) {
      if (out.attempts >= max_attempts || steady_clock::now() >= req.deadline) {
        break;
      }
      if (round > 0) {
        if (!p.retry_again) {
          continue;
        }
        auto delay = backoff_delay(retry.backoff, round - 1, rng);
        if (p.last_failure && p.last_failure->retry_after) {
          delay = std::max(delay, *p.last_failure->retry_after);
        }
        if (steady_clock::now() + delay >= req.deadline) {
          continue;
        }
        asio::steady_timer timer(executor, delay);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      if (out.attempts > 0) {
        metrics_.retry(req.model, p.last_failure ? api::to_string(p.last_failure->cls)
                                                 : std::string_view("failover"));
        if (p.model != model && p.tries == 0 && p.target == &p.model->targets.front()) {
          metrics_.fallback(req.model, p.model->name);
        }
      }
      ++out.attempts;
      ++p.tries;
      tried = true;
      auto result = co_await run_attempt(client_, metrics_, p, req, sink, out);
      if (result.finished) {
        if (out.status == 200) {
          out.cost_usd = (static_cast<double>(out.usage.prompt_tokens) * p.target->price.input_per_mtok +
                          static_cast<double>(out.usage.completion_tokens) * p.target->price.output_per_mtok) /
                         1e6;
          metrics_.tokens(out.provider, out.served_model, out.usage.prompt_tokens,
                          out.usage.completion_tokens);
        }
        co_return out;
      }
      auto policy = api::failure_policy(result.failure.cls);
      p.retry_again = policy.retry_same_target && retry_allowed(retry, result.failure);
      p.last_failure = std::move(result.failure);
    }
    if (!tried) {
      break;
    }
  }

  // Nothing could serve: say exactly what happened to each target.
  std::string diagnosis;
  bool all_timeouts = !plan.empty();
  for (const auto& p : plan) {
    if (!diagnosis.empty()) {
      diagnosis += "; ";
    }
    diagnosis += p.provider->config->name + " (" + p.target->model + "): ";
    if (p.last_failure) {
      diagnosis += p.last_failure->message;
      if (p.tries > 1) {
        diagnosis += " after " + std::to_string(p.tries) + " tries";
      }
      all_timeouts = all_timeouts && (p.last_failure->cls == api::FailureClass::timeout);
    } else {
      diagnosis += "not tried (attempt limit or deadline reached)";
    }
  }
  for (const auto& s : skipped) {
    diagnosis += (diagnosis.empty() ? "" : "; ") + s;
  }
  if (diagnosis.empty()) {
    diagnosis = "model '" + req.model + "' has no targets";
  }
  auto error = all_timeouts ? api::upstream_timeout("Upstream timed out: " + diagnosis)
                            : api::no_healthy_upstream(diagnosis);
  if (!all_timeouts) {
    metrics_.no_healthy_upstream(req.model);
  }
  out.status = error.status;
  out.error_code = error.code;
  auto headers = response_headers(req, out);
  headers.push_back({"content-type", "application/json"});
  co_await sink.send(error.status, std::move(headers), api::openai_error_body(error));
  co_return out;
}

}  // namespace llmgw::router
