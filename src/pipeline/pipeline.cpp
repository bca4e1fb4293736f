#include "llmgw/pipeline/pipeline.hpp"

namespace llmgw::pipeline {

bool Pipeline::has_ingress_work(const RequestContext& ctx) const {
  for (const auto& s : ingress_) {
    if (s->applies(ctx)) {
      return true;
    }
  }
  return false;
}

boost::asio::awaitable<std::optional<api::GatewayError>> Pipeline::run_ingress(
    RequestContext& ctx) {
  for (const auto& s : ingress_) {
    if (!s->applies(ctx)) {
      continue;
    }
    auto error = co_await s->run(ctx);
    if (error) {
      co_return error;
    }
  }
  co_return std::nullopt;
}

void Pipeline::run_taps(const RequestContext& ctx) {
  for (const auto& t : taps_) {
    t->on_response(ctx);
  }
}

Pipeline make_pipeline(const Services& services) {
  Pipeline p;
  p.add(make_limits_stage());
  p.add(make_prompt_template_stage());
  p.add(make_session_load_stage(services));
  p.add(make_cache_lookup_stage());
  p.add(make_budget_debit_tap());
  p.add(make_session_append_tap(services));
  p.add(make_cache_store_tap());
  return p;
}

}  // namespace llmgw::pipeline
