// The cache in the pipeline: the lookup stage, the capture of a miss's answer, the store tap,
// the replay of a hit (complete and as a stream), the stale answer as the router's last
// resort, and what bypasses the cache; in simulated time.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include "llmgw/cache/cache.hpp"
#include "llmgw/cache/memory_store.hpp"
#include "llmgw/cache/request_cache.hpp"
#include "llmgw/pipeline/pipeline.hpp"

namespace llmgw::pipeline {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using nlohmann::json;

// What the client got.
class RecordingSink final : public api::ResponseSink {
public:
  asio::awaitable<bool> send(int s, std::vector<common::Header> h, std::string b) override {
    status = s;
    headers = std::move(h);
    body = std::move(b);
    started_ = true;
    co_return true;
  }
  asio::awaitable<bool> start_stream(int s, std::vector<common::Header> h) override {
    status = s;
    headers = std::move(h);
    started_ = streamed = true;
    co_return true;
  }
  asio::awaitable<bool> write(std::string_view bytes) override {
    body.append(bytes);
    co_return true;
  }
  asio::awaitable<bool> end_stream() override {
    ended = true;
    co_return true;
  }
  asio::awaitable<bool> fail(const api::GatewayError& e, std::vector<common::Header>) override {
    status = e.status;
    failed = true;
    co_return true;
  }
  bool started() const override { return started_; }

  std::string header(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.name == name) {
        return h.value;
      }
    }
    return {};
  }

  int status = 0;
  std::vector<common::Header> headers;
  std::string body;
  bool streamed = false;
  bool ended = false;
  bool failed = false;

private:
  bool started_ = false;
};

template <class T>
T run(asio::io_context& io, asio::awaitable<T> a) {
  auto done = asio::co_spawn(io, std::move(a), asio::use_future);
  io.restart();
  io.run();
  return done.get();
}

const char* kAnswer = R"({"id":"chatcmpl-1","object":"chat.completion","created":1,)"
                      R"("model":"served","choices":[{"index":0,"message":{"role":"assistant",)"
                      R"("content":"Hi!"},"finish_reason":"stop"}],)"
                      R"("usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})";

// Built outside the coroutines (g++ 12 and aggregates of string literals in their bodies).
api::GatewayError broke() {
  return api::GatewayError{502, "upstream_stream_failed", "server_error", "broke", {}};
}

// A miss's answer written by the "router": through the capture sink when there is one.
asio::awaitable<bool> answer_complete(api::ResponseSink& sink) {
  std::vector<common::Header> headers;
  headers.emplace_back("x-request-id", "r");
  std::string body = kAnswer;
  co_return co_await sink.send(200, std::move(headers), std::move(body));
}

asio::awaitable<bool> answer_stream(api::ResponseSink& sink, bool finish) {
  std::vector<common::Header> headers;
  const bool started = co_await sink.start_stream(200, std::move(headers));
  std::string part =
      R"(data: {"id":"c","created":1,"model":"served","choices":[{"index":0,)"
      R"("delta":{"role":"assistant","content":"Str"}}]})"
      "\n\n";
  if (finish) {
    part += R"(data: {"id":"c","choices":[{"index":0,"delta":{"content":"eam"},)"
            R"("finish_reason":"stop"}]})"
            "\n\ndata: [DONE]\n\n";
  }
  api::StreamEvent e;
  e.sse = part;
  const bool sent = co_await sink.event(e);
  if (!finish) {
    auto err = broke();
    std::vector<common::Header> none;
    co_await sink.fail(err, std::move(none));
    co_return false;
  }
  co_await sink.end_stream();
  co_return started && sent;
}

struct CacheStageTest : ::testing::Test {
  CacheStageTest() {
    store = std::make_shared<cache::MemoryStore>(cache::MemoryLimits{1 << 20, 100, 1h}, clock);
    holder.use(store);
    services.cache = &holder;
    model.name = "m";
    model.cache = config::CacheConfig{};
    model.cache->ttl = 60s;
    key.name = "team-a";
  }

  struct Request {
    RequestContext ctx;
    json body;
    api::RequestFacts facts;
    router::CallOutcome outcome;
  };

  std::unique_ptr<Request> request(std::string_view body_text, bool stream = false,
                                   std::string_view cache_control = {}) {
    auto r = std::make_unique<Request>(Request{RequestContext{cfg, chat}, json::parse(body_text),
                                               {}, {}});
    r->facts.stream = stream;
    r->ctx.body = &r->body;
    r->ctx.facts = &r->facts;
    r->ctx.model = &model;
    r->ctx.model_name = "m";
    r->ctx.key = &key;
    r->ctx.cache_control = cache_control;
    return r;
  }

