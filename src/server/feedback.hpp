#pragma once
// User feedback (SPEC POST /v1/feedback): a client rates an answer it got, by its request id,
// -1 (bad) to 1 (good). The rating goes to the target that served the request, through the
// bounded index of recent requests, and feeds that target's live-traffic signals (a mean
// rating below feedback_below marks it as a bad-answer signal would).
#include <boost/asio/awaitable.hpp>
#include <string_view>

#include "llmgw/api/response_sink.hpp"
#include "llmgw/router/route_table.hpp"
#include "llmgw/router/router.hpp"
#include "llmgw/server/server.hpp"

namespace llmgw::server {

/// After a request was answered: remembers who served it when a rating could matter.
void remember_for_feedback(GatewayState& state, const router::RouteTable& table,
                           std::string_view request_id, std::string_view model,
                           const config::KeyConfig* key, const router::CallOutcome& outcome);

/// Answers POST /v1/feedback (OpenAI error shape).
boost::asio::awaitable<void> answer_feedback(GatewayState& state, const router::RouteTable& table,
                                             HttpRequest& request, api::ByteSink& sink);

}  // namespace llmgw::server
