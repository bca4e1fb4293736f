#include "llmgw/api/synthetic.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

#include "llmgw/common/strings.hpp"

namespace llmgw::api {
namespace {

using json = nlohmann::ordered_json;

long long unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json chunk(const std::string& id, long long created, std::string_view model, json delta,
           json finish_reason) {
  return json{{"id", id},
              {"object", "chat.completion.chunk"},
              {"created", created},
              {"model", model},
              {"choices",
               json::array({json{{"index", 0},
                                 {"delta", std::move(delta)},
                                 {"logprobs", nullptr},
                                 {"finish_reason", std::move(finish_reason)}}})}};
}

}  // namespace

std::string synthetic_chat_completion(std::string_view model, std::string_view content) {
  json body = {
      {"id", "chatcmpl-llmgw-" + common::random_hex(24)},
      {"object", "chat.completion"},
      {"created", unix_now()},
      {"model", model},
      {"choices", json::array({json{{"index", 0},
                                    {"message", json{{"role", "assistant"},
                                                     {"content", content},
                                                     {"refusal", nullptr}}},
                                    {"logprobs", nullptr},
                                    {"finish_reason", "stop"}}})},
      {"usage", json{{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}}}};
  return body.dump();
}

std::string synthetic_chat_stream(std::string_view model, std::string_view content) {
  auto id = "chatcmpl-llmgw-" + common::random_hex(24);
  auto created = unix_now();
  std::string out;
  auto emit = [&](const json& j) {
    out += "data: ";
    out += j.dump();
    out += "\n\n";
  };
  emit(chunk(id, created, model, json{{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}},
             nullptr));
  emit(chunk(id, created, model, json{{"content", content}}, nullptr));
  emit(chunk(id, created, model, json::object(), "stop"));
  out += "data: [DONE]\n\n";
  return out;
}

std::string synthetic_text_completion(std::string_view model, std::string_view content) {
  json body = {{"id", "cmpl-llmgw-" + common::random_hex(24)},
               {"object", "text_completion"},
               {"created", unix_now()},
               {"model", model},
               {"choices", json::array({json{{"index", 0},
                                             {"text", content},
                                             {"logprobs", nullptr},
                                             {"finish_reason", "stop"}}})},
               {"usage", json{{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}}}};
  return body.dump();
}

}  // namespace llmgw::api
