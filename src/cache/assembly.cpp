// A canonical stream joined into its complete answer, for the cache (assembly.hpp).
#include "llmgw/cache/assembly.hpp"

#include <map>
#include <nlohmann/json.hpp>

#include "llmgw/api/sse.hpp"

namespace llmgw::cache {
namespace {

using nlohmann::json;

struct Choice {
  json message = json::object();  // chat: the assistant message being built
  std::string text;               // completions
  std::map<std::int64_t, json> tool_calls;  // by the delta's index
  json finish_reason;
};

// A string field of a delta appends (content, refusal, reasoning_content); a tool call's
// pieces join by their index; anything else keeps its last value.
void add_delta(Choice& c, const json& delta) {
  for (const auto& [k, v] : delta.items()) {
    if (k == "tool_calls" && v.is_array()) {
      for (const auto& call : v) {
        if (!call.is_object()) {
          continue;
        }
        auto index = call.value("index", std::int64_t{0});
        auto& held = c.tool_calls[index];
        if (held.is_null()) {
          held = json::object();
          held["id"] = "";
          held["type"] = "function";
          held["function"] = json{{"name", ""}, {"arguments", ""}};
        }
        if (auto id = call.find("id"); id != call.end() && id->is_string()) {
          held["id"] = *id;
        }
        if (auto type = call.find("type"); type != call.end() && type->is_string()) {
          held["type"] = *type;
        }
        if (auto f = call.find("function"); f != call.end() && f->is_object()) {
          for (const char* part : {"name", "arguments"}) {
            if (auto p = f->find(part); p != f->end() && p->is_string()) {
              held["function"][part] =
                  held["function"][part].get<std::string>() + p->get<std::string>();
            }
          }
        }
      }
    } else if (v.is_string() && k != "role") {
      auto& held = c.message[k];
      held = held.is_string() ? json(held.get<std::string>() + v.get<std::string>()) : v;
    } else if (!v.is_null()) {
      c.message[k] = v;
    }
  }
}

json chat_answer(const json& head, std::map<std::int64_t, Choice>& choices) {
  json out = json::object();
  out["id"] = head.value("id", json(nullptr));
  out["object"] = "chat.completion";
  out["created"] = head.value("created", json(nullptr));
  out["model"] = head.value("model", json(nullptr));
  if (head.contains("system_fingerprint")) {
    out["system_fingerprint"] = head["system_fingerprint"];
  }
  out["choices"] = json::array();
  for (auto& [index, c] : choices) {
    json message = std::move(c.message);
    message["role"] = "assistant";
    if (!c.tool_calls.empty()) {
      json calls = json::array();
      for (auto& [i, call] : c.tool_calls) {
        calls.push_back(std::move(call));
      }
      message["tool_calls"] = std::move(calls);
    }
    if (!message.contains("content")) {
      message["content"] = nullptr;
    }
    out["choices"].push_back(json{{"index", index},
                                  {"message", std::move(message)},
                                  {"logprobs", nullptr},
                                  {"finish_reason", std::move(c.finish_reason)}});
  }
  return out;
}

json text_answer(const json& head, std::map<std::int64_t, Choice>& choices) {
  json out = json::object();
  out["id"] = head.value("id", json(nullptr));
  out["object"] = "text_completion";
  out["created"] = head.value("created", json(nullptr));
  out["model"] = head.value("model", json(nullptr));
  out["choices"] = json::array();
  for (auto& [index, c] : choices) {
    out["choices"].push_back(json{{"index", index},
                                  {"text", std::move(c.text)},
                                  {"logprobs", nullptr},
                                  {"finish_reason", std::move(c.finish_reason)}});
  }
  return out;
}

}  // namespace

std::optional<std::string> assemble_stream(api::Operation op, std::string_view sse,
                                           std::optional<TokenUsage> usage) {
  if (op == api::Operation::embeddings) {
    return std::nullopt;
  }
  const bool chat = op == api::Operation::chat;
  std::map<std::int64_t, Choice> choices;
  json head;  // the first chunk: id, created, model
  json stream_usage;
  bool done = false;
  bool bad = false;
  api::SseDecoder decoder;
  const bool fed = decoder.feed(sse, [&](const api::SseEvent& e) {
    if (bad || done || !e.has_data) {
      bad = bad || done;  // nothing may follow [DONE]
      return;
    }
    if (e.data == "[DONE]") {
      done = true;
      return;
    }
    auto chunk = json::parse(e.data, nullptr, false);
    if (!chunk.is_object()) {
      bad = true;
      return;
    }
    if (head.is_null()) {
      head = chunk;
      head.erase("choices");
    }
    if (auto u = chunk.find("usage"); u != chunk.end() && u->is_object()) {
      stream_usage = *u;
    }
    auto list = chunk.find("choices");
    if (list == chunk.end() || !list->is_array()) {
      return;
    }
    for (const auto& item : *list) {
      if (!item.is_object()) {
        bad = true;
        return;
      }
      auto& c = choices[item.value("index", std::int64_t{0})];
      if (chat) {
        if (auto d = item.find("delta"); d != item.end() && d->is_object()) {
          add_delta(c, *d);
        }
      } else if (auto t = item.find("text"); t != item.end() && t->is_string()) {
        c.text += t->get<std::string>();
      }
      if (auto f = item.find("finish_reason"); f != item.end() && !f->is_null()) {
        c.finish_reason = *f;
      }
    }
  });
  if (!fed || bad || !done || decoder.has_partial() || choices.empty()) {
    return std::nullopt;
  }
  for (const auto& [index, c] : choices) {
    if (c.finish_reason.is_null()) {
      return std::nullopt;  // a choice that never finished: a cut answer
    }
  }
  json out = chat ? chat_answer(head, choices) : text_answer(head, choices);
  if (stream_usage.is_object()) {
    out["usage"] = std::move(stream_usage);
  } else if (usage) {
    out["usage"] = json{{"prompt_tokens", usage->prompt_tokens},
                        {"completion_tokens", usage->completion_tokens},
                        {"total_tokens", usage->prompt_tokens + usage->completion_tokens}};
  }
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace llmgw::cache
