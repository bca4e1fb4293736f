#pragma once
// Managed prompts on the request path (POST /v1/prompts/{name}, GET /v1/prompts): a call's
// body turned into the chat body its prompt describes, the answer shape the client asked for,
// and the sink that reshapes a chat answer into that shape. The template itself is
// prompts/template.hpp; the pipeline stage that uses these is src/prompts/template_stage.cpp.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/response_sink.hpp"
#include "llmgw/common/result.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/prompts/output.hpp"

namespace llmgw::prompts {

/// 404 prompt_not_found; `param` is "version" when the name exists but not that version.
api::GatewayError prompt_not_found(std::string_view name, std::optional<unsigned> version = {});

/// A prompt call ready for the chat path.
struct Call {
  const config::PromptConfig* prompt = nullptr;
  Output output = Output::chat;
  nlohmann::json body;  // the chat request: model, messages, sampling defaults, overrides
};

/// Turns the body of POST /v1/prompts/{name} into the chat request of the prompt it names
/// (its version, or the highest): the template rendered with "variables" as the user message
/// after the prompt's system message, the prompt's sampling defaults, then the call's own
/// overrides. `accept` is the Accept header. Errors name the field at fault as `param`.
common::Result<Call, api::GatewayError> build_call(const config::Config& config,
                                                   std::string_view name,
                                                   const nlohmann::json& request,
                                                   std::string_view accept);

/// The text of a chat.completion's first choice (its content; text parts joined), or nullopt
/// when the body is no chat answer.
std::optional<std::string> answer_text(const nlohmann::json& completion);

/// The body and content type a complete chat answer becomes in `output` (text or object).
struct Shaped {
  std::string content_type;
  std::string body;
};
Shaped shape_answer(Output output, const config::PromptConfig& prompt, std::string_view body,
                    std::size_t max_json_depth);

/// The sink a text or object call answers through, over the face's sink: a complete 2xx answer
/// is reshaped; errors, and anything else, pass through as the face renders them.
std::unique_ptr<api::ResponseSink> make_output_sink(api::ResponseSink& inner, Output output,
                                                    const config::PromptConfig& prompt,
                                                    std::size_t max_json_depth);

}  // namespace llmgw::prompts
