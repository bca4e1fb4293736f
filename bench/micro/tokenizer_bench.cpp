// Tokenizer throughput (issue 11: at least 20 MB/s per core): counting tokens of English prose,
// code-like JSON and CJK text with o200k_base and cl100k_base. Reports bytes per second.
#include <benchmark/benchmark.h>

#include <string>

#include "llmgw/tokenizer/bpe.hpp"

namespace {

using llmgw::tokenizer::BpeEncoding;

const BpeEncoding& enc(int which) {
  static auto o200k =
      BpeEncoding::load(std::string(LLMGW_SOURCE_DIR) + "/data/tokenizers/o200k_base.json");
  static auto cl100k =
      BpeEncoding::load(std::string(LLMGW_SOURCE_DIR) + "/data/tokenizers/cl100k_base.json");
  return which == 0 ? *o200k : *cl100k;
}

std::string text(int kind) {
  static const char* kProse =
      "The gateway keeps a conversation on the server and fits it to each model's window, "
      "counting tokens exactly before every attempt, so a session survives a failover. ";
  static const char* kJson =
      R"({"model":"gpt-4o","messages":[{"role":"user","content":"What is 17 + 25?"}],"n":1} )";
  static const char* kCjk = "会话在服务器上保存，并根据每个模型的窗口进行裁剪。トークンを数える。";
  const char* unit = kind == 0 ? kProse : kind == 1 ? kJson : kCjk;
  std::string out;
  while (out.size() < (1 << 20)) {
    out += unit;
  }
  return out;
}

void BM_Count(benchmark::State& state) {
  const auto& e = enc(static_cast<int>(state.range(0)));
  const auto t = text(static_cast<int>(state.range(1)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(e.count(t));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(t.size()));
}
// (encoding: 0 o200k, 1 cl100k) x (text: 0 prose, 1 JSON, 2 CJK)
BENCHMARK(BM_Count)->ArgsProduct({{0, 1}, {0, 1, 2}})->Unit(benchmark::kMillisecond);

}  // namespace
