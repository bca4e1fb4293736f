#include "server/responses_api.hpp"

#include <chrono>
#include <spdlog/spdlog.h>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/responses.hpp"
#include "llmgw/common/http_head.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/session/protocol.hpp"
#include "server/auth.hpp"

namespace llmgw::server {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

api::GatewayError not_found(std::string_view id) {
  return api::GatewayError{404, "response_not_found", "invalid_request_error",
                           "Response with id '" + api::echo(id) + "' not found.", {}};
}

api::GatewayError unavailable(std::string_view kind) {
  return api::GatewayError{503, "session_store_unavailable", "server_error",
                           "The session store (" + std::string(kind) +
                               ") that keeps responses is unavailable.",
                           {}};
}

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

asio::awaitable<void> answer_stored_response(GatewayState& state, const router::RouteTable& table,
                                             HttpRequest& req, api::ByteSink& sink) {
  auto headers = common::make_headers("content-type", "application/json", "x-request-id",
                                      req.request_id);
  const std::string id(req.path.substr(api::responses::kPath.size() + 1));
  std::optional<api::GatewayError> error;
  auto auth = authenticate(table, req.authorization, req.x_api_key);
  auto store = state.sessions.store();
  if (auth.error) {
    error = auth.error;
  } else if (req.method != "GET" && req.method != "DELETE") {
    error = api::method_not_allowed(req.method, req.path);
  } else if (!api::responses::valid_response_id(id)) {
    error = not_found(id);
  } else if (!store) {
    error = unavailable("none");
  }
  const std::string owner = auth.key ? auth.key->name : std::string();
  const std::string key = session::store_key(owner, api::responses::store_name(id));
  std::string response;
  if (!error) {
    auto t0 = Clock::now();
    auto loaded = co_await store->load(key);
    state.metrics.session_store(store->kind(), "load", since(t0), loaded.ok());
    if (!loaded) {
      spdlog::warn("session store {}: load failed: {}", store->kind(), loaded.error().message);
      error = unavailable(store->kind());
    } else if (!*loaded || (*loaded)->meta.owner != owner || (*loaded)->messages.empty()) {
      error = not_found(id);
    } else {
      response = api::responses::record_response((*loaded)->messages.back());
      if (response.empty()) {
        error = not_found(id);
      }
    }
  }
  if (!error && req.method == "DELETE") {
    auto t0 = Clock::now();
    auto removed = co_await store->remove(key);
    state.metrics.session_store(store->kind(), "remove", since(t0), removed.ok());
    if (!removed) {
      spdlog::warn("session store {}: remove failed: {}", store->kind(), removed.error().message);
      error = unavailable(store->kind());
    }
    response = R"({"id":")" + id + R"(","object":"response","deleted":true})";
  }
  if (error) {
    auto body = api::openai_error_body(*error);
    co_await sink.send(error->status, std::move(headers), std::move(body));
    co_return;
  }
  co_await sink.send(200, std::move(headers), std::move(response));
}

}  // namespace llmgw::server
