// Rate limits and budgets (config: keys[].rate_limit, keys[].budget, providers[].limits).
// The seam: it applies to a key with a limit or a budget and lets the request through; the
// limits issue fills in the counting (local or on Redis) and the 429s.
#include "llmgw/pipeline/pipeline.hpp"

namespace llmgw::pipeline {
namespace {

bool limited(const config::KeyConfig* key) {
  return key && (key->budget || key->rate_limit.rpm || key->rate_limit.tpm);
}

class LimitsStage final : public IngressStage {
public:
  std::string_view name() const override { return "limits"; }
  bool applies(const RequestContext& ctx) const override { return limited(ctx.key); }
  boost::asio::awaitable<std::optional<api::GatewayError>> run(RequestContext&) override {
    co_return std::nullopt;
  }
};

class BudgetDebitTap final : public ResponseTap {
public:
  std::string_view name() const override { return "budget_debit"; }
  void on_response(const RequestContext&) override {}
};

}  // namespace

std::unique_ptr<IngressStage> make_limits_stage() { return std::make_unique<LimitsStage>(); }
std::unique_ptr<ResponseTap> make_budget_debit_tap() { return std::make_unique<BudgetDebitTap>(); }

}  // namespace llmgw::pipeline
