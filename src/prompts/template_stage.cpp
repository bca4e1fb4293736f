// Managed prompt templates (config: prompts[]; route POST /v1/prompts/{name}). The seam: it
// applies to the prompts route only, which the prompts issue adds with the rendering.
#include "llmgw/pipeline/pipeline.hpp"

namespace llmgw::pipeline {
namespace {

class PromptTemplateStage final : public IngressStage {
public:
  std::string_view name() const override { return "prompt_template"; }
  bool applies(const RequestContext& ctx) const override {
    return !ctx.config.prompts.empty() && ctx.route.path.starts_with("/v1/prompts/");
  }
  boost::asio::awaitable<std::optional<api::GatewayError>> run(RequestContext&) override {
    co_return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<IngressStage> make_prompt_template_stage() {
  return std::make_unique<PromptTemplateStage>();
}

}  // namespace llmgw::pipeline
