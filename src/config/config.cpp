#include "llmgw/config/config.hpp"

namespace llmgw::config {

// Linear scans: configs hold tens of entries at most, and callers on the hot path keep their
// own indexed view built once per config snapshot.
const ProviderConfig* Config::find_provider(std::string_view name) const {
  for (const auto& p : providers) {
    if (p.name == name) {
      return &p;
    }
  }
  return nullptr;
}

const ModelConfig* Config::find_model(std::string_view name) const {
  for (const auto& m : models) {
    if (m.name == name) {
      return &m;
    }
  }
  return nullptr;
}

const PromptConfig* Config::find_prompt(std::string_view name, unsigned version) const {
  const PromptConfig* found = nullptr;
  for (const auto& p : prompts) {
    if (p.name != name) {
      continue;
    }
    if (version != 0 ? p.version == version : (!found || p.version > found->version)) {
      found = &p;
    }
  }
  return found;
}

std::string_view to_string(ProviderKind k) {
  switch (k) {
    case ProviderKind::openai:
      return "openai";
    case ProviderKind::azure:
      return "azure";
    case ProviderKind::anthropic:
      return "anthropic";
    case ProviderKind::gemini:
      return "gemini";
    case ProviderKind::openai_compatible:
      return "openai_compatible";
  }
  return "unknown";
}

std::string_view to_string(Strategy s) {
  switch (s) {
    case Strategy::priority:
      return "priority";
    case Strategy::weighted:
      return "weighted";
    case Strategy::round_robin:
      return "round_robin";
    case Strategy::least_latency:
      return "least_latency";
    case Strategy::least_cost:
      return "least_cost";
    case Strategy::least_busy:
      return "least_busy";
  }
  return "unknown";
}

}  // namespace llmgw::config
