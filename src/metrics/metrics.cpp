#include "llmgw/metrics/metrics.hpp"

#include "llmgw/metrics/process.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <cstdio>
#include <unordered_map>

namespace llmgw::metrics {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries b{
      0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  return b;
}

std::string code_label(int status) { return std::to_string(status); }

// Family::Add builds a label map, hashes it, takes the family's mutex and (for histograms)
// constructs a throw-away metric on every call. The hot path instead looks the handle up in a
// per-thread cache keyed by the label values; only a label combination's first use per thread
// goes to the family. Handles live as long as the family (never removed).
template <class T>
class HandleCache {
public:
  template <class MakeFn>
  T& get(std::uint64_t owner, const void* family, std::string_view a, std::string_view b, std::string_view c,
         std::string_view d, MakeFn&& make) {
    thread_local std::unordered_map<std::string, T*> cache;
    thread_local std::string key;
    key.clear();
    // The owner id keeps a new Metrics at a recycled address from seeing stale handles.
    key.append(reinterpret_cast<const char*>(&owner), sizeof(owner));
    key.append(reinterpret_cast<const char*>(&family), sizeof(family));
    for (auto part : {a, b, c, d}) {
      key.append(part);
      key.push_back('\x1f');
    }
    auto it = cache.find(key);
    if (it != cache.end()) {
      return *it->second;
    }
    T& handle = make();
    cache.emplace(key, &handle);
    return handle;
  }
};

HandleCache<prometheus::Counter> counters;
HandleCache<prometheus::Histogram> histograms;

}  // namespace

std::atomic<std::uint64_t> next_metrics_id{1};

