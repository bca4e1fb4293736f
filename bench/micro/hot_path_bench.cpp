#include <benchmark/benchmark.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "llmgw/api/sse.hpp"
#include "llmgw/providers/adapter.hpp"
#include "api/openai/request_validation.hpp"
#include "llmgw/api/json.hpp"
#include "router/continuation.hpp"

namespace {

using namespace llmgw;

std::string fixture(const char* name) {
  std::ifstream in(std::string(LLMGW_SOURCE_DIR) + "/tests/fixtures/openai/" + name,
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* kChatBody =
    R"({"model":"smart","messages":[{"role":"system","content":"You are terse."},)"
    R"({"role":"user","content":"What is the capital of France? Answer in one word."}],)"
    R"("temperature":0,"max_tokens":64,"stream":true})";

void BM_SseDecodeLongStream(benchmark::State& state) {
  auto text = fixture("chat-stream-long-text.sse");
  for (auto _ : state) {
    api::SseDecoder d;
    std::size_t n = 0;
    d.feed(text, [&](const api::SseEvent& e) { n += e.data.size(); });
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_SseDecodeLongStream);

void BM_OpenAiStreamTranslate(benchmark::State& state) {
  auto text = fixture("chat-stream-long-text.sse");
  auto adapter = providers::make_adapter(config::ProviderKind::openai);
  std::string out;
  out.reserve(text.size());
  for (auto _ : state) {
    auto tr = adapter->make_stream_translator(providers::Operation::chat, {true, false});
    out.clear();
    // Feed in 512-byte slices, the way bytes come off a socket.
    for (std::size_t i = 0; i < text.size(); i += 512) {
      tr->feed(std::string_view(text).substr(i, 512), out);
    }
    tr->finish(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_OpenAiStreamTranslate);

// What the gateway does to every request body before it goes upstream: parse, validate,
// render for the target (model rewrite, usage option, headers).
void BM_ParseValidateRender(benchmark::State& state) {
  auto adapter = providers::make_adapter(config::ProviderKind::openai);
  config::ProviderConfig p;
  p.name = "openai";
  p.url = *common::parse_url("https://api.openai.com/v1");
  p.api_key = "sk-test";
  config::TargetConfig t;
  t.model = "gpt-4o";
  for (auto _ : state) {
    auto body = nlohmann::json::parse(kChatBody);
    auto err = api::openai::validate_request(providers::Operation::chat, body);
    auto req = adapter->build_request(providers::Operation::chat, body, p, t, {true, false});
    benchmark::DoNotOptimize(err);
    benchmark::DoNotOptimize(req.body.data());
  }
}
BENCHMARK(BM_ParseValidateRender);

// What the router does to each relayed chunk for the continuation tracker: scan it (the face
// relays the bytes) or parse it (the face renders the chunk, e.g. /v1/messages).
constexpr const char* kChunk =
    R"({"id":"chatcmpl-AbCdEf123","object":"chat.completion.chunk","created":1733300000,)"
    R"("model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,)"
    R"("delta":{"content":" relayed"},"logprobs":null,"finish_reason":null}]})";

void BM_TrackChunkScan(benchmark::State& state) {
  for (auto _ : state) {
    router::StreamTracker tracker;
    tracker.observe_data(kChunk);
    benchmark::DoNotOptimize(tracker.text().data());
  }
}
BENCHMARK(BM_TrackChunkScan);

void BM_TrackChunkParse(benchmark::State& state) {
  for (auto _ : state) {
    router::StreamTracker tracker;
    auto parsed = api::parse_json(kChunk, api::JsonLimits{api::kDefaultMaxJsonDepth, false});
    tracker.observe_chunk(*parsed);
    benchmark::DoNotOptimize(tracker.text().data());
  }
}
BENCHMARK(BM_TrackChunkParse);

void BM_ScanUsageNonStream(benchmark::State& state) {
  auto body = fixture("chat-nonstream-basic.json");
  for (auto _ : state) {
    benchmark::DoNotOptimize(providers::scan_usage(body));
  }
}
BENCHMARK(BM_ScanUsageNonStream);

}  // namespace

BENCHMARK_MAIN();
