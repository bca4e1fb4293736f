#include "server/sessions_api.hpp"

#include <chrono>
#include <spdlog/spdlog.h>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/face.hpp"
#include "llmgw/common/http_head.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/session/protocol.hpp"
#include "server/auth.hpp"

namespace llmgw::server {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

api::GatewayError not_found(std::string_view id) {
  return api::GatewayError{404, "session_not_found", "invalid_request_error",
                           "No session '" + api::echo(id) + "'.", {}};
}

// The details (addresses, paths) go to the log, not to the client.
api::GatewayError unavailable(std::string_view kind) {
  return api::GatewayError{503, "session_store_unavailable", "server_error",
                           "The session store (" + std::string(kind) + ") is unavailable.", {}};
}

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

asio::awaitable<void> answer_session(GatewayState& state, const router::RouteTable& table,
                                     HttpRequest& req, api::ByteSink& sink) {
  auto headers = common::make_headers("content-type", "application/json", "x-request-id",
                                      req.request_id);
  const std::string id(req.path.substr(std::string_view("/v1/sessions/").size()));
  std::optional<api::GatewayError> error;
  auto auth = authenticate(table, req.authorization, req.x_api_key);
  auto store = state.sessions.store();
  if (auth.error) {
    error = auth.error;
  } else if (req.method != "GET" && req.method != "DELETE") {
    error = api::method_not_allowed(req.method, req.path);
  } else if (!session::valid_session_id(id)) {
    error = not_found(id);
  } else if (!store) {
    error = unavailable("none");
  }
  if (error) {
    auto body = api::openai_face().error_body(*error, req.request_id);
    co_await sink.send(error->status, std::move(headers), std::move(body));
    co_return;
  }
  const std::string owner = auth.key ? auth.key->name : std::string();
  const std::string key = session::store_key(owner, id);  // the key's own session of that id
  std::unique_ptr<session::Lease> lease;
  if (req.method == "DELETE") {
    // A request in flight on the session would store its turns after the delete: wait for it.
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        table.config().sessions.busy_wait);
    auto t0 = Clock::now();
    auto leased = co_await store->acquire(key, wait);
    state.metrics.session_store(store->kind(), "lock", since(t0), leased.ok());
    if (!leased) {
      spdlog::warn("session store {}: lock failed: {}", store->kind(), leased.error().message);
      error = unavailable(store->kind());
    } else if (!*leased) {
      error = api::GatewayError{409, "session_busy", "invalid_request_error",
                                "Session '" + id + "' is busy with a request; retry when it ends.",
                                {}};
    } else {
      lease = std::move(*leased);
    }
  }
  std::optional<session::Session> found;
  if (!error) {
    auto t0 = Clock::now();
    auto loaded = co_await store->load(key);
    state.metrics.session_store(store->kind(), "load", since(t0), loaded.ok());
    if (!loaded) {
      spdlog::warn("session store {}: load failed: {}", store->kind(), loaded.error().message);
      error = unavailable(store->kind());
    } else if (!*loaded || (*loaded)->meta.owner != owner) {
      error = not_found(id);
    } else {
      found = std::move(**loaded);
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
  }
  if (error) {
    auto body = api::openai_face().error_body(*error, req.request_id);
    co_await sink.send(error->status, std::move(headers), std::move(body));
    co_return;
  }
  std::string body = req.method == "DELETE"
                         ? R"({"id":")" + id + R"(","object":"session.deleted","deleted":true})"
                         : session::transcript(id, *found);
  co_await sink.send(200, std::move(headers), std::move(body));
}

}  // namespace llmgw::server
