// The Responses API's stored responses over the session store (docs/sessions.md, "Responses
// API"). A response is stored under its own id as the whole conversation up to it, in
// canonical messages, followed by one record holding the response object (for GET
// /v1/responses/{id}). `previous_response_id` loads that conversation in front of the new
// input; every response is a new entry, so a chain never changes what it continues from and
// needs no lease. The load stage runs after decode; the store tap writes after the answer went
// out, off the request's path.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "llmgw/api/json.hpp"
#include "llmgw/api/responses.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/pipeline/pipeline.hpp"
#include "llmgw/session/protocol.hpp"
#include "llmgw/session/sessions.hpp"
#include "session/store_timing.hpp"

namespace llmgw::session {

struct StoredTurn {
  std::shared_ptr<SessionStore> store;
  std::shared_ptr<api::responses::Turn> turn;
  std::vector<std::string> conversation;  // the continued history, then this request's input
  boost::asio::any_io_executor executor;
};

}  // namespace llmgw::session

namespace llmgw::pipeline {
namespace {

namespace asio = boost::asio;
using api::responses::Turn;

api::GatewayError previous_not_found(std::string_view id) {
  return api::GatewayError{404, "previous_response_not_found", "invalid_request_error",
                           "Previous response with id '" + api::echo(id) + "' not found.",
                           "previous_response_id"};
}

api::GatewayError store_unavailable(std::string_view kind) {
  return api::GatewayError{503, "session_store_unavailable", "server_error",
                           "The session store (" + std::string(kind) +
                               ") that keeps responses is unavailable. Retry later, or send the "
                               "whole conversation without previous_response_id.",
                           "previous_response_id"};
}

std::shared_ptr<Turn> turn_in(const RequestContext& ctx) {
  if (ctx.facts == nullptr || api::responses::turn_of(*ctx.facts) == nullptr) {
    return nullptr;
  }
  return std::static_pointer_cast<Turn>(ctx.facts->face_state);
}

class ResponseLoadStage final : public IngressStage {
public:
  explicit ResponseLoadStage(const Services& services) : services_(services) {}
  std::string_view name() const override { return "response_load"; }

  bool applies(const RequestContext& ctx) const override {
    const auto* turn = ctx.facts ? api::responses::turn_of(*ctx.facts) : nullptr;
    return turn != nullptr && (turn->store || !turn->previous_response_id.empty());
  }

  asio::awaitable<std::optional<api::GatewayError>> run(RequestContext& ctx) override {
    auto turn = turn_in(ctx);
    auto store = services_.sessions ? services_.sessions->store() : nullptr;
    const std::string owner = ctx.key ? ctx.key->name : std::string();
    auto& messages = (*ctx.body)["messages"];
    // The input is last: instructions and the gateway's system context went before it.
    const std::size_t input_begin = messages.size() - std::min(turn->input_messages,
                                                               messages.size());
    std::vector<std::string> history;  // the continued conversation, as stored
    if (!turn->previous_response_id.empty()) {
      const auto& previous = turn->previous_response_id;
      if (!ctx.session_id.empty()) {
        co_return api::invalid_request(
            "previous_response_id continues a stored response and x-session-id a session: "
            "send one of them.",
            "previous_response_id");
      }
      if (!store) {
        co_return store_unavailable("none");
      }
      if (!api::responses::valid_response_id(previous)) {
        co_return previous_not_found(previous);
      }
      const session::StoreTiming timing(services_.metrics, *store, "load");
      auto loaded = co_await store->load(
          session::store_key(owner, api::responses::store_name(previous)));
      timing.done(loaded.ok());
      if (!loaded) {
        spdlog::warn("session store {}: load of a stored response failed: {}", store->kind(),
                     loaded.error().message);
        co_return store_unavailable(store->kind());
      }
      if (!*loaded || (*loaded)->meta.owner != owner) {
        co_return previous_not_found(previous);
      }
      auto& stored_messages = (*loaded)->messages;
      if (!stored_messages.empty() &&
          !api::responses::record_response(stored_messages.back()).empty()) {
        stored_messages.pop_back();
      }
      // The continued conversation goes right before this request's input.
      nlohmann::json joined = nlohmann::json::array();
      for (std::size_t i = 0; i < input_begin; ++i) {
        joined.push_back(std::move(messages[i]));
      }
      for (auto& text : stored_messages) {
        auto m = api::parse_json(text, api::JsonLimits{ctx.config.server.max_json_depth});
        if (m && m->is_object()) {
          joined.push_back(std::move(*m));
          history.push_back(std::move(text));
        }
      }
      for (std::size_t i = input_begin; i < messages.size(); ++i) {
        joined.push_back(std::move(messages[i]));
      }
      messages = std::move(joined);
    }
    if (!turn->store || !store) {
      co_return std::nullopt;
    }
    auto stored = std::make_shared<session::StoredTurn>();
    stored->conversation = std::move(history);
    for (std::size_t i = input_begin + stored->conversation.size(); i < messages.size(); ++i) {
      stored->conversation.push_back(messages[i].dump());
    }
    stored->store = std::move(store);
    stored->turn = std::move(turn);
    stored->executor = co_await asio::this_coro::executor;
    ctx.stored_response = std::move(stored);
    co_return std::nullopt;
  }

private:
  Services services_;
};

asio::awaitable<void> store_response(std::shared_ptr<session::StoredTurn> stored,
                                     session::Append change, metrics::Metrics* metrics,
                                     session::PendingWrite pending) {
  auto& store = *stored->store;
  const session::StoreTiming timing(metrics, store, "append");
  auto key = session::store_key(change.meta.owner, api::responses::store_name(stored->turn->id));
  auto written = co_await store.append(std::move(key), std::move(change));
  timing.done(written.ok());
  if (!written) {
    spdlog::warn("response {}: not stored ({}): {}", stored->turn->id, store.kind(),
                 written.error().message);
  }
  (void)pending;
}

class ResponseStoreTap final : public ResponseTap {
public:
  explicit ResponseStoreTap(const Services& services) : services_(services) {}
  std::string_view name() const override { return "response_store"; }

  void on_response(const RequestContext& ctx) override {
    const auto& stored = ctx.stored_response;
    const auto& out = *ctx.outcome;
    // Only an answer the model gave, as the client got it, can be continued or read back.
    if (!stored || out.status != 200 || out.degraded || out.answer.empty() ||
        stored->turn->response.empty()) {
      return;
    }
    session::Append change;
    change.messages = std::move(stored->conversation);
    change.messages.push_back(out.answer);
    change.messages.push_back(api::responses::record_message(stored->turn->response));
    change.meta.owner = ctx.key ? ctx.key->name : std::string();
    change.meta.last_provider = out.provider;
    change.meta.last_model = out.served_model;
    change.meta.tokens = out.usage.prompt_tokens + out.usage.completion_tokens;
    session::PendingWrite pending;
    asio::co_spawn(stored->executor,
                   store_response(stored, std::move(change), services_.metrics,
                                  std::move(pending)),
                   asio::detached);
  }

private:
  Services services_;
};

}  // namespace

std::unique_ptr<IngressStage> make_response_load_stage(const Services& services) {
  return std::make_unique<ResponseLoadStage>(services);
}

std::unique_ptr<ResponseTap> make_response_store_tap(const Services& services) {
  return std::make_unique<ResponseStoreTap>(services);
}

}  // namespace llmgw::pipeline
