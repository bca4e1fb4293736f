// A cached complete answer as a canonical stream (replay.hpp).
#include "llmgw/cache/replay.hpp"

#include <nlohmann/json.hpp>

namespace llmgw::cache {
namespace {

using nlohmann::json;

// What every chunk of the stream repeats from the answer.
struct ChunkHead {
  json id;
  json created;
  json model;
  json fingerprint;  // system_fingerprint, when the answer had one
  const char* object = "chat.completion.chunk";
};

json field_or_null(const json& o, const char* name) {
  auto it = o.find(name);
  return it == o.end() ? json(nullptr) : *it;
}

void emit(std::string& out, const json& chunk) {
  out += "data: ";
  out += chunk.dump(-1, ' ', false, json::error_handler_t::replace);
  out += "\n\n";
}

json chunk_of(const ChunkHead& head, json choice) {
  json c = json::object();
  c["id"] = head.id;
  c["object"] = head.object;
  c["created"] = head.created;
  c["model"] = head.model;
  if (!head.fingerprint.is_null()) {
    c["system_fingerprint"] = head.fingerprint;
  }
  c["choices"] = json::array();
  if (!choice.is_null()) {
    c["choices"].push_back(std::move(choice));
  }
  return c;
}

json chat_choice(const json& index, json delta, json finish_reason) {
  json c = json::object();
  c["index"] = index;
  c["delta"] = std::move(delta);
  c["logprobs"] = nullptr;
  c["finish_reason"] = std::move(finish_reason);
  return c;
}

// One chat choice: role, content (and any other text the message carries: refusal,
// reasoning_content), tool calls, finish reason.
void replay_chat_choice(std::string& out, const ChunkHead& head, const json& choice) {
  const json index = field_or_null(choice, "index").is_null() ? json(0) : choice["index"];
  const json empty = json::object();
  const auto m = choice.find("message");
  const json& message = m != choice.end() && m->is_object() ? *m : empty;
  json role = json::object();
  role["role"] = "assistant";
  role["content"] = "";
  emit(out, chunk_of(head, chat_choice(index, std::move(role), nullptr)));
  for (const auto& [k, v] : message.items()) {
    const bool text = v.is_string() && !v.get_ref<const std::string&>().empty();
    if (k == "role" || k == "tool_calls" || !text) {
      continue;
    }
    json delta = json::object();
    delta[k] = v;
    emit(out, chunk_of(head, chat_choice(index, std::move(delta), nullptr)));
  }
  if (auto calls = message.find("tool_calls"); calls != message.end() && calls->is_array()) {
    std::size_t i = 0;
    for (const auto& call : *calls) {
      json c = call.is_object() ? call : json::object();
      c["index"] = i++;
      json delta = json::object();
      delta["tool_calls"] = json::array({std::move(c)});
      emit(out, chunk_of(head, chat_choice(index, std::move(delta), nullptr)));
    }
  }
  json finish = field_or_null(choice, "finish_reason");
  if (finish.is_null()) {
    finish = "stop";
  }
  emit(out, chunk_of(head, chat_choice(index, json::object(), std::move(finish))));
}

void replay_text_choice(std::string& out, const ChunkHead& head, const json& choice) {
  json c = json::object();
  c["index"] = field_or_null(choice, "index").is_null() ? json(0) : choice["index"];
  c["text"] = choice.contains("text") && choice["text"].is_string() ? choice["text"] : json("");
  c["logprobs"] = nullptr;
  json finish = field_or_null(choice, "finish_reason");
  c["finish_reason"] = finish.is_null() ? json("stop") : std::move(finish);
  emit(out, chunk_of(head, std::move(c)));
}

}  // namespace

std::optional<std::string> replay_stream(api::Operation op, const nlohmann::json& answer,
                                         bool include_usage) {
  if (op == api::Operation::embeddings || !answer.is_object()) {
    return std::nullopt;
  }
  auto choices = answer.find("choices");
  if (choices == answer.end() || !choices->is_array() || choices->empty()) {
    return std::nullopt;
  }
  ChunkHead head;
  head.id = field_or_null(answer, "id");
  head.created = field_or_null(answer, "created");
  head.model = field_or_null(answer, "model");
  head.fingerprint = field_or_null(answer, "system_fingerprint");
  const bool chat = op == api::Operation::chat;
  head.object = chat ? "chat.completion.chunk" : "text_completion";
  std::string out;
  for (const auto& choice : *choices) {
    if (!choice.is_object()) {
      return std::nullopt;
    }
    if (chat) {
      replay_chat_choice(out, head, choice);
    } else {
      replay_text_choice(out, head, choice);
    }
  }
  if (auto usage = answer.find("usage"); include_usage && usage != answer.end() &&
                                         usage->is_object()) {
    json c = chunk_of(head, nullptr);
    c["usage"] = *usage;
    emit(out, c);
  }
  out += "data: [DONE]\n\n";
  return out;
}

}  // namespace llmgw::cache
