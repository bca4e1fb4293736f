#pragma once
// The wire dialects the gateway speaks, at either edge: an ingress face answers in one, a
// provider adapter talks one upstream. The canonical model is the OpenAI one; when a face and
// its target share another dialect, the answer is relayed in it as the provider wrote it
// (nothing is lost to the canonical model, nothing is rendered twice).
namespace llmgw::api {

enum class Dialect { openai, anthropic, gemini };

}  // namespace llmgw::api
