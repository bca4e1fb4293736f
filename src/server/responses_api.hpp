#pragma once
// GET and DELETE /v1/responses/{id} (docs/sessions.md, "Responses API"): a stored response
// object, or its removal. A stored response belongs to the key that created it: to any other
// key it does not exist (404), as for sessions.
#include <boost/asio/awaitable.hpp>

#include "llmgw/api/response_sink.hpp"
#include "llmgw/router/route_table.hpp"
#include "llmgw/server/server.hpp"

namespace llmgw::server {

boost::asio::awaitable<void> answer_stored_response(GatewayState& state,
                                                    const router::RouteTable& table,
                                                    HttpRequest& request, api::ByteSink& sink);

}  // namespace llmgw::server
