#include "router/attempt.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <nlohmann/json.hpp>

#include "llmgw/api/json.hpp"
#include "llmgw/exchange/exchange.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "router/answer_watch.hpp"
#include "router/context_fit.hpp"
#include "router/summarize.hpp"

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

// What one request to one target brings back: a 2xx response whose body is still to read, or
// why not (a transport failure, or a non-2xx answer classified by the adapter; a client fault
// keeps the provider's body to pass on).
using Reply = common::Result<upstream::Response, api::Failure>;

asio::awaitable<Reply> send_and_classify(upstream::Transport& transport,
                                         const upstream::Endpoint& endpoint,
                                         const providers::UpstreamRequest& request,
                                         upstream::Deadline deadline,
                                         const providers::ProviderAdapter& adapter) {
  auto sent = co_await transport.send(endpoint, request, deadline);
  if (!sent) {
    api::Failure f;
    f.cls = sent.error().cls;
    f.message = std::move(sent.error().message);
    co_return common::err(std::move(f));
  }
  const int status = sent->status();
  if (status < 200 || status >= 300) {
    auto failure = co_await exchange::classify_error(*sent, adapter);
    co_return common::err(std::move(failure));
  }
  co_return std::move(*sent);
}

// A hedged attempt is a race of two requests; the first answer wins and the other is
// cancelled. A racer that fails does not end the race while the other is still in flight (it
// may yet answer): it leaves its failure for the router (which charges that target) and waits,
// until the other's answer cancels the wait or its own deadline passes. The second failure
// ends the race at once. A client fault ends it too: the other target would say the same.
struct Race {
  bool hedge_sent = false;  // the hedge's delay is over and its request in flight
  bool primary_failed = false;
  bool hedge_failed = false;
};

struct Racer {
  upstream::Transport& transport;
  const RouterEnvironment& env;
  metrics::Metrics& metrics;
  const PlannedTarget& target;
  upstream::Deadline deadline;
};

bool keeps_racing(const Reply& reply) {
  return !reply && !api::failure_policy(reply.error().cls).client_fault;
}

// A racer's result when the other racer's answer cancelled its wait (never used: the other's
// result is the race's).
api::Failure lost_race() {
  api::Failure f;
  f.cls = api::FailureClass::cancelled;
  f.message = "lost the race";
  return f;
}

// What racer `r` makes of its reply (sent at t0). A failure while the other racer is still in
// the race (`other_running`) is not the race's result: it goes to `failed` (for the router),
// `i_failed` tells the other racer, and `r` waits. The other's answer cancels the wait; when
// the wait runs out first, the failure is the race's result after all.
asio::awaitable<Reply> settle(const Racer& r, Reply& reply, TimePoint t0,
                              bool other_running, bool& i_failed,
                              std::optional<api::Failure>& failed) {
  if (!keeps_racing(reply) || !other_running) {
    co_return std::move(reply);
  }
  i_failed = true;
  failed = std::move(reply.error());
  const double took = seconds_since(r.env, t0);
  const auto left = r.deadline - r.env.clock->now();
  const bool expired = co_await r.env.sleeper->sleep_for(left);
  if (expired) {
    auto f = std::move(*failed);
    failed.reset();
    co_return common::err(std::move(f));
  }
  r.metrics.upstream_request(r.target.provider->config->name, api::to_string(failed->cls),
                             took);
  auto lost = lost_race();
  co_return common::err(std::move(lost));
}

asio::awaitable<Reply> race_primary(Racer r, const providers::UpstreamRequest& request,
                                    Race& race, std::optional<api::Failure>& failed) {
  const auto t0 = r.env.clock->now();
  auto reply = co_await send_and_classify(r.transport, r.target.provider->endpoint, request,
                                          r.deadline, *r.target.provider->adapter);
  const bool hedge_running = race.hedge_sent && !race.hedge_failed;
  auto outcome = co_await settle(r, reply, t0, hedge_running, race.primary_failed, failed);
  co_return outcome;
}

