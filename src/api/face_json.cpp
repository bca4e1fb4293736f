// Reading what the router hands a face's answer encoders (see face_json.hpp).
#include "api/face_json.hpp"

#include "llmgw/api/json.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::api::face_json {

// What the router hands this face is partly upstream text relayed as it came: parse it within
// the depth limit (discarded when too deep or not JSON).
json parse_relayed(std::string_view text) {
  auto parsed = api::parse_json(text, api::JsonLimits{api::kDefaultMaxJsonDepth, false});
  return parsed ? std::move(*parsed) : json(json::value_t::discarded);
}

ojson parse_relayed_ordered(std::string_view text) {
  auto parsed = api::parse_ordered_json(text, api::JsonLimits{api::kDefaultMaxJsonDepth, false});
  return parsed ? std::move(*parsed) : ojson(ojson::value_t::discarded);
}

const json& object_at(const json& j, const char* key) {
  static const json kEmpty = json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

std::int64_t int_or(const json& j, const char* key, std::int64_t fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

std::string string_or(const json& j, const char* key, std::string fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::move(fallback);
}

std::string dump(const ojson& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The message of an OpenAI-shaped error body; the text itself when it is something else.
std::string error_message(std::string_view body, int status) {
  auto j = parse_relayed(body);
  if (j.is_object()) {
    auto e = j.find("error");
    if (e != j.end() && e->is_object()) {
      if (auto m = e->find("message"); m != e->end() && m->is_string()) {
        return m->get<std::string>();
      }
    } else if (e != j.end() && e->is_string()) {
      return e->get<std::string>();
    }
    if (auto m = j.find("message"); m != j.end() && m->is_string()) {
      return m->get<std::string>();
    }
  }
  auto text = common::trim(body);
  if (text.empty()) {
    return "HTTP " + std::to_string(status);
  }
  constexpr std::size_t kMax = 2048;
  return std::string(text.substr(0, kMax));
}

std::uint64_t token_count(const json& usage, const char* key) {
  auto it = usage.find(key);
  return it != usage.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

std::uint64_t cached_count(const json& usage) {
  auto d = usage.find("prompt_tokens_details");
  return d != usage.end() && d->is_object() ? token_count(*d, "cached_tokens") : 0;
}

}  // namespace llmgw::api::face_json
