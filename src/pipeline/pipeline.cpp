#include "llmgw/pipeline/pipeline.hpp"

namespace llmgw::pipeline {

namespace {

bool any_applies(const std::vector<std::unique_ptr<IngressStage>>& stages,
                 const RequestContext& ctx, bool before_decode) {
  for (const auto& s : stages) {
    if (s->before_decode() == before_decode && s->applies(ctx)) {
      return true;
    }
  }
  return false;
}

boost::asio::awaitable<std::optional<api::GatewayError>> run_stages(
    const std::vector<std::unique_ptr<IngressStage>>& stages, RequestContext& ctx,
    bool before_decode) {
  for (const auto& s : stages) {
    if (s->before_decode() != before_decode || !s->applies(ctx)) {
      continue;
    }
    auto error = co_await s->run(ctx);
    if (error) {
      co_return error;
    }
  }
  co_return std::nullopt;
}

}  // namespace

bool Pipeline::has_prepare_work(const RequestContext& ctx) const {
  return any_applies(ingress_, ctx, true);
}

boost::asio::awaitable<std::optional<api::GatewayError>> Pipeline::run_prepare(
    RequestContext& ctx) {
  return run_stages(ingress_, ctx, true);
}

bool Pipeline::has_ingress_work(const RequestContext& ctx) const {
  return any_applies(ingress_, ctx, false);
}

boost::asio::awaitable<std::optional<api::GatewayError>> Pipeline::run_ingress(
    RequestContext& ctx) {
  return run_stages(ingress_, ctx, false);
}

void Pipeline::run_taps(const RequestContext& ctx) {
  for (const auto& t : taps_) {
    t->on_response(ctx);
  }
}

Pipeline make_pipeline(const Services& services) {
  Pipeline p;
  p.add(make_limits_stage(services));
  p.add(make_prompt_template_stage());
  p.add(make_session_load_stage(services));
  p.add(make_response_load_stage(services));
  p.add(make_cache_lookup_stage(services));
  p.add(make_budget_debit_tap(services));
  p.add(make_session_append_tap(services));
  p.add(make_response_store_tap(services));
  p.add(make_cache_store_tap(services));
  return p;
}

}  // namespace llmgw::pipeline