// The hedged request: starts only after `delay`, unless the race is already over (the
// primary answered and this coroutine was cancelled while waiting).
asio::awaitable<Reply> race_hedge(Racer r, providers::UpstreamRequest request,
                                  std::chrono::milliseconds delay, std::string model, Race& race,
                                  std::optional<api::Failure>& failed) {
  // (Named results, never a co_await inside a condition: g++ 12 miscompiles that.)
  const bool waited = co_await r.env.sleeper->sleep_for(delay);
  if (!waited) {
    auto lost = lost_race();  // the primary answered first: the hedge is not needed
    co_return common::err(std::move(lost));
  }
  race.hedge_sent = true;
  r.metrics.hedge(model);
  const auto t0 = r.env.clock->now();
  auto reply = co_await send_and_classify(r.transport, r.target.provider->endpoint, request,
                                          r.deadline, *r.target.provider->adapter);
  const bool primary_running = !race.primary_failed;
  auto outcome = co_await settle(r, reply, t0, primary_running, race.hedge_failed, failed);
  co_return outcome;
}

// The next complete event of the translated stream in `rest` (translators write whole
// "data: ...\n\n" events), removed from it.
std::string_view next_event(std::string_view& rest) {
  const auto end = rest.find("\n\n");
  const auto size = end == std::string_view::npos ? rest.size() : end + 2;
  auto event = rest.substr(0, size);
  rest.remove_prefix(size);
  return event;
}

// An event's data: what follows "data: ", without the blank line.
std::string_view event_data(std::string_view event) {
  if (!event.starts_with("data: ")) {
    return {};
  }
  event.remove_prefix(6);
  while (!event.empty() && event.back() == '\n') {
    event.remove_suffix(1);
  }
  return event;
}

// A translated chunk: an object, within the default depth (the client's parser may recurse).
std::optional<nlohmann::json> parse_chunk(std::string_view data) {
  auto parsed = api::parse_json(data, api::JsonLimits{api::kDefaultMaxJsonDepth, false});
  if (!parsed || !parsed->is_object()) {
    return std::nullopt;
  }
  return std::move(*parsed);
}

// Hands the events translated so far to the client, as one batch (the face writes it at
// once). Each canonical event is parsed at most once, here, and only for a face that renders
// it; the tracker reads that chunk, or scans the event when the face relays bytes. When the
// client speaks the upstream's dialect (`native` holds its events), the canonical events are
// only tracked and the native ones go out as they came. `batch` and `chunks` are the caller's,
// reused from one read to the next. Returns false when the client is gone.
asio::awaitable<bool> deliver(api::ResponseSink& sink, StreamTracker& tracker,
                              std::string_view pending, const std::string* native,
                              std::vector<api::StreamEvent>& batch,
                              std::vector<nlohmann::json>& chunks) {
  const bool render = native == nullptr && sink.wants_chunks();
  batch.clear();
  chunks.clear();
  if (render) {
    // Every event's chunk must stay where it is until the batch is written.
    std::size_t events = 1;
    for (auto at = pending.find("\n\n"); at != std::string_view::npos;
         at = pending.find("\n\n", at + 2)) {
      ++events;
    }
    chunks.reserve(events);
  }
  std::string_view rest = pending;
  while (!rest.empty()) {
    api::StreamEvent ev;
    ev.sse = next_event(rest);
    const auto data = event_data(ev.sse);
    ev.done = data == "[DONE]";
    std::optional<nlohmann::json> chunk;
    if (!ev.done && render) {
      chunk = parse_chunk(data);
    }
    if (chunk) {
      chunks.push_back(std::move(*chunk));
      ev.chunk = &chunks.back();
      tracker.observe_chunk(chunks.back());
    } else if (!ev.done) {
      tracker.observe_data(data);  // the bytes go as they are: nothing to build
    }
    if (native == nullptr) {
      batch.push_back(ev);
    }
  }
  if (native != nullptr) {
    rest = *native;
    while (!rest.empty()) {
      api::StreamEvent ev;
      ev.sse = next_event(rest);
      ev.native = true;
      batch.push_back(ev);
    }
  }
  if (batch.empty()) {
    co_return true;
  }
  co_return co_await sink.events(batch);
}

// Whether the client speaks the target's own dialect, other than the canonical one (which
// every face already relays as it is).
bool native_dialect(const api::ResponseSink& sink, const providers::ProviderAdapter& adapter) {
  return sink.dialect() != api::Dialect::openai && sink.dialect() == adapter.dialect();
}

