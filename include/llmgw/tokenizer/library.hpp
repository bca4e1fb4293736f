#pragma once
// The tokenizers the gateway counts with, loaded once per process from the first directory
// that has them: $LLMGW_TOKENIZERS_DIR, <executable>/../share/llmgw/tokenizers,
// /usr/share/llmgw/tokenizers, /usr/local/share/llmgw/tokenizers, then the source tree's
// data/tokenizers (a build that was not installed). Loading parses ~3.5 MB of JSON: it runs on
// the control thread when a config first needs counting, never on a worker.
#include <memory>
#include <string>
#include <string_view>

#include "llmgw/tokenizer/bpe.hpp"
#include "llmgw/tokenizer/models.hpp"

namespace llmgw::tokenizer {

class Library {
public:
  /// The process's library (loaded on the first call); null when no directory has the data,
  /// with `where` saying what was searched. Thread safe.
  static std::shared_ptr<const Library> shared(std::string* where = nullptr);
  /// Loads from one directory; throws std::runtime_error naming the file at fault.
  static std::shared_ptr<const Library> load(const std::string& dir);

  /// The exact encoding of an OpenAI model name, or null.
  const BpeEncoding* exact_for(std::string_view model) const;
  const BpeEncoding& o200k() const { return *o200k_; }
  const BpeEncoding& cl100k() const { return *cl100k_; }
  const std::string& dir() const { return dir_; }

private:
  std::shared_ptr<const BpeEncoding> o200k_;
  std::shared_ptr<const BpeEncoding> cl100k_;
  ModelEncodings models_;
  std::string dir_;
};

}  // namespace llmgw::tokenizer
