#pragma once
// GET /v1/prompts and GET /v1/prompts/{name}: the managed prompts a key may call (those whose
// model its allow-list admits), each version with the variables its template needs. Calls
// (POST /v1/prompts/{name}) are proxied: see the prompt template stage.
#include <boost/asio/awaitable.hpp>

#include "llmgw/api/response_sink.hpp"
#include "llmgw/router/route_table.hpp"
#include "llmgw/server/http_request.hpp"

namespace llmgw::server {

boost::asio::awaitable<void> answer_prompts(const router::RouteTable& table,
                                            const HttpRequest& request, api::ByteSink& sink);

}  // namespace llmgw::server
