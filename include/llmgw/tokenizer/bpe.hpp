#pragma once
// Exact BPE tokenizers for OpenAI's tiktoken encodings (o200k_base, cl100k_base): the count a
// session is fitted to a model's window with (SPEC sessions, context.overflow). Loaded once from
// the encoding file (data/tokenizers/*.json: merge ranks, pre-tokenization regex), then
// immutable and shared by every worker; encode() and count() are thread safe.
//
// The algorithm is tiktoken's: the text is split by the encoding's regex (PCRE2 with Unicode
// properties, JIT-compiled), each piece is looked up whole, and pieces that are not a token are
// merged pairwise, lowest rank first. Special tokens are treated as text (encode_ordinary).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmgw::tokenizer {

using Token = std::uint32_t;

class BpeEncoding {
public:
  struct Options {
    // Pieces longer than this merge through a heap, O(n log n), instead of tiktoken's quadratic
    // scan (same merges, same order). Tests set it to compare the two.
    std::size_t long_piece = 128;
  };
  /// Loads an encoding file; throws std::runtime_error naming the file and what is wrong.
  static std::shared_ptr<const BpeEncoding> load(const std::string& path, Options options);
  static std::shared_ptr<const BpeEncoding> load(const std::string& path) {
    return load(path, Options{});
  }
  ~BpeEncoding();
  BpeEncoding(const BpeEncoding&) = delete;
  BpeEncoding& operator=(const BpeEncoding&) = delete;

  /// The tokens of `text` (invalid UTF-8 is split by bytes, never an error).
  std::vector<Token> encode(std::string_view text) const;
  /// How many tokens `text` is, without building the token list.
  std::size_t count(std::string_view text) const;
  std::size_t vocabulary_size() const;

  struct Impl;

private:
  explicit BpeEncoding(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmgw::tokenizer
