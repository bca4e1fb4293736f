// The client's Cache-Control directives (cache_control.hpp).
#include "llmgw/cache/cache_control.hpp"

#include "llmgw/common/strings.hpp"

namespace llmgw::cache {

CacheControl parse_cache_control(std::string_view value) {
  CacheControl out;
  while (!value.empty()) {
    auto comma = value.find(',');
    auto item = common::trim(value.substr(0, comma));
    // A directive may carry an argument (no-cache="field"): only its name matters here.
    item = common::trim(item.substr(0, item.find('=')));
    if (common::iequals(item, "no-cache")) {
      out.no_cache = true;
    } else if (common::iequals(item, "no-store")) {
      out.no_store = true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace llmgw::cache
