// Conversation sessions in the pipeline (config: sessions; headers x-session-id,
// x-llmgw-user; docs/sessions.md). The load stage adds the gateway's system context (system
// prompt, the key's persona, the user's profile), and for a session request takes the
// session's lease (one request at a time per session), loads the stored turns and joins them
// to the request. The append tap stores the new turns with the answer after it went out,
// then lets the lease go, so the next request on the session sees them.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "llmgw/metrics/metrics.hpp"
#include "llmgw/pipeline/pipeline.hpp"
#include "llmgw/session/protocol.hpp"
#include "llmgw/session/sessions.hpp"
#include "session/store_timing.hpp"

namespace llmgw::session {

struct SessionTurn {
  std::shared_ptr<SessionStore> store;
  std::unique_ptr<Lease> lease;
  std::string id;
  std::vector<std::string> to_store;  // the request's new turns
  Joined joined;                      // where the stored turns were (for a compaction)
  boost::asio::any_io_executor executor;
};

}  // namespace llmgw::session

namespace llmgw::pipeline {
namespace {

namespace asio = boost::asio;

// The details (addresses, paths) go to the log, not to the client.
api::GatewayError store_unavailable(std::string_view kind) {
  return api::GatewayError{503, "session_store_unavailable", "server_error",
                           "The session store (" + std::string(kind) +
                               ") is unavailable. Retry later, or send the request without "
                               "x-session-id.",
                           "x-session-id"};
}

api::GatewayError session_busy(std::string_view id, std::chrono::milliseconds waited) {
  return api::GatewayError{409, "session_busy", "invalid_request_error",
                           "Session '" + std::string(id) +
                               "' is busy with another request (waited " +
                               std::to_string(waited.count()) +
                               " ms); requests on one session are served one at a time.",
                           "x-session-id"};
}

api::GatewayError session_not_found(std::string_view id) {
  return api::GatewayError{404, "session_not_found", "invalid_request_error",
                           "No session '" + std::string(id) + "'.", "x-session-id"};
}

class SessionLoadStage final : public IngressStage {
public:
  explicit SessionLoadStage(const Services& services) : services_(services) {}

  std::string_view name() const override { return "session_load"; }

  bool applies(const RequestContext& ctx) const override {
    if (!ctx.session_id.empty() || !ctx.user.empty()) {
      return true;
    }
    const auto& sc = ctx.config.sessions;
    const bool persona = ctx.key && !ctx.key->persona.empty();
    const bool everywhere = sc.inject_everywhere && !sc.system_prompt.empty();
    return (persona || everywhere) && ctx.route.op == api::Operation::chat;
  }

