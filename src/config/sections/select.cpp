// The config schema, models[].select: rules that send a request to another model by the size
// of its prompt, its tools or images, or an x-llmgw-* header.
#include "config/schema_loader.hpp"

namespace llmgw::config::schema {

void SchemaLoader::select_rule(const Value& v, const std::string& model, SelectRule& rule) {
  rule.pos = detail::to_position(v.mark);
  MapReader m(r_, v, {"when", "use"});
  if (!m.ok()) {
    return;
  }
  if (auto uv = m.require("use")) {
    if (auto name = detail::read_string(r_, *uv)) {
      if (*name == model) {
        r_.error(*uv, "a rule cannot select its own model");
      } else {
        rule.use = *name;
        refs_.push_back(Ref{Ref::Kind::model, rule.use, *uv});
      }
    }
  }
  auto wv = m.require("when");
  if (!wv) {
    return;
  }
  MapReader w(r_, *wv, {"max_prompt_tokens", "min_prompt_tokens", "tools", "images", "headers"});
  if (!w.ok()) {
    return;
  }
  w.read("max_prompt_tokens", rule.max_prompt_tokens, 0, kNoMax);
  w.read("min_prompt_tokens", rule.min_prompt_tokens, 0, kNoMax);
  if (w.get("tools")) {
    bool b = false;
    w.read("tools", b);
    rule.tools = b;
  }
  if (w.get("images")) {
    bool b = false;
    w.read("images", b);
    rule.images = b;
  }
  bool named_headers = false;
  if (auto hv = w.get("headers")) {
    auto hm = MapReader::any_keys(r_, *hv);
    named_headers = !hm.entries().empty();
    for (const auto& e : hm.entries()) {
      std::string name = e.key;
      for (auto& c : name) {
        c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      }
      if (name == "x-llmgw-user" || name == "x-llmgw-region" || name == "x-llmgw-route-hint") {
        r_.error(e.value, "the gateway reads " + name + " itself; a select rule cannot test it");
        continue;
      }
      if (!name.starts_with("x-llmgw-") || name.size() == 8) {
        r_.error(e.value, "select headers must be named x-llmgw-... (the gateway keeps no "
                          "other request headers)");
        continue;
      }
      if (auto value = detail::read_string(r_, e.value)) {
        rule.headers.emplace_back(std::move(name), *value);
      }
    }
  }
  if (!rule.max_prompt_tokens && !rule.min_prompt_tokens && !rule.tools && !rule.images &&
      !named_headers) {
    r_.error(*wv, "a select rule needs at least one condition (max_prompt_tokens, "
                  "min_prompt_tokens, tools, images, headers)");
  }
}

}  // namespace llmgw::config::schema
