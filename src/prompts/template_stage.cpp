// Managed prompt templates in the pipeline (config: prompts[]; route POST /v1/prompts/{name}):
// before the face decodes the body, the stage turns a prompt call into the chat request its
// prompt describes, so decode, the model's allow-list, the other stages and the router treat it
// exactly as a chat call. The work is prompts::build_call (src/prompts/call.cpp).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "llmgw/pipeline/pipeline.hpp"
#include "llmgw/prompts/prompts.hpp"

namespace llmgw::pipeline {
namespace {

// Outside the coroutine: no temporaries of the call's result live across a suspension.
std::optional<api::GatewayError> build(RequestContext& ctx) {
  auto name = ctx.path.substr(std::min(ctx.path.size(), prompts::kPathPrefix.size()));
  auto call = prompts::build_call(ctx.config, name, *ctx.body, ctx.accept);
  if (!call) {
    return std::move(call.error());
  }
  *ctx.body = std::move(call->body);
  ctx.prompt = call->prompt;
  ctx.output = call->output;
  return std::nullopt;
}

class PromptTemplateStage final : public IngressStage {
public:
  std::string_view name() const override { return "prompt_template"; }
  // Every call on the route, prompts configured or not: an unknown prompt is a 404, and the
  // face must never decode a prompt call's body as if it were a chat request.
  bool applies(const RequestContext& ctx) const override {
    return ctx.route.path.starts_with(prompts::kPathPrefix) && ctx.body;
  }
  bool before_decode() const override { return true; }
  boost::asio::awaitable<std::optional<api::GatewayError>> run(RequestContext& ctx) override {
    co_return build(ctx);
  }
};

}  // namespace

std::unique_ptr<IngressStage> make_prompt_template_stage() {
  return std::make_unique<PromptTemplateStage>();
}

}  // namespace llmgw::pipeline