  asio::awaitable<std::optional<api::GatewayError>> run(RequestContext& ctx) override {
    const auto& sc = ctx.config.sessions;
    std::string_view persona = ctx.key ? std::string_view(ctx.key->persona) : std::string_view();
    std::string_view profile;
    if (!ctx.user.empty()) {
      auto it = sc.profiles.find(std::string(ctx.user));
      if (it == sc.profiles.end()) {
        co_return api::invalid_request("x-llmgw-user names no profile in sessions.profiles: '" +
                                           std::string(api::echo(ctx.user)) + "'.",
                                       "x-llmgw-user");
      }
      profile = it->second;
    }
    if (ctx.route.op != api::Operation::chat) {
      if (!ctx.session_id.empty()) {
        co_return api::invalid_request(
            "x-session-id is for chat requests (/v1/chat/completions, /v1/messages).",
            "x-session-id");
      }
      co_return std::nullopt;  // personas and system prompts shape chat turns only
    }
    if (ctx.session_id.empty()) {
      auto system = session::gateway_system(sc.inject_everywhere ? sc.system_prompt : "",
                                            persona, profile);
      session::inject_system(*ctx.body, system);
      co_return std::nullopt;
    }
    if (!session::valid_session_id(ctx.session_id)) {
      co_return api::invalid_request(
          "x-session-id must be 1 to 128 characters of letters, digits, '.', '_', ':' and '-'.",
          "x-session-id");
    }
    auto store = services_.sessions ? services_.sessions->store() : nullptr;
    if (!store) {
      co_return store_unavailable("none");
    }
    const std::string owner = ctx.key ? ctx.key->name : std::string();
    const std::string id = session::store_key(owner, ctx.session_id);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(sc.busy_wait);
    const session::StoreTiming lock_timing(services_.metrics, *store, "lock");
    auto leased = co_await store->acquire(id, wait);
    lock_timing.done(leased.ok());
    if (!leased) {
      spdlog::warn("session store {}: lock failed: {}", store->kind(), leased.error().message);
      co_return store_unavailable(store->kind());
    }
    if (!*leased) {
      co_return session_busy(ctx.session_id, wait);
    }
    const session::StoreTiming load_timing(services_.metrics, *store, "load");
    auto loaded = co_await store->load(id);
    load_timing.done(loaded.ok());
    if (!loaded) {
      spdlog::warn("session store {}: load failed: {}", store->kind(), loaded.error().message);
      co_return store_unavailable(store->kind());
    }
    if (*loaded && (*loaded)->meta.owner != owner) {
      co_return session_not_found(ctx.session_id);  // (ids are scoped by key: a collision)
    }
    const auto* stored = *loaded ? &**loaded : nullptr;
    auto joined = session::join_history(*ctx.body, stored,
                                        session::gateway_system(sc.system_prompt, persona,
                                                                profile));
    ctx.session_view.history_begin = joined.history_begin;
    ctx.session_view.history = joined.history;
    ctx.session_view.summary = stored ? stored->summary : std::string();
    auto turn = std::make_shared<session::SessionTurn>();
    turn->store = std::move(store);
    turn->lease = std::move(*leased);
    turn->id = id;
    turn->to_store = std::move(joined.to_store);
    turn->joined = std::move(joined);
    turn->executor = co_await asio::this_coro::executor;
    ctx.session = std::move(turn);
    co_return std::nullopt;
  }

private:
  Services services_;
};

asio::awaitable<void> store_turns(std::shared_ptr<session::SessionTurn> turn,
                                  session::Append change, metrics::Metrics* metrics,
                                  session::PendingWrite pending) {
  const session::StoreTiming timing(metrics, *turn->store, "append");
  auto id = turn->id;
  auto stored = co_await turn->store->append(std::move(id), std::move(change));
  timing.done(stored.ok());
  if (!stored) {
    spdlog::warn("session {}: the new turns were not stored ({}): {}", turn->id,
                 turn->store->kind(), stored.error().message);
  }
  // The lease goes with `turn` (before `pending`: a Redis lease's release counts as a
  // pending write of its own): the next request on the session now sees these turns.
  turn.reset();
  (void)pending;
}

class SessionAppendTap final : public ResponseTap {
public:
  explicit SessionAppendTap(const Services& services) : services_(services) {}

  std::string_view name() const override { return "session_append"; }

  void on_response(const RequestContext& ctx) override {
    const auto& turn = ctx.session;
    const auto& out = *ctx.outcome;
    // Only an answer the model gave becomes history: not an error, not the degrade message.
    if (!turn || out.status != 200 || out.degraded || out.answer.empty()) {
      return;  // the lease goes when the request's context does
    }
    auto turns = std::move(turn->to_store);
    turns.push_back(out.answer);
    // With a summary (context.overflow: summarize) the turns it stands for leave the store.
    auto change = session::compaction(turn->joined, out.summarized, out.summary,
                                      std::move(turns));
    change.meta.owner = ctx.key ? ctx.key->name : std::string();
    change.meta.last_provider = out.provider;
    change.meta.last_model = out.served_model;
    change.meta.tokens = out.usage.prompt_tokens + out.usage.completion_tokens;
    session::PendingWrite pending;
    asio::co_spawn(turn->executor,
                   store_turns(turn, std::move(change), services_.metrics, std::move(pending)),
                   asio::detached);
  }

private:
  Services services_;
};

}  // namespace

std::unique_ptr<IngressStage> make_session_load_stage(const Services& services) {
  return std::make_unique<SessionLoadStage>(services);
}
std::unique_ptr<ResponseTap> make_session_append_tap(const Services& services) {
  return std::make_unique<SessionAppendTap>(services);
}

}  // namespace llmgw::pipeline
