#include "llmgw/metrics/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

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

}  // namespace

struct Metrics::Impl {
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
  impl_->requests
      .Add({{"route", std::string(route)},
            {"model", std::string(model)},
            {"provider", std::string(provider)},
            {"code", code_label(status)}})
      .Increment();
  impl_->request_duration
      .Add({{"route", std::string(route)}, {"model", std::string(model)}}, latency_buckets())
      .Observe(seconds);
}

void Metrics::time_to_first_token(std::string_view model, std::string_view provider,
                                  double seconds) {
  impl_->ttft.Add({{"model", std::string(model)}, {"provider", std::string(provider)}},
                  latency_buckets())
      .Observe(seconds);
}

void Metrics::upstream_request(std::string_view provider, std::string_view outcome,
                               double seconds) {
  impl_->upstream_requests
      .Add({{"provider", std::string(provider)}, {"outcome", std::string(outcome)}})
      .Increment();
  impl_->upstream_duration.Add({{"provider", std::string(provider)}}, latency_buckets())
      .Observe(seconds);
}

void Metrics::tokens(std::string_view provider, std::string_view model, std::uint64_t input,
                     std::uint64_t output) {
  impl_->tokens
      .Add({{"provider", std::string(provider)}, {"model", std::string(model)}, {"direction", "input"}})
      .Increment(static_cast<double>(input));
  impl_->tokens
      .Add({{"provider", std::string(provider)}, {"model", std::string(model)}, {"direction", "output"}})
      .Increment(static_cast<double>(output));
}

void Metrics::retry(std::string_view model, std::string_view reason) {
  impl_->retries.Add({{"model", std::string(model)}, {"reason", std::string(reason)}}).Increment();
}

void Metrics::fallback(std::string_view from, std::string_view to) {
  impl_->fallbacks.Add({{"from", std::string(from)}, {"to", std::string(to)}}).Increment();
}

void Metrics::no_healthy_upstream(std::string_view model) {
  impl_->no_healthy.Add({{"model", std::string(model)}}).Increment();
}

void Metrics::inflight_add(double delta) { impl_->inflight.Increment(delta); }

void Metrics::config_reload(bool applied) {
  (applied ? impl_->reload_applied : impl_->reload_rejected).Increment();
}

}  // namespace llmgw::metrics