AttemptResult hold(std::string body, const CallOutcome& out, health::Signal signal,
                   const PlannedTarget* served) {
  AttemptResult result;
  result.failure = held_back(signal);
  result.served_by = served;
  result.held = HeldAnswer{std::move(body), out.usage, out.provider,
                           out.served_model, signal, served->target->price};
  return result;
}

// context.overflow: summarize — a note from the summarizer stands in for the dropped turns;
// when it cannot answer, the request goes on truncated.
asio::awaitable<void> summarize_dropped(upstream::Transport& transport,
                                        const RouterEnvironment& env, metrics::Metrics& metrics,
                                        const PlannedTarget& p, CallRequest& req, Fitted& fitted,
                                        CallOutcome& out) {
  if (req.summary_of != fitted.drop.size() || req.summary_text.empty()) {
    const auto& summarizer = p.model->context.summarizer;
    auto dropped = dropped_messages(*req.body, fitted.drop);
    auto ask = summary_request(summarizer, dropped, req.session_summary);
    std::string why;
    auto made = co_await summarize(transport, *env.clock, *req.table, summarizer,
                                   std::move(ask), req.deadline, why);
    if (!made) {
      metrics.context_fit("summarizer_failed");
      co_return;
    }
    req.summary_of = fitted.drop.size();
    req.summary_text = std::move(*made);
  }
  insert_summary(*fitted.body, req.summary_text);
  metrics.context_fit("summarized");
  // Of the dropped messages, the session's stored ones are replaced by the summary there too.
  const auto first = req.session_history_begin;
  for (auto i : fitted.drop) {
    if (i >= first && i < first + req.session_history) {
      ++out.summarized;
    }
  }
  if (out.summarized > 0) {
    out.summary = req.summary_text;
  }
}

// How far the gateway's count was from the provider's own, when it counted.
void report_estimate(metrics::Metrics& metrics, const std::string& provider,
                     std::uint64_t counted, const providers::Usage& usage) {
  if (counted > 0 && usage.prompt_tokens > 0) {
    const auto reported = static_cast<double>(usage.prompt_tokens);
    metrics.token_estimate_error(provider, (static_cast<double>(counted) - reported) / reported);
  }
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
  std::vector<providers::Header> headers{{"x-request-id", req.request_id},
                                         {"x-llmgw-provider", out.provider},
                                         {"x-llmgw-model", out.served_model},
                                         {"x-llmgw-attempts", std::to_string(out.attempts)}};
  if (!req.session_id.empty()) {
    headers.emplace_back("x-llmgw-session", std::string(req.session_id));
  }
  if (req.extra_headers) {
    headers.insert(headers.end(), req.extra_headers->begin(), req.extra_headers->end());
  }
  return headers;
}

std::string assistant_message_of(std::string_view canonical_answer) {
  auto answer = nlohmann::json::parse(canonical_answer, nullptr, false);
  if (!answer.is_object()) {
    return {};
  }
  auto choices = answer.find("choices");
  if (choices == answer.end() || !choices->is_array() || choices->empty()) {
    return {};
  }
  auto message = (*choices)[0].find("message");
  if (message == (*choices)[0].end() || !message->is_object()) {
    return {};
  }
  nlohmann::json kept = nlohmann::json::object();
  for (const auto& [k, v] : message->items()) {
    if (!v.is_null() || k == "content") {
      kept[k] = v;  // null extras (refusal, audio) say nothing worth storing
    }
  }
  return kept.dump();
}