  // Runs the lookup; on a hit replays into `client`, else "routes" (the given answer through
  // the capture sink); then the taps.
  void serve(Request& r, RecordingSink& client, bool upstream_ok = true) {
    auto stage = make_cache_lookup_stage(services);
    ASSERT_TRUE(stage->applies(r.ctx));
    auto error = run(io, stage->run(r.ctx));
    ASSERT_FALSE(error);
    ASSERT_TRUE(r.ctx.cache);
    router::CallRequest call;
    call.model = "m";
    call.stream = r.facts.stream;
    call.request_id = "r";
    call.extra_headers = &r.ctx.response_headers;
    call.started = std::chrono::steady_clock::now();
    if (r.ctx.cache->has_hit()) {
      r.outcome = run(io, r.ctx.cache->replay(call, client));
    } else {
      auto captured = r.ctx.cache->capture(client);
      api::ResponseSink& sink = captured ? *captured : client;
      if (!upstream_ok) {
        // What the router does when nothing answered: its last resort, else the error.
        auto served = run(io, r.ctx.cache->serve(call, {}, r.outcome, sink));
        if (!served) {
          r.outcome.status = 503;
          r.outcome.error_code = "no_healthy_upstream";
        }
      } else if (r.facts.stream) {
        run(io, answer_stream(sink, true));
        r.outcome.status = 200;
      } else {
        run(io, answer_complete(sink));
        r.outcome.status = 200;
      }
      r.outcome.usage.prompt_tokens = 5;
      r.outcome.usage.completion_tokens = 2;
    }
    r.ctx.outcome = &r.outcome;
    auto tap = make_cache_store_tap(services);
    tap->on_response(r.ctx);
    io.restart();
    io.run();  // the store's detached put
  }

  config::Config cfg;
  api::Route chat{"/v1/chat/completions", api::Operation::chat, &api::openai_face()};
  config::ModelConfig model;
  config::KeyConfig key;
  common::ManualClock clock;
  std::shared_ptr<cache::MemoryStore> store;
  cache::Cache holder;
  Services services;
  asio::io_context io;
};

constexpr std::string_view kAsk =
    R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0})";

TEST_F(CacheStageTest, AMissIsStoredAndTheSameRequestThenHits) {
  auto first = request(kAsk);
  RecordingSink c1;
  serve(*first, c1);
  EXPECT_EQ(cache::to_string(first->ctx.cache->result()), "miss");
  EXPECT_EQ(c1.body, kAnswer);
  EXPECT_EQ(store->entries(), 1u);

  auto second = request(kAsk);
  RecordingSink c2;
  serve(*second, c2);
  EXPECT_EQ(cache::to_string(second->ctx.cache->result()), "hit");
  EXPECT_EQ(c2.status, 200);
  EXPECT_EQ(c2.body, kAnswer);
  EXPECT_EQ(c2.header("x-llmgw-cache"), "hit");
  EXPECT_EQ(c2.header("x-llmgw-provider"), "cache");
  EXPECT_EQ(second->outcome.provider, "cache");
  EXPECT_EQ(second->outcome.usage.prompt_tokens, 0u) << "a hit is no provider usage";
  EXPECT_EQ(second->outcome.cost_usd, 0);
}

TEST_F(CacheStageTest, AHitIsReplayedAsAStreamToAStreamingRequest) {
  auto first = request(kAsk);
  RecordingSink c1;
  serve(*first, c1);
  auto second = request(kAsk, true);
  RecordingSink c2;
  serve(*second, c2);
  EXPECT_EQ(cache::to_string(second->ctx.cache->result()), "hit");
  EXPECT_TRUE(c2.streamed);
  EXPECT_TRUE(c2.ended);
  EXPECT_NE(c2.body.find(R"("content":"Hi!")"), std::string::npos) << c2.body;
  EXPECT_TRUE(c2.body.ends_with("data: [DONE]\n\n"));
  EXPECT_EQ(c2.body.find("usage"), std::string::npos) << "the client did not ask for usage";
}

TEST_F(CacheStageTest, AStreamedMissIsStoredWholeAndAnsweredCompleteLater) {
  auto first = request(kAsk, true);
  RecordingSink c1;
  serve(*first, c1);
  EXPECT_EQ(store->entries(), 1u);
  auto second = request(kAsk);
  RecordingSink c2;
  serve(*second, c2);
  ASSERT_EQ(cache::to_string(second->ctx.cache->result()), "hit");
  auto answer = json::parse(c2.body);
  EXPECT_EQ(answer["choices"][0]["message"]["content"], "Stream");
  EXPECT_EQ(answer["usage"]["completion_tokens"], 2) << "the router's count of the stream";
}

