#pragma once
// The gateway's Prometheus metrics (SPEC §5). One instance per process, shared by all workers;
// prometheus-cpp does the bookkeeping and text encoding, our admin listener serves it.
#include <memory>
#include <string>
#include <cstdint>
#include <string_view>
#include <vector>

namespace prometheus {
class Registry;
}

namespace llmgw::metrics {

struct ProcessStats;

class Metrics {
public:
  explicit Metrics(std::string_view version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  /// Prometheus text exposition format 0.0.4.
  std::string serialize() const;
  prometheus::Registry& registry();

  void request_finished(std::string_view route, std::string_view model, std::string_view provider,
                        int status, double seconds);
  void time_to_first_token(std::string_view model, std::string_view provider, double seconds);
  void upstream_request(std::string_view provider, std::string_view outcome, double seconds);
  void tokens(std::string_view provider, std::string_view model, std::uint64_t input,
              std::uint64_t output);
  void retry(std::string_view model, std::string_view reason);
  /// A request whose retry the model's retry budget (models[].retry.budget) refused.
  void retry_budget_exhausted(std::string_view model);
  void fallback(std::string_view from, std::string_view to);
  void no_healthy_upstream(std::string_view model);
  void inflight_add(double delta);
  void hedge(std::string_view model);
  void stream_continuation(std::string_view model, std::string_view result);
  void degraded(std::string_view model);
  /// Gauges refreshed from the health registry before each scrape.
  void set_upstream_healthy(std::string_view provider, std::string_view check, bool healthy);
  void set_circuit_state(std::string_view provider, int state);
  /// Drops the health gauges of providers not in `providers` (removed by a reload), so a
  /// provider that is gone does not keep reporting its last state forever.
  void retain_upstream_gauges(const std::vector<std::string>& providers);
  void config_reload(bool applied);
  /// accept() failed on `listener` ("main", "admin"); reason: emfile, enfile, enomem, other.
  void accept_error(std::string_view listener, std::string_view reason);
  /// A connection answered 503 and closed at once because descriptors ran out.
  void connection_shed(std::string_view listener);
  /// A request refused by the front end before any handler: bad_request, header_too_large,
  /// body_too_large, exception (a handler failed; answered 500).
  void request_refused(std::string_view reason);
  /// A health transition of a provider (event: ejected, circuit_open, cooldown, ...).
  void health_event(std::string_view provider, std::string_view event);
  /// One semantic probe's verdict (pass, fail, unknown) and what it cost.
  void semantic_probe(std::string_view provider, std::string_view probe, std::string_view verdict,
                      double cost_usd);
  /// A served answer showed a live-traffic signal (empty, repetition, ...).
  void semantic_signal(std::string_view provider, std::string_view signal);
  /// An answer held back for another target (on_bad_answer: retry_elsewhere).
  void bad_answer_retry(std::string_view provider, std::string_view signal);
  /// A model's canary: 1 while it takes its share, 0 once it rolled itself back.
  void set_canary_active(std::string_view model, bool active);
  /// A canary rolled itself back.
  void canary_rollback(std::string_view model);
  /// A user's rating of a served answer: positive, neutral or negative.
  void feedback(std::string_view provider, std::string_view rating);
  /// Requests cut short at shutdown (drain_timeout): answered with server_shutting_down.
  void shutdown_abort(bool streaming);
  /// Sessions: the store's size (set before each scrape), each store operation, each fit.
  void set_sessions_active(std::uint64_t n);
  void session_store(std::string_view store, std::string_view op, double seconds, bool ok);
  void context_fit(std::string_view action);
  /// Cost and limits: what a served request cost (tokens x the target's price), and 429s of a
  /// key's rate limit by the kind that refused (requests, tokens).
  void cost(std::string_view provider, std::string_view model, std::string_view key,
            double usd);
  void rate_limited(std::string_view key, std::string_view kind);
  /// The shared state went away from (or came back to) a feature: limits, budgets, cache.
  void state_availability(std::string_view feature, bool available);
  void token_estimate_error(std::string_view provider, double ratio);
  /// A models[].select rule sent a request for `model` to `selected`.
  void model_selected(std::string_view model, std::string_view selected);
  /// The response cache: one result per request to a model with a cache (hit, miss, stale,
  /// bypass), and a failed store operation (store: redis; op: get, put).
  void cache_request(std::string_view result);
  void cache_store_error(std::string_view store, std::string_view op);
  /// The in-memory store's size, set before each scrape.
  void set_cache_size(std::uint64_t entries, std::uint64_t bytes);
  /// The process_* metrics, set before each scrape from read_process_stats() (process.hpp).
  void set_process(const ProcessStats& stats);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmgw::metrics