struct Metrics::Impl {
  std::uint64_t id = next_metrics_id.fetch_add(1);
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      BuildCounter().Name("llmgw_requests_total").Help("Client requests by route, model, serving provider and HTTP status").Register(*registry);
  prometheus::Family<prometheus::Histogram>& request_duration =
      BuildHistogram().Name("llmgw_request_duration_seconds").Help("Client request latency, first byte in to last byte out").Register(*registry);
  prometheus::Family<prometheus::Histogram>& ttft =
      BuildHistogram().Name("llmgw_time_to_first_token_seconds").Help("Time from request to the first byte of the answer").Register(*registry);
  prometheus::Family<prometheus::Counter>& upstream_requests =
      BuildCounter().Name("llmgw_upstream_requests_total").Help("Attempts sent to providers, by outcome").Register(*registry);
  prometheus::Family<prometheus::Histogram>& upstream_duration =
      BuildHistogram().Name("llmgw_upstream_duration_seconds").Help("Upstream attempt latency until the response header").Register(*registry);
  prometheus::Family<prometheus::Counter>& tokens =
      BuildCounter().Name("llmgw_tokens_total").Help("Tokens reported by providers' usage").Register(*registry);
  prometheus::Family<prometheus::Counter>& retries =
      BuildCounter().Name("llmgw_retries_total").Help("Attempts beyond the first, by reason").Register(*registry);
  prometheus::Family<prometheus::Counter>& retry_budget_exhausted =
      BuildCounter().Name("llmgw_retry_budget_exhausted_total")
          .Help("Requests that ended without a retry the model's retry budget refused")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& fallbacks =
      BuildCounter().Name("llmgw_fallbacks_total").Help("Requests moved to a fallback model").Register(*registry);
  prometheus::Family<prometheus::Counter>& no_healthy =
      BuildCounter().Name("llmgw_no_healthy_upstream_total").Help("Requests answered 503 no_healthy_upstream").Register(*registry);
  prometheus::Family<prometheus::Gauge>& inflight_family =
      BuildGauge().Name("llmgw_inflight_requests").Help("Client requests in progress").Register(*registry);
  prometheus::Gauge& inflight = inflight_family.Add({});
  prometheus::Family<prometheus::Counter>& reloads =
      BuildCounter().Name("llmgw_config_reloads_total").Help("Config reloads by result").Register(*registry);
  prometheus::Counter& reload_applied = reloads.Add({{"result", "applied"}});
  prometheus::Counter& reload_rejected = reloads.Add({{"result", "rejected"}});
  prometheus::Family<prometheus::Counter>& hedges =
      BuildCounter().Name("llmgw_hedges_total").Help("Hedged second attempts started").Register(*registry);
  prometheus::Family<prometheus::Counter>& continuations =
      BuildCounter().Name("llmgw_stream_continuations_total").Help("Broken streams continued on another target, by result").Register(*registry);
  prometheus::Family<prometheus::Counter>& degraded =
      BuildCounter().Name("llmgw_degraded_total").Help("Requests answered with the model's degrade message").Register(*registry);
  prometheus::Family<prometheus::Gauge>& upstream_healthy =
      BuildGauge().Name("llmgw_upstream_healthy").Help("1 when the provider passes the check kind (check=\"routable\" combines all)").Register(*registry);
  prometheus::Family<prometheus::Gauge>& circuit_state =
      BuildGauge().Name("llmgw_circuit_state").Help("Circuit breaker state: 0 closed, 1 half-open, 2 open").Register(*registry);
  prometheus::Family<prometheus::Counter>& accept_errors =
      BuildCounter().Name("llmgw_accept_errors_total").Help("Failed accept() calls by listener and reason (emfile: out of descriptors)").Register(*registry);
  prometheus::Family<prometheus::Counter>& shed =
      BuildCounter().Name("llmgw_connections_shed_total").Help("Connections answered 503 and closed because the process ran out of descriptors").Register(*registry);
  prometheus::Family<prometheus::Counter>& refused =
      BuildCounter().Name("llmgw_requests_refused_total").Help("Requests refused by the HTTP front end before routing, by reason").Register(*registry);
  prometheus::Family<prometheus::Counter>& shutdown_aborts =
      BuildCounter().Name("llmgw_shutdown_aborted_total").Help("Requests still running at drain_timeout, ended with server_shutting_down").Register(*registry);
  prometheus::Family<prometheus::Counter>& health_events =
      BuildCounter().Name("llmgw_health_events_total").Help("Health transitions of providers: ejected, ejection_ended, circuit_open, circuit_half_open, circuit_closed, cooldown, active_failing, key_rejected, operator_ejected, ...").Register(*registry);
  prometheus::Family<prometheus::Counter>& semantic_probes =
      BuildCounter().Name("llmgw_semantic_probe_total").Help("Semantic probes sent, by verdict: pass, fail (an answer broke a rule), unknown (no answer to judge)").Register(*registry);
  prometheus::Family<prometheus::Counter>& semantic_probe_cost =
      BuildCounter().Name("llmgw_semantic_probe_cost_usd_total").Help("What the semantic probes cost: tokens x the probed target's price").Register(*registry);
  prometheus::Family<prometheus::Counter>& semantic_signals =
      BuildCounter().Name("llmgw_semantic_signal_total").Help("Served answers showing a sign of a bad answer (live-traffic semantic signals), by signal").Register(*registry);
  prometheus::Family<prometheus::Counter>& bad_answer_retries =
      BuildCounter().Name("llmgw_bad_answer_retries_total").Help("Non-streamed answers held back for another target (on_bad_answer: retry_elsewhere), by the signal that held them").Register(*registry);
  prometheus::Family<prometheus::Counter>& feedback =
      BuildCounter().Name("llmgw_feedback_total").Help("User ratings of served answers (POST /v1/feedback), by the provider that served and the rating's sign").Register(*registry);
  prometheus::Family<prometheus::Gauge>& canary_state =
      BuildGauge().Name("llmgw_canary_state").Help("A model's canary: 1 taking its share of traffic, 0 rolled back (until POST /admin/canary/{model}/resume)").Register(*registry);
  prometheus::Family<prometheus::Counter>& canary_rollbacks =
      BuildCounter().Name("llmgw_canary_rollbacks_total").Help("Canaries that rolled themselves back on a breach of rollback_on").Register(*registry);
  prometheus::Family<prometheus::Gauge>& sessions_active =
      BuildGauge().Name("llmgw_sessions_active").Help("Conversation sessions held by the session store (memory, sqlite: all of them; redis: those this instance created and did not delete)").Register(*registry);
  prometheus::Gauge& sessions_active_gauge = sessions_active.Add({});
  prometheus::Family<prometheus::Histogram>& session_store =
      BuildHistogram().Name("llmgw_session_store_duration_seconds").Help("Session store operations (load, append, remove, lock), by store").Register(*registry);
  prometheus::Family<prometheus::Counter>& session_store_errors =
      BuildCounter().Name("llmgw_session_store_errors_total").Help("Session store operations that failed (the store was unavailable or refused), by store and operation").Register(*registry);
  prometheus::Family<prometheus::Counter>& context_fits =
      BuildCounter().Name("llmgw_context_fits_total").Help("Requests fitted to a target's context window, by action: truncated, summarized, rejected, skipped_target (fallback_larger), unfittable").Register(*registry);
  prometheus::Family<prometheus::Gauge>& token_estimate_error =
      BuildGauge().Name("llmgw_token_estimate_error_ratio").Help("The gateway's prompt token count against the provider's usage.prompt_tokens on the last counted request: (counted - reported) / reported").Register(*registry);
  prometheus::Family<prometheus::Counter>& cost_usd =
      BuildCounter().Name("llmgw_cost_usd_total").Help("What served requests cost: the provider's usage x the target's price, by provider, the provider's model id and key").Register(*registry);
  prometheus::Family<prometheus::Counter>& rate_limited =
      BuildCounter().Name("llmgw_rate_limited_total").Help("Requests refused by a key's limits, by key and the kind that refused: requests, tokens (429 rate_limited), budget_day, budget_month (429 budget_exceeded), unavailable (503 state_unavailable)").Register(*registry);
  prometheus::Family<prometheus::Counter>& model_selections =
      BuildCounter().Name("llmgw_model_selections_total").Help("Requests a models[].select rule sent to another model, by the model asked and the model chosen").Register(*registry);
  prometheus::Family<prometheus::Gauge>& state_available =
      BuildGauge().Name("llmgw_state_available").Help("Whether the shared state (state.backend: redis) answered the last call of a feature (limits, budgets, cache): 1 yes, 0 no").Register(*registry);
  prometheus::Family<prometheus::Counter>& state_outages =
      BuildCounter().Name("llmgw_state_outages_total").Help("Times a feature lost the shared state (state.backend: redis): each is one warning in the daemon log").Register(*registry);
  prometheus::Family<prometheus::Counter>& cache_requests =
      BuildCounter().Name("llmgw_cache_requests_total").Help("Requests to a model with a response cache, by result: hit (answered from the cache), miss (looked up, not found or expired), stale (expired entry served because no target could answer), bypass (not looked up: Cache-Control, temperature, session)").Register(*registry);
  // The four results exist from the start (and are never looked up per request).
  prometheus::Counter& cache_hit = cache_requests.Add({{"result", "hit"}});
  prometheus::Counter& cache_miss = cache_requests.Add({{"result", "miss"}});
  prometheus::Counter& cache_stale = cache_requests.Add({{"result", "stale"}});
  prometheus::Counter& cache_bypass = cache_requests.Add({{"result", "bypass"}});
  prometheus::Family<prometheus::Gauge>& cache_entries =
      BuildGauge().Name("llmgw_cache_entries").Help("Entries the in-memory response cache holds, fresh and stale (set at each scrape; not reported for the redis store)").Register(*registry);
  prometheus::Family<prometheus::Gauge>& cache_bytes =
      BuildGauge().Name("llmgw_cache_bytes").Help("Bytes the in-memory response cache counts against cache.max_bytes (set at each scrape; not reported for the redis store)").Register(*registry);
  prometheus::Family<prometheus::Counter>& cache_store_errors =
      BuildCounter().Name("llmgw_cache_store_errors_total").Help("Response cache store operations that failed (the lookup was a miss, the answer was not stored), by store and operation (get, put)").Register(*registry);
  // Health gauges per provider, so the ones of removed providers can be dropped.
  std::mutex gauges_mutex;
  std::map<std::string, std::set<prometheus::Gauge*>> upstream_gauges;
  std::map<std::string, prometheus::Gauge*> circuit_gauges;
  // The standard process metrics (the names every Prometheus client library exports), set from
  // /proc before each scrape. A child is added only once its value could be read.
  prometheus::Family<prometheus::Counter>& process_cpu =
      BuildCounter().Name("process_cpu_seconds_total")
          .Help("Total user and system CPU time spent in seconds")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& process_resident =
      BuildGauge().Name("process_resident_memory_bytes")
          .Help("Resident memory size in bytes")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& process_virtual =
      BuildGauge().Name("process_virtual_memory_bytes")
          .Help("Virtual memory size in bytes")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& process_open_fds =
      BuildGauge().Name("process_open_fds")
          .Help("Number of open file descriptors")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& process_max_fds =
      BuildGauge().Name("process_max_fds")
          .Help("Maximum number of open file descriptors (the soft limit)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& process_start =
      BuildGauge().Name("process_start_time_seconds")
          .Help("Start time of the process since unix epoch in seconds")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& build_info =
      BuildGauge().Name("llmgw_build_info").Help("Build information; always 1").Register(*registry);
};

Metrics::Metrics(std::string_view version) : impl_(std::make_unique<Impl>()) {
  impl_->build_info.Add({{"version", std::string(version)}}).Set(1);
}

Metrics::~Metrics() = default;

prometheus::Registry& Metrics::registry() { return *impl_->registry; }

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

void Metrics::request_finished(std::string_view route, std::string_view model,
                               std::string_view provider, int status, double seconds) {
  char code[8];
  auto n = std::snprintf(code, sizeof code, "%d", status);
  std::string_view code_sv(code, static_cast<std::size_t>(std::max(0, n)));
  counters
      .get(impl_->id, &impl_->requests, route, model, provider, code_sv,
           [&]() -> prometheus::Counter& {
             return impl_->requests.Add({{"route", std::string(route)},
                                         {"model", std::string(model)},
                                         {"provider", std::string(provider)},
                                         {"code", code_label(status)}});
           })
      .Increment();
  histograms
      .get(impl_->id, &impl_->request_duration, route, model, {}, {},
           [&]() -> prometheus::Histogram& {
             return impl_->request_duration.Add(
                 {{"route", std::string(route)}, {"model", std::string(model)}}, latency_buckets());
           })
      .Observe(seconds);
}

void Metrics::time_to_first_token(std::string_view model, std::string_view provider,
                                  double seconds) {
  histograms
      .get(impl_->id, &impl_->ttft, model, provider, {}, {},
           [&]() -> prometheus::Histogram& {
             return impl_->ttft.Add({{"model", std::string(model)}, {"provider", std::string(provider)}},
                                    latency_buckets());
           })
      .Observe(seconds);
}

void Metrics::upstream_request(std::string_view provider, std::string_view outcome,
                               double seconds) {
  counters
      .get(impl_->id, &impl_->upstream_requests, provider, outcome, {}, {},
           [&]() -> prometheus::Counter& {
             return impl_->upstream_requests.Add(
                 {{"provider", std::string(provider)}, {"outcome", std::string(outcome)}});
           })
      .Increment();
  histograms
      .get(impl_->id, &impl_->upstream_duration, provider, {}, {}, {},
           [&]() -> prometheus::Histogram& {
             return impl_->upstream_duration.Add({{"provider", std::string(provider)}},
                                                 latency_buckets());
           })
      .Observe(seconds);
}

void Metrics::tokens(std::string_view provider, std::string_view model, std::uint64_t input,
                     std::uint64_t output) {
  for (auto [direction, value] : {std::pair<std::string_view, std::uint64_t>{"input", input},
                                  std::pair<std::string_view, std::uint64_t>{"output", output}}) {
    counters
        .get(impl_->id, &impl_->tokens, provider, model, direction, {},
             [&]() -> prometheus::Counter& {
               return impl_->tokens.Add({{"provider", std::string(provider)},
                                         {"model", std::string(model)},
                                         {"direction", std::string(direction)}});
             })
        .Increment(static_cast<double>(value));
  }
}

void Metrics::retry(std::string_view model, std::string_view reason) {
  impl_->retries.Add({{"model", std::string(model)}, {"reason", std::string(reason)}}).Increment();
}

void Metrics::retry_budget_exhausted(std::string_view model) {
  impl_->retry_budget_exhausted.Add({{"model", std::string(model)}}).Increment();
}

void Metrics::fallback(std::string_view from, std::string_view to) {
  impl_->fallbacks.Add({{"from", std::string(from)}, {"to", std::string(to)}}).Increment();
}

void Metrics::no_healthy_upstream(std::string_view model) {
  impl_->no_healthy.Add({{"model", std::string(model)}}).Increment();
}

void Metrics::inflight_add(double delta) { impl_->inflight.Increment(delta); }

void Metrics::hedge(std::string_view model) {
  impl_->hedges.Add({{"model", std::string(model)}}).Increment();
}

void Metrics::stream_continuation(std::string_view model, std::string_view result) {
  impl_->continuations.Add({{"model", std::string(model)}, {"result", std::string(result)}})
      .Increment();
}

void Metrics::degraded(std::string_view model) {
  impl_->degraded.Add({{"model", std::string(model)}}).Increment();
}

void Metrics::set_upstream_healthy(std::string_view provider, std::string_view check,
                                   bool healthy) {
  auto& g = impl_->upstream_healthy.Add(
      {{"provider", std::string(provider)}, {"check", std::string(check)}});
  g.Set(healthy ? 1 : 0);
  std::lock_guard lock(impl_->gauges_mutex);
  impl_->upstream_gauges[std::string(provider)].insert(&g);
}

void Metrics::set_circuit_state(std::string_view provider, int state) {
  auto& g = impl_->circuit_state.Add({{"provider", std::string(provider)}});
  g.Set(state);
  std::lock_guard lock(impl_->gauges_mutex);
  impl_->circuit_gauges[std::string(provider)] = &g;
}

void Metrics::retain_upstream_gauges(const std::vector<std::string>& providers) {
  std::lock_guard lock(impl_->gauges_mutex);
  auto keep = [&](const std::string& name) {
    return std::find(providers.begin(), providers.end(), name) != providers.end();
  };
  for (auto it = impl_->upstream_gauges.begin(); it != impl_->upstream_gauges.end();) {
    if (keep(it->first)) {
      ++it;
      continue;
    }
    for (auto* g : it->second) {
      impl_->upstream_healthy.Remove(g);
    }
    it = impl_->upstream_gauges.erase(it);
  }
  for (auto it = impl_->circuit_gauges.begin(); it != impl_->circuit_gauges.end();) {
    if (keep(it->first)) {
      ++it;
      continue;
    }
    impl_->circuit_state.Remove(it->second);
    it = impl_->circuit_gauges.erase(it);
  }
}

void Metrics::accept_error(std::string_view listener, std::string_view reason) {
  impl_->accept_errors.Add({{"listener", std::string(listener)}, {"reason", std::string(reason)}})
      .Increment();
}

void Metrics::connection_shed(std::string_view listener) {
  impl_->shed.Add({{"listener", std::string(listener)}}).Increment();
}

void Metrics::request_refused(std::string_view reason) {
  impl_->refused.Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::health_event(std::string_view provider, std::string_view event) {
  impl_->health_events.Add({{"provider", std::string(provider)}, {"event", std::string(event)}})
      .Increment();
}

void Metrics::semantic_probe(std::string_view provider, std::string_view probe,
                             std::string_view verdict, double cost_usd) {
  auto& cost = impl_->semantic_probe_cost.Add({{"provider", std::string(provider)}});
  if (cost_usd > 0) {
    cost.Increment(cost_usd);
  }
  impl_->semantic_probes
      .Add({{"provider", std::string(provider)},
            {"probe", std::string(probe)},
            {"verdict", std::string(verdict)}})
      .Increment();
}

void Metrics::semantic_signal(std::string_view provider, std::string_view signal) {
  impl_->semantic_signals
      .Add({{"provider", std::string(provider)}, {"signal", std::string(signal)}})
      .Increment();
}

void Metrics::bad_answer_retry(std::string_view provider, std::string_view signal) {
  impl_->bad_answer_retries
      .Add({{"provider", std::string(provider)}, {"signal", std::string(signal)}})
      .Increment();
}

void Metrics::set_canary_active(std::string_view model, bool active) {
  impl_->canary_state.Add({{"model", std::string(model)}}).Set(active ? 1 : 0);
}

void Metrics::canary_rollback(std::string_view model) {
  impl_->canary_rollbacks.Add({{"model", std::string(model)}}).Increment();
}

void Metrics::feedback(std::string_view provider, std::string_view rating) {
  impl_->feedback.Add({{"provider", std::string(provider)}, {"rating", std::string(rating)}})
      .Increment();
}

void Metrics::set_sessions_active(std::uint64_t n) {
  impl_->sessions_active_gauge.Set(static_cast<double>(n));
}

void Metrics::session_store(std::string_view store, std::string_view op, double seconds,
                            bool ok) {
  static const prometheus::Histogram::BucketBoundaries kBuckets{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
  impl_->session_store.Add({{"store", std::string(store)}, {"op", std::string(op)}}, kBuckets)
      .Observe(seconds);
  if (!ok) {
    impl_->session_store_errors.Add({{"store", std::string(store)}, {"op", std::string(op)}})
        .Increment();
  }
}

void Metrics::context_fit(std::string_view action) {
  impl_->context_fits.Add({{"action", std::string(action)}}).Increment();
}

void Metrics::token_estimate_error(std::string_view provider, double ratio) {
  impl_->token_estimate_error.Add({{"provider", std::string(provider)}}).Set(ratio);
}

void Metrics::cost(std::string_view provider, std::string_view model, std::string_view key,
                   double usd) {
  impl_->cost_usd
      .Add({{"provider", std::string(provider)}, {"model", std::string(model)},
            {"key", std::string(key)}})
      .Increment(usd);
}

void Metrics::rate_limited(std::string_view key, std::string_view kind) {
  impl_->rate_limited.Add({{"key", std::string(key)}, {"kind", std::string(kind)}}).Increment();
}

void Metrics::model_selected(std::string_view model, std::string_view selected) {
  impl_->model_selections.Add({{"model", std::string(model)}, {"selected", std::string(selected)}})
      .Increment();
}

void Metrics::state_availability(std::string_view feature, bool available) {
  impl_->state_available.Add({{"feature", std::string(feature)}}).Set(available ? 1 : 0);
  if (!available) {
    impl_->state_outages.Add({{"feature", std::string(feature)}}).Increment();
  }
}

void Metrics::cache_request(std::string_view result) {
  if (result == "hit") {
    impl_->cache_hit.Increment();
  } else if (result == "miss") {
    impl_->cache_miss.Increment();
  } else if (result == "stale") {
    impl_->cache_stale.Increment();
  } else if (result == "bypass") {
    impl_->cache_bypass.Increment();
  }
}

void Metrics::set_cache_size(std::uint64_t entries, std::uint64_t bytes) {
  impl_->cache_entries.Add({}).Set(static_cast<double>(entries));
  impl_->cache_bytes.Add({}).Set(static_cast<double>(bytes));
}

void Metrics::cache_store_error(std::string_view store, std::string_view op) {
  impl_->cache_store_errors.Add({{"store", std::string(store)}, {"op", std::string(op)}})
      .Increment();
}

void Metrics::shutdown_abort(bool streaming) {
  impl_->shutdown_aborts.Add({{"kind", streaming ? "stream" : "response"}}).Increment();
}

void Metrics::set_process(const ProcessStats& p) {
  if (p.cpu_seconds) {
    // A counter only moves forward: it is brought up to the kernel's total.
    auto& cpu = impl_->process_cpu.Add({});
    if (*p.cpu_seconds > cpu.Value()) {
      cpu.Increment(*p.cpu_seconds - cpu.Value());
    }
  }
  auto set = [](prometheus::Family<prometheus::Gauge>& family, const std::optional<double>& v) {
    if (v) {
      family.Add({}).Set(*v);
    }
  };
  set(impl_->process_resident, p.resident_bytes);
  set(impl_->process_virtual, p.virtual_bytes);
  set(impl_->process_open_fds, p.open_fds);
  set(impl_->process_max_fds, p.max_fds);
  set(impl_->process_start, p.start_time_seconds);
}

void Metrics::config_reload(bool applied) {
  (applied ? impl_->reload_applied : impl_->reload_rejected).Increment();
}

}  // namespace llmgw::metrics
