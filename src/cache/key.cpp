// The response cache's key (key.hpp).
#include "llmgw/cache/key.hpp"

#include <array>
#include <cmath>
#include <nlohmann/json.hpp>

#include "llmgw/common/strings.hpp"

namespace llmgw::cache {
namespace {

using nlohmann::json;

// Fields that change how the answer is delivered or who asked, not what it says.
constexpr std::array<std::string_view, 7> kIgnored = {
    "stream", "stream_options", "user", "metadata", "store", "safety_identifier",
    "prompt_cache_key"};

bool ignored(std::string_view field) {
  for (auto f : kIgnored) {
    if (f == field) {
      return true;
    }
  }
  return false;
}

// 0.0 and 0 (and 1.0 and 1) are one number to a provider: one spelling in the key.
json normalise(const json& v) {
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9e15) {
      return json(static_cast<std::int64_t>(d));
    }
    return v;
  }
  if (v.is_object()) {
    json out = json::object();  // std::map underneath: sorted keys
    for (const auto& [k, item] : v.items()) {
      out[k] = normalise(item);
    }
    return out;
  }
  if (v.is_array()) {
    json out = json::array();
    for (const auto& item : v) {
      out.push_back(normalise(item));
    }
    return out;
  }
  return v;
}

}  // namespace

bool asks_logprobs(const nlohmann::json& body) {
  if (!body.is_object()) {
    return false;
  }
  auto lp = body.find("logprobs");
  if (lp != body.end() && !lp->is_null() && !(lp->is_boolean() && !lp->get<bool>())) {
    return true;  // chat: true; legacy completions: a number
  }
  auto top = body.find("top_logprobs");
  return top != body.end() && !top->is_null();
}

bool temperature_allows(const nlohmann::json& body, bool any_temperature) {
  if (any_temperature || !body.is_object()) {
    return true;
  }
  auto t = body.find("temperature");
  if (t == body.end() || t->is_null()) {
    return true;
  }
  return t->is_number() && t->get<double>() == 0.0;
}

std::string normalised_request(api::Operation op, std::string_view scope,
                               const nlohmann::json& body) {
  json kept = json::object();
  if (body.is_object()) {
    for (const auto& [k, v] : body.items()) {
      if (!v.is_null() && !ignored(k)) {
        kept[k] = normalise(v);
      }
    }
  }
  // Scope and operation first, each on its own line: a scope cannot contain a newline (key
  // names are config identifiers), so no two (scope, request) pairs share a text.
  std::string out = "llmgw-cache-v1\n";
  out += scope;
  out += '\n';
  out += api::to_string(op);
  out += '\n';
  out += kept.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

std::string request_key(api::Operation op, std::string_view scope, const nlohmann::json& body) {
  return common::sha256_hex(normalised_request(op, scope, body));
}

}  // namespace llmgw::cache
