// The response cache in the pipeline (config: models[].cache, the top-level cache; headers
// Cache-Control, x-llmgw-cache; docs/configuration.md). The lookup stage decides whether the
// request is cacheable, computes its key and looks it up; a fresh entry makes the request a
// hit (the server replays it instead of routing), an expired one is kept for
// serve_stale_on_outage. The store tap stores a miss's answer once it is out, off the
// request's coroutine. A model without a cache costs the stage's applies(): one branch.
#include <boost/asio/this_coro.hpp>
#include <nlohmann/json.hpp>

#include "llmgw/cache/cache.hpp"
#include "llmgw/cache/cache_control.hpp"
#include "llmgw/cache/key.hpp"
#include "llmgw/cache/replay.hpp"
#include "llmgw/cache/request_cache.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/pipeline/pipeline.hpp"
#include "llmgw/state/availability.hpp"

namespace llmgw::pipeline {
namespace {

namespace asio = boost::asio;
using cache::RequestCache;
using cache::Result;

bool wants_usage(const RequestContext& ctx) {
  return (ctx.facts && ctx.facts->include_usage) || ctx.route.face->needs_stream_usage();
}

// The replay of a fresh entry to a streaming request, made here so that an entry that cannot
// be replayed is a miss rather than a failed hit. Empty when it cannot.
std::string stream_replay(api::Operation op, const std::string& answer, bool include_usage) {
  auto parsed = nlohmann::json::parse(answer, nullptr, false);
  auto stream = cache::replay_stream(op, parsed, include_usage);
  return stream ? std::move(*stream) : std::string();
}

// The API key's scope, and the headers the model's select rules test: the same body with
// another x-llmgw-tier may be served by another model, so it is another entry. (Header values
// cannot hold control characters, so the separators keep the parts apart.)
std::string scope_of(const RequestContext& ctx) {
  std::string scope = ctx.key ? "key:" + ctx.key->name : std::string(cache::kAnonymousScope);
  for (const auto& rule : ctx.model->select) {
    for (const auto& [name, want] : rule.headers) {
      (void)want;
      for (const auto& [have, value] : ctx.select_headers) {
        if (have == name) {
          scope += '\x1f';
          scope += name;
          scope += '\x1e';
          scope += value;
        }
      }
    }
  }
  return scope;
}

api::GatewayError unavailable() {
  return api::GatewayError{503, "state_unavailable", "api_error",
                           "The shared response cache cannot be reached "
                           "(state.on_unavailable.cache: deny); retry shortly.",
                           {}};
}

class CacheLookupStage final : public IngressStage {
public:
  explicit CacheLookupStage(const Services& services) : services_(services) {}

  std::string_view name() const override { return "cache_lookup"; }
  bool applies(const RequestContext& ctx) const override {
    return ctx.model && ctx.model->cache.has_value();
  }

  asio::awaitable<std::optional<api::GatewayError>> run(RequestContext& ctx) override {
    const auto& cc = *ctx.model->cache;
    const auto op = ctx.route.op;
    auto rc = std::make_shared<RequestCache>(op, Result::bypass);
    ctx.cache = rc;
    const auto control = cache::parse_cache_control(ctx.cache_control);
    const bool stream = ctx.facts && ctx.facts->stream;
    auto store = services_.cache ? services_.cache->store() : nullptr;
    // Not cacheable at all: the client said no-store; sampling may differ from one answer to
    // the next; a session's request carries its history and stores its answer as a turn; an
    // embeddings stream does not exist.
    const bool cacheable = store && ctx.body && !control.no_store && !ctx.session &&
                           cache::temperature_allows(*ctx.body, cc.any_temperature) &&
                           !cache::asks_logprobs(*ctx.body) &&
                           !(stream && op == api::Operation::embeddings);
    if (!cacheable) {
      cache::set_cache_header(ctx.response_headers, "bypass");
      co_return std::nullopt;
    }
    auto key = cache::request_key(op, scope_of(ctx), *ctx.body);
    auto ex = co_await asio::this_coro::executor;
    const auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(cc.ttl);
    rc->store_as(store, key, ttl, ctx.config.cache.max_entry_bytes, ex);
    if (control.no_cache) {
      // Asked for a fresh answer: no lookup (and no stale one either), but it is stored.
      cache::set_cache_header(ctx.response_headers, "bypass");
      co_return std::nullopt;
    }
    auto getting = store->get(std::move(key));
    auto found = co_await std::move(getting);
    if (!found && refused_while_down(ctx)) {
      ctx.response_headers.emplace_back("retry-after", "1");
      co_return unavailable();
    }
    rc->set_result(Result::miss);
    if (found && !found->stale) {
      std::string replay;
      if (stream) {
        replay = stream_replay(op, *found->answer, wants_usage(ctx));
      }
      if (!stream || !replay.empty()) {
        rc->hit(std::move(found->answer), std::move(replay));
        cache::set_cache_header(ctx.response_headers, "hit");
        co_return std::nullopt;
      }
    } else if (found && cc.serve_stale_on_outage) {
      rc->keep_stale(std::move(found->answer), stream, wants_usage(ctx));
    }
    cache::set_cache_header(ctx.response_headers, "miss");
    co_return std::nullopt;
  }

private:
  // The lookup found nothing because the shared store is away, and the config says a request
  // must not go to the providers uncached then.
  bool refused_while_down(const RequestContext& ctx) const {
    return ctx.config.state.on_unavailable.cache == config::OnUnavailable::deny &&
           services_.availability &&
           !services_.availability->available(state::Feature::cache);
  }

  Services services_;
};

class CacheStoreTap final : public ResponseTap {
public:
  explicit CacheStoreTap(const Services& services) : services_(services) {}

  std::string_view name() const override { return "cache_store"; }
  void on_response(const RequestContext& ctx) override {
    if (!ctx.cache) {
      return;
    }
    auto& rc = *ctx.cache;
    if (services_.metrics) {
      services_.metrics->cache_request(cache::to_string(rc.result()));
    }
    if (auto answer = rc.answer_to_store(*ctx.outcome)) {
      rc.store(std::move(*answer));
    }
  }

private:
  Services services_;
};

}  // namespace

std::unique_ptr<IngressStage> make_cache_lookup_stage(const Services& services) {
  return std::make_unique<CacheLookupStage>(services);
}
std::unique_ptr<ResponseTap> make_cache_store_tap(const Services& services) {
  return std::make_unique<CacheStoreTap>(services);
}

}  // namespace llmgw::pipeline
