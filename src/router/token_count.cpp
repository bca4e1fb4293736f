// A request's prompt tokens as its model's first target counts them (see token_count.hpp).
#include "llmgw/router/token_count.hpp"

#include <nlohmann/json.hpp>

#include "llmgw/router/route_table.hpp"
#include "router/context_fit.hpp"

namespace llmgw::router {

PromptCount count_prompt(const RouteTable& table, const tokenizer::Library* library,
                         const config::ModelConfig& model, const nlohmann::json& body) {
  PromptCount out;
  auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array() || model.targets.empty()) {
    return out;
  }
  const auto& first = model.targets.front();
  const auto* provider = table.config().find_provider(first.provider);
  const auto kind = provider ? provider->kind : config::ProviderKind::openai;
  const auto counter = counter_for(library, kind, first.model);
  out.exact = counter.exact;
  out.method = counter.method;
  out.tokens = 3;  // the reply's priming
  for (const auto& m : *messages) {
    out.tokens += counter.message(m);
  }
  // Tool definitions reach the model as text of about their JSON's size.
  if (auto tools = body.find("tools"); tools != body.end() && tools->is_array()) {
    for (const auto& t : *tools) {
      out.tokens += counter.count(t.dump());
    }
  }
  return out;
}

}  // namespace llmgw::router
