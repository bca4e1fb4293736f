#include "llmgw/tokenizer/library.hpp"

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <unistd.h>
#include <vector>

namespace llmgw::tokenizer {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("LLMGW_TOKENIZERS_DIR"); env && *env) {
    out.emplace_back(env);
  }
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((exe.parent_path().parent_path() / "share/llmgw/tokenizers").string());
  }
  out.emplace_back("/usr/share/llmgw/tokenizers");
  out.emplace_back("/usr/local/share/llmgw/tokenizers");
#ifdef LLMGW_SOURCE_TOKENIZERS
  out.emplace_back(LLMGW_SOURCE_TOKENIZERS);
#endif
  return out;
}

}  // namespace

std::shared_ptr<const Library> Library::load(const std::string& dir) {
  auto lib = std::make_shared<Library>();
  lib->o200k_ = BpeEncoding::load(dir + "/o200k_base.json");
  lib->cl100k_ = BpeEncoding::load(dir + "/cl100k_base.json");
  lib->models_ = ModelEncodings::load(dir + "/model_to_encoding.json");
  lib->dir_ = dir;
  return lib;
}

std::shared_ptr<const Library> Library::shared(std::string* where) {
  static std::mutex mu;
  static std::shared_ptr<const Library> lib;
  static std::string searched;
  std::lock_guard lock(mu);
  if (!lib && searched.empty()) {
    for (const auto& dir : candidates()) {
      std::error_code ec;
      if (!fs::exists(dir + "/o200k_base.json", ec)) {
        searched += (searched.empty() ? "" : ", ") + dir;
        continue;
      }
      try {
        lib = load(dir);
        break;
      } catch (const std::exception& e) {
        searched += (searched.empty() ? "" : ", ") + dir + " (" + e.what() + ")";
      }
    }
    if (searched.empty()) {
      searched = "-";
    }
  }
  if (where) {
    *where = lib ? lib->dir_ : searched;
  }
  return lib;
}

const BpeEncoding* Library::exact_for(std::string_view model) const {
  auto encoding = models_.encoding_for(model);
  if (!encoding) {
    return nullptr;
  }
  if (*encoding == "o200k_base") {
    return o200k_.get();
  }
  if (*encoding == "cl100k_base") {
    return cl100k_.get();
  }
  return nullptr;  // an older encoding (p50k, r50k): estimated like any other model
}

}  // namespace llmgw::tokenizer