asio::awaitable<AttemptResult> run_attempt(upstream::Transport& transport,
                                           const RouterEnvironment& env, metrics::Metrics& metrics,
                                           const PlannedTarget& p, CallRequest& req,
                                           api::ResponseSink& sink, CallOutcome& out,
                                           StreamTracker& tracker, const HedgePlan& hedge,
                                           RaceLosses& losses) {
  const auto& prov = *p.provider;
  const bool continuing = req.stream && tracker.has_identity();
  if (!continuing) {
    out.provider = prov.config->name;
    out.served_model = p.target->model;
  }
  providers::RequestOptions opts{req.stream, req.client_wants_usage, req.base64_embeddings,
                                 req.max_json_depth};
  const exchange::Correlation correlation{req.request_id, req.traceparent, req.tracestate};
  // The request as this target can take it (models[].context); a continuation is not
  // fitted again.
  Fitted fitted;
  if (!continuing) {
    fitted = fit_for_target(req, p);
    if (!fitted.action.empty() && !fitted.summarize) {
      metrics.context_fit(fitted.action);
    }
    if (fitted.failure) {
      AttemptResult unfit;
      unfit.failure = std::move(*fitted.failure);
      unfit.served_by = &p;
      co_return unfit;
    }
    out.summarized = 0;
    out.summary.clear();
    if (fitted.summarize && req.table) {
      co_await summarize_dropped(transport, env, metrics, p, req, fitted, out);
    }
  }
  nlohmann::json& sent_body = fitted.body ? *fitted.body : *req.body;
  std::size_t appended = 0;
  std::size_t left_out_space = 0;  // what a prefill left out of the partial answer
  std::optional<std::string> original_prompt;
  if (continuing && req.op == providers::Operation::completions) {
    original_prompt = extend_prompt(*req.body, tracker.text());  // (the router checked it can)
  } else if (continuing) {
    // Prefill where the provider continues it itself, unless the partial answer is only
    // whitespace or extended thinking is on (Anthropic takes no prefill with thinking).
    const auto& partial = tracker.text();
    const bool prefill = prov.adapter->continues_prefill() &&
                         trailing_space(partial) < partial.size() &&
                         !providers::thinking_enabled(*req.body);
    if (prefill) {
      left_out_space = trailing_space(partial);
    }
    appended = append_continuation(
        *req.body, partial, prefill ? ContinuationForm::prefill : ContinuationForm::instruction);
  }
  auto ureq = exchange::render(exchange_target(p), req.op, sent_body, opts, correlation);
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
  std::optional<Reply> reply;
  // (A request fitted to this target's window is not hedged: the partner's window differs.)
  if (hedge.partner && !continuing && !fitted.body) {
    // Hedge: if the primary has not answered within the usual latency, a second request goes
    // to another target; the first answer wins and the other request is cancelled.
    const auto& hp = *hedge.partner;
    // The partner's own rendering and credentials; only the correlation headers are shared.
    auto hreq = exchange::render(exchange_target(hp), req.op, sent_body, opts, correlation);
    auto hedge_deadline = exchange::attempt_deadline(*hp.provider->config, t0, req.deadline);
    Race race;
    auto primary =
        race_primary(Racer{transport, env, metrics, p, deadline}, ureq, race, losses.primary);
    auto secondary = race_hedge(Racer{transport, env, metrics, hp, hedge_deadline},
                                std::move(hreq), hedge.after, req.model, race, losses.hedge);
    auto winner = co_await (std::move(primary) || std::move(secondary));
    if (winner.index() == 0) {
      reply.emplace(std::move(std::get<0>(winner)));
    } else {
      reply.emplace(std::move(std::get<1>(winner)));
      served = &hp;
    }
  } else {
    reply.emplace(co_await send_and_classify(transport, prov.endpoint, ureq, deadline,
                                             *prov.adapter));
  }
  const PlannedTarget& sp = *served;
  const auto& sprov = *sp.provider;
  const auto& provider_name = sprov.config->name;
  if (!continuing) {
    out.provider = provider_name;
    out.served_model = sp.target->model;
  }
  if (!*reply) {
    auto& failure = reply->error();
    metrics.upstream_request(provider_name, api::to_string(failure.cls), seconds_since(env, t0));
    const auto policy = api::failure_policy(failure.cls);
    const bool larger_context_may_help =
        policy.fail_over == api::FailOver::larger_context && req.context_fallback;
    // A continuation cannot hand a client fault on: the client already has a 200 and half an
    // answer. It is that target's failure to continue; the stream then goes on elsewhere or
    // ends with an error event, never silently.
    if (policy.client_fault && !larger_context_may_help && !continuing && !req.holding_answer) {
      // The client's own mistake: the provider's answer is the most useful one it can get.
      auto headers = response_headers(req, out);
      headers.emplace_back("content-type", "application/json");
      out.status = failure.status;
      co_await sink.send(failure.status, std::move(headers), std::move(failure.body));
      co_return AttemptResult{true, {}, false, false, served, {}, {}};
    }
    co_return AttemptResult{false, std::move(failure), false, false, served, {}, {}};
  }
  auto& resp = reply->value();
  if (sprov.health) {
    sprov.health->record_header_latency(seconds_since(env, t0) * 1000.0);
  }
  if (!req.stream) {
    opts.native = native_dialect(sink, *sprov.adapter) && !req.capture_answer;
    auto translated =
        co_await exchange::read_answer(resp, *sprov.adapter, req.op, opts, out.usage);
    if (!translated) {
      // A 2xx that is no answer: fail over like a 5xx, never hand it on as a success.
      metrics.upstream_request(provider_name, api::to_string(translated.error().cls),
                               seconds_since(env, t0));
      co_return AttemptResult{false, std::move(translated.error()), false, false, served,
                            {}, {}};
    }
    metrics.upstream_request(provider_name, "success", seconds_since(env, t0));
    report_estimate(metrics, provider_name, fitted.counted, out.usage);
    health::SignalSet shown;
    if (!opts.native && watches(sp, req.op)) {
      const auto now = env.clock->now();
      const auto watched = watch_complete(sp, metrics, *translated, *req.body, out.usage, now,
                                          now - t0);
      shown = watched.shown;
      if (watched.hold) {
        metrics.bad_answer_retry(provider_name, health::to_string(*watched.hold));
        auto held = hold(std::move(*translated), out, *watched.hold, served);
        held.signals = shown;
        co_return held;
      }
    }
    auto headers = response_headers(req, out);
    headers.emplace_back("content-type", "application/json");
    out.status = 200;
    out.ttft_seconds = seconds_since(env, req.started);
    if (req.capture_answer && req.op == providers::Operation::chat) {
      out.answer = assistant_message_of(*translated);
    }
    bool sent = false;
    if (opts.native) {
      sent = co_await sink.send_native(200, std::move(headers), std::move(*translated));
    } else {
      sent = co_await sink.send(200, std::move(headers), std::move(*translated));
    }
    if (!sent) {
      out.answer.clear();  // the client never got it: not a turn of its conversation
    }
    co_return AttemptResult{true, {}, false, false, served, {}, shown};
  }

  // A stream's outcome is known only at its end (one that breaks is that failure, not a
  // success); its duration is still the time to the response header, like every attempt's.
  const double header_seconds = seconds_since(env, t0);
  // Streaming: hold the 200 until the first translated event exists, so anything that fails
  // before it can still go to another target invisibly.
  // A continuation is rendered from the canonical events: the client already has the start
  // of the message, and the new upstream's own events would start another.
  const bool relay_native = native_dialect(sink, *sprov.adapter) && !continuing;
  opts.native = relay_native;
  auto translator = sprov.adapter->make_stream_translator(req.op, opts);
  std::string pending;
  std::string native;  // the upstream's own events, when relay_native
  std::vector<api::StreamEvent> batch;  // what one read delivers (see deliver)
  std::vector<nlohmann::json> chunks;
  if (relay_native) {
    translator->relay_native(&native);
  }
  bool started = continuing;
  std::optional<ContinuationFilter> filter;
  if (continuing) {
    filter.emplace(tracker, left_out_space);
  }
  // Set when the upstream stream breaks; handled after the loop. (No coroutine lambda and no
  // temporaries inside co_await expressions here: g++ 12 destroys such a temporary Failure
  // twice, which aborted the daemon on every broken stream.)
  std::optional<api::Failure> broken;
  for (;;) {
    auto slice = co_await resp.read_some();
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
    const bool have_events = !pending.empty() || !native.empty();
    if (have_events && (started || translator->has_content() || eof)) {
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
      const bool delivered = co_await deliver(sink, tracker, pending,
                                              relay_native ? &native : nullptr, batch, chunks);
      if (!delivered) {
        out.status = 499;
        metrics.upstream_request(provider_name, "success", header_seconds);
        co_return gone_result(served);
      }
      pending.clear();
      native.clear();
    }
    if (eof) {
      out.usage = translator->usage();
      report_estimate(metrics, provider_name, fitted.counted, out.usage);
      health::SignalSet shown;
      // A continued stream's text is partly another target's: it judges neither.
      if (!continuing && watches(sp, req.op)) {
        const auto now = env.clock->now();
        shown = watch_stream(sp, metrics, tracker.text(), tracker.finish_reason(),
                             tracker.tool_call_started(), *req.body, out.usage, now, now - t0);
      }
      metrics.upstream_request(provider_name, "success", header_seconds);
      co_await sink.end_stream();
      co_return AttemptResult{true, {}, false, false, served, {}, shown};
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
