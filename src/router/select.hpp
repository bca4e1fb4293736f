#pragma once
// models[].select and x-llmgw-route-hint: what a request itself says about where it should go.
// select rules send a request to another model (a cheap one for short prompts without tools,
// say) before any strategy runs; a route hint reorders the chosen model's routable targets
// (cheapest: by the request's estimated cost; fastest: by their recent time to first token).
// Pure functions of the request and the snapshot.
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "llmgw/config/config.hpp"
#include "llmgw/router/router.hpp"

namespace llmgw::router {

class RouteTable;

using HeaderList = std::span<const std::pair<std::string, std::string>>;

/// The model the first matching rule of `model.select` names, or nullptr when none matches.
/// Prompt tokens are counted (with the tokenizer of the model's first target) only when a
/// rule asks for them and the byte size alone does not decide.
const config::ModelConfig* select_model(const RouteTable& table, const config::ModelConfig& model,
                                        const nlohmann::json& body, HeaderList headers);

}  // namespace llmgw::router
