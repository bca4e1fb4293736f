// The config schema, keys: virtual keys with their limits and budgets.
#include "config/schema_loader.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::config::schema {

void SchemaLoader::key(const Value& v, KeyConfig& k) {
  MapReader m(r_, v, {"name", "sha256", "models", "rate_limit", "budget", "persona"});
  if (!m.ok()) {
    return;
  }
  name(m, k.name, keys_, false);
  if (auto at = required_string(m, "sha256", k.sha256)) {
    auto hash = common::to_lower(common::trim(k.sha256));
    bool hex = hash.size() == 64 && std::all_of(hash.begin(), hash.end(), [](char c) {
                 return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
               });
    if (!hex) {
      r_.error(*at,
               "expected 64 hex characters, the SHA-256 of the key (e.g. from "
               "`printf %s \"$KEY\" | sha256sum`)");
    } else {
      k.sha256 = hash;
      auto [it, inserted] = hashes_.emplace(hash, std::make_pair(k.name, at->mark.line + 1));
      if (!inserted) {
        r_.error(*at, "same sha256 as key '" + it->second.first + "' (line " +
                          std::to_string(it->second.second) + ")");
      }
    }
  }
  if (auto mv = m.get("models")) {
    k.models = name_list(*mv, Ref::Kind::model, "model");
  }
  if (auto rv = m.get("rate_limit")) {
    limits(*rv, k.rate_limit);
  }
  if (auto bv = m.get("budget")) {
    KeyBudget b;
    MapReader bm(r_, *bv, {"usd_per_day", "usd_per_month"});
    bm.read("usd_per_day", b.usd_per_day, 0.0, kNoMaxDouble);
    bm.read("usd_per_month", b.usd_per_month, 0.0, kNoMaxDouble);
    k.budget = b;
  }
  m.read("persona", k.persona);
}

}  // namespace llmgw::config::schema
