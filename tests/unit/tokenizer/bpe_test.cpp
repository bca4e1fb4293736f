// The BPE tokenizers against every reference tokenization in data/tokenizers/vectors.jsonl
// (made with tiktoken itself), and their behaviour on what a client may send.
#include "llmgw/tokenizer/bpe.hpp"
#include "llmgw/tokenizer/models.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <random>
#include <map>
#include <nlohmann/json.hpp>

namespace llmgw::tokenizer {
namespace {

const std::string kData = std::string(LLMGW_SOURCE_DIR) + "/data/tokenizers/";

const BpeEncoding& encoding(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const BpeEncoding>> loaded;
  auto& e = loaded[name];
  if (!e) {
    e = BpeEncoding::load(kData + name + ".json");
  }
  return *e;
}

TEST(Bpe, MatchesEveryReferenceVector) {
  std::ifstream in(kData + "vectors.jsonl");
  ASSERT_TRUE(in) << "vectors.jsonl";
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    if (line.empty()) {
      continue;
    }
    auto v = nlohmann::json::parse(line);
    const auto& enc = encoding(v["encoding"].get<std::string>());
    const auto text = v["text"].get<std::string>();
    const auto expected = v["tokens"].get<std::vector<Token>>();
    EXPECT_EQ(enc.encode(text), expected) << v["encoding"] << " " << v["text"].dump();
    EXPECT_EQ(enc.count(text), expected.size());
    ++checked;
  }
  EXPECT_GE(checked, 40);
}

TEST(Bpe, LoadsTheWholeVocabulary) {
  EXPECT_EQ(encoding("cl100k_base").vocabulary_size(), 100256u);
  EXPECT_GT(encoding("o200k_base").vocabulary_size(), 199000u);
}

TEST(Bpe, InvalidUtf8AndControlBytesAreTokensNotErrors) {
  const auto& enc = encoding("o200k_base");
  const std::string bad = "ok \xff\xfe\xc3 then \x01\x02 text";
  auto tokens = enc.encode(bad);
  EXPECT_FALSE(tokens.empty());
  EXPECT_EQ(enc.count(bad), tokens.size());
}

TEST(Bpe, ALongRunStaysExactAndFinishes) {
  const auto& enc = encoding("cl100k_base");
  const std::string run(200000, 'a');  // one piece: the heap merge keeps it fast
  EXPECT_GT(enc.count(run), 0u);
  EXPECT_LT(enc.count(run), 200000u);
}

TEST(Bpe, LongPiecesMergeExactlyAsTiktokensScanDoes) {
  // The heap merge (pieces over 128 bytes) against the quadratic scan on the same pieces.
  for (const char* name : {"o200k_base", "cl100k_base"}) {
    const auto& fast = encoding(name);
    auto scan = BpeEncoding::load(kData + name + ".json",
                                  BpeEncoding::Options{std::numeric_limits<std::size_t>::max()});
    std::mt19937 rng(11);
    std::uniform_int_distribution<int> letter(0, 25);
    std::uniform_int_distribution<int> length(129, 700);
    for (int i = 0; i < 40; ++i) {
      std::string word;  // one piece: letters only
      const int n = length(rng);
      for (int k = 0; k < n; ++k) {
        word.push_back(static_cast<char>('a' + (i % 3 == 0 ? letter(rng) % 3 : letter(rng))));
      }
      ASSERT_EQ(fast.encode(word), scan->encode(word)) << name << " " << word;
    }
  }
}

TEST(ModelEncodings, ExactNamesThenTheLongestDashedPrefix) {
  auto models = ModelEncodings::load(kData + "model_to_encoding.json");
  EXPECT_GT(models.size(), 50u);
  EXPECT_EQ(models.encoding_for("gpt-4o"), "o200k_base");
  EXPECT_EQ(models.encoding_for("gpt-4"), "cl100k_base");
  EXPECT_EQ(models.encoding_for("gpt-4o-2099-01-01"), "o200k_base") << "a dated name";
  EXPECT_EQ(models.encoding_for("gpt-4-0613"), "cl100k_base");
  EXPECT_FALSE(models.encoding_for("claude-sonnet-4"));
  EXPECT_FALSE(models.encoding_for("-"));
  EXPECT_FALSE(models.encoding_for(""));
}

TEST(Bpe, AMissingOrBrokenFileSaysWhich) {
  try {
    BpeEncoding::load("/nonexistent/o200k_base.json");
    FAIL() << "loaded a missing file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/o200k_base.json"), std::string::npos);
  }
  EXPECT_THROW(BpeEncoding::load(kData + "vectors.jsonl"), std::runtime_error);
}

}  // namespace
}  // namespace llmgw::tokenizer
