#pragma once
// The client's Cache-Control request directives the response cache honours: no-cache (do not
// answer from the cache; the fresh answer is still stored) and no-store (neither look up nor
// store). Other directives (max-age, ...) are ignored.
#include <string_view>

namespace llmgw::cache {

struct CacheControl {
  bool no_cache = false;
  bool no_store = false;
};

/// Parses a Cache-Control field value (repeated fields joined with commas).
CacheControl parse_cache_control(std::string_view value);

}  // namespace llmgw::cache