TEST_F(CacheStageTest, ABrokenStreamOrAnErrorIsNotStored) {
  auto first = request(kAsk, true);
  auto stage = make_cache_lookup_stage(services);
  ASSERT_FALSE(run(io, stage->run(first->ctx)));
  RecordingSink c1;
  auto captured = first->ctx.cache->capture(c1);
  ASSERT_TRUE(captured);
  run(io, answer_stream(*captured, false));
  first->outcome.status = 502;
  first->outcome.error_code = "upstream_stream_failed";
  first->ctx.outcome = &first->outcome;
  make_cache_store_tap(services)->on_response(first->ctx);
  io.restart();
  io.run();
  EXPECT_EQ(store->entries(), 0u);
}

TEST_F(CacheStageTest, TheKeysScopeSeparatesAnswers) {
  auto first = request(kAsk);
  RecordingSink c1;
  serve(*first, c1);
  config::KeyConfig other;
  other.name = "team-b";
  auto second = request(kAsk);
  second->ctx.key = &other;
  RecordingSink c2;
  serve(*second, c2);
  EXPECT_EQ(cache::to_string(second->ctx.cache->result()), "miss");
}

TEST_F(CacheStageTest, NonZeroTemperatureBypassesUnlessAnyTemperature) {
  const std::string_view warm =
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.8})";
  auto first = request(warm);
  RecordingSink c1;
  serve(*first, c1);
  EXPECT_EQ(cache::to_string(first->ctx.cache->result()), "bypass");
  EXPECT_EQ(store->entries(), 0u);
  model.cache->any_temperature = true;
  auto second = request(warm);
  RecordingSink c2;
  serve(*second, c2);
  EXPECT_EQ(cache::to_string(second->ctx.cache->result()), "miss");
  EXPECT_EQ(store->entries(), 1u);
}

TEST_F(CacheStageTest, NoCacheSkipsTheLookupButStoresNoStoreDoesNeither) {
  auto seed = request(kAsk);
  RecordingSink c0;
  serve(*seed, c0);
  auto fresh = request(kAsk, false, "no-cache");
  RecordingSink c1;
  serve(*fresh, c1);
  EXPECT_EQ(cache::to_string(fresh->ctx.cache->result()), "bypass");
  EXPECT_EQ(c1.header("x-llmgw-cache"), "");  // our fake router does not add headers
  EXPECT_TRUE(fresh->ctx.cache->storing());

  const std::string_view other =
      R"({"model":"m","messages":[{"role":"user","content":"other"}],"temperature":0})";
  auto none = request(other, false, "no-store");
  RecordingSink c2;
  serve(*none, c2);
  EXPECT_EQ(cache::to_string(none->ctx.cache->result()), "bypass");
  EXPECT_FALSE(none->ctx.cache->storing());
  EXPECT_EQ(store->entries(), 1u);
}

TEST_F(CacheStageTest, AnExpiredEntryIsServedOnlyWhenNothingElseAnswers) {
  model.cache->serve_stale_on_outage = true;
  auto first = request(kAsk);
  RecordingSink c1;
  serve(*first, c1);
  clock.advance(61s);
  // Upstream fine: the expired entry is a miss, and the new answer replaces it.
  auto second = request(kAsk);
  RecordingSink c2;
  serve(*second, c2);
  EXPECT_EQ(cache::to_string(second->ctx.cache->result()), "miss");
  clock.advance(61s);
  // Every target failed: the stale entry, marked, as a stream when streaming.
  auto third = request(kAsk, true);
  RecordingSink c3;
  serve(*third, c3, false);
  EXPECT_EQ(cache::to_string(third->ctx.cache->result()), "stale");
  EXPECT_EQ(third->outcome.status, 200);
  EXPECT_EQ(c3.header("x-llmgw-cache"), "stale");
  EXPECT_TRUE(c3.streamed);
  EXPECT_NE(c3.body.find("Hi!"), std::string::npos);
  // Past max_stale nothing is left to serve.
  clock.advance(2h);
  auto fourth = request(kAsk);
  RecordingSink c4;
  serve(*fourth, c4, false);
  EXPECT_EQ(cache::to_string(fourth->ctx.cache->result()), "miss");
  EXPECT_EQ(fourth->outcome.status, 503);
}

TEST_F(CacheStageTest, WithoutServeStaleAnOutageIsAnError) {
  auto first = request(kAsk);
  RecordingSink c1;
  serve(*first, c1);
  clock.advance(61s);
  auto second = request(kAsk);
  RecordingSink c2;
  serve(*second, c2, false);
  EXPECT_EQ(second->outcome.status, 503);
  EXPECT_EQ(cache::to_string(second->ctx.cache->result()), "miss");
}

}  // namespace
}  // namespace llmgw::pipeline
