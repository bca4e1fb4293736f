#pragma once
// GET and DELETE /v1/sessions/{id} (docs/sessions.md): the stored transcript in OpenAI
// message shape with its metadata, or its removal. A session belongs to the key that created
// it: to any other key it does not exist (404).
#include <boost/asio/awaitable.hpp>

#include "llmgw/api/response_sink.hpp"
#include "llmgw/router/route_table.hpp"
#include "llmgw/server/server.hpp"

namespace llmgw::server {

boost::asio::awaitable<void> answer_session(GatewayState& state, const router::RouteTable& table,
                                            HttpRequest& request, api::ByteSink& sink);

}  // namespace llmgw::server
