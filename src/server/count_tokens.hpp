#pragma once
// POST /v1/messages/count_tokens (Anthropic's token counting, for the Anthropic SDKs'
// countTokens): the Messages body a request would send, counted as the model's first target
// counts it — exact for OpenAI models, the tokenizer estimate for the others — answered
// {"input_tokens": N} with errors in the Anthropic shape.
#include <boost/asio/awaitable.hpp>
#include <memory>

#include "llmgw/api/response_sink.hpp"
#include "llmgw/router/route_table.hpp"
#include "llmgw/server/server.hpp"

namespace llmgw::server {

inline constexpr std::string_view kCountTokensPath = "/v1/messages/count_tokens";

boost::asio::awaitable<void> answer_count_tokens(const router::RouteTable& table,
                                                 HttpRequest& request, api::ByteSink& sink);

}  // namespace llmgw::server
