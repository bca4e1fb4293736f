// The session protocol's pure parts: system context, history joining with overlap detection,
// transcripts. See include/llmgw/session/protocol.hpp and docs/sessions.md.
#include "llmgw/session/protocol.hpp"

#include <nlohmann/json.hpp>

namespace llmgw::session {
namespace {

using nlohmann::json;

// A member's string value, "" when absent or not a string (value() would throw on a number).
std::string str(const json& obj, const char* key) {
  if (!obj.is_object()) {
    return {};
  }
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool is_system(const json& m) {
  auto role = m.find("role");
  return role != m.end() && role->is_string() &&
         (*role == "system" || *role == "developer");
}

// What makes a turn the same turn: role, content (a string and text parts count the same),
// tool calls (id, name, arguments), the tool result's call id and the name. Whatever else a
// provider added to an answer (annotations, refusal: null, audio) is not the client's to repeat.
json normal(const json& m) {
  json out = json::object();
  for (const char* k : {"role", "tool_call_id", "name"}) {
    if (auto it = m.find(k); it != m.end() && !it->is_null()) {
      out[k] = *it;
    }
  }
  if (auto c = m.find("content"); c != m.end() && !c->is_null()) {
    bool text_only = c->is_string();
    if (c->is_array()) {
      text_only = true;
      for (const auto& part : *c) {
        text_only = text_only && part.is_object() && str(part, "type") == "text";
      }
    }
    out["content"] = text_only ? json(content_text(m)) : *c;
  }
  if (auto calls = m.find("tool_calls"); calls != m.end() && calls->is_array()) {
    json kept = json::array();
    for (const auto& call : *calls) {
      if (!call.is_object()) {
        continue;
      }
      auto f = call.find("function");
      const json none = json::object();
      const json& fn = f != call.end() ? *f : none;
      kept.push_back(json{{"id", str(call, "id")},
                          {"name", str(fn, "name")},
                          {"arguments", str(fn, "arguments")}});
    }
    if (!kept.empty()) {
      out["tool_calls"] = std::move(kept);
    }
  }
  return out;
}

void add_unique(std::vector<std::string>& texts, std::string text) {
  if (text.empty()) {
    return;
  }
  for (const auto& t : texts) {
    if (t == text) {
      return;
    }
  }
  texts.push_back(std::move(text));
}

std::string join_blocks(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) {
      continue;
    }
    if (!out.empty()) {
      out += "\n\n";
    }
    out += p;
  }
  return out;
}

json system_message(std::string text) {
  return json{{"role", "system"}, {"content", std::move(text)}};
}

}  // namespace

bool valid_session_id(std::string_view id) {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string gateway_system(std::string_view system_prompt, std::string_view persona,
                           std::string_view profile) {
  return join_blocks({std::string(system_prompt), std::string(persona), std::string(profile)});
}

std::string content_text(const json& message) {
  auto c = message.find("content");
  if (c == message.end()) {
    return {};
  }
  if (c->is_string()) {
    return c->get<std::string>();
  }
  std::string out;
  if (c->is_array()) {
    for (const auto& part : *c) {
      if (part.is_object() && str(part, "type") == "text") {
        auto t = part.find("text");
        if (t != part.end() && t->is_string()) {
          out += t->get_ref<const std::string&>();
        }
      }
    }
  }
  return out;
}

bool same_turn(const json& a, const json& b) {
  if (!a.is_object() || !b.is_object()) {
    return a == b;
  }
  return normal(a) == normal(b);
}

Joined join_history(json& body, const Session* stored, std::string_view gateway) {
  Joined joined;
  std::vector<std::string> system_texts;
  std::vector<std::string> stored_system;
  std::vector<json> history;
  if (stored) {
    for (std::size_t i = 0; i < stored->messages.size(); ++i) {
      const auto& text = stored->messages[i];
      auto m = json::parse(text, nullptr, false);
      if (!m.is_object()) {
        continue;  // a store that lost bytes: that turn is skipped, not fatal
      }
      if (is_system(m)) {
        add_unique(stored_system, content_text(m));
        joined.stored_system.emplace_back(i, text);
      } else {
        history.push_back(std::move(m));
        joined.history_at.push_back(i);
      }
    }
  }
  std::vector<json> sent;
  std::vector<std::string> sent_system;
  auto& messages = body["messages"];
  for (auto& m : messages) {
    if (is_system(m)) {
      add_unique(sent_system, content_text(m));
    } else {
      sent.push_back(std::move(m));
    }
  }
  // The longest run of the client's first turns that ends the stored history: a client that
  // sends the whole conversation (or its own recent window of it) is not doubled.
  std::size_t overlap = 0;
  for (std::size_t k = std::min(history.size(), sent.size()); k > 0; --k) {
    const std::size_t from = history.size() - k;
    bool match = true;
    for (std::size_t i = 0; i < k && match; ++i) {
      match = same_turn(sent[i], history[from + i]);
    }
    if (match) {
      overlap = k;
      break;
    }
  }
  add_unique(system_texts, std::string(gateway));
  for (auto& t : stored_system) {
    add_unique(system_texts, t);
  }
  for (auto& t : sent_system) {
    bool known = false;
    for (const auto& s : stored_system) {
      known = known || s == t;
    }
    if (!known) {
      joined.to_store.push_back(system_message(t).dump());
    }
    add_unique(system_texts, t);
  }
  if (stored && !stored->summary.empty()) {
    add_unique(system_texts, "Summary of the earlier conversation: " + stored->summary);
  }
  json out = json::array();
  auto system = join_blocks(system_texts);
  if (!system.empty()) {
    out.push_back(system_message(std::move(system)));
  }
  joined.history_begin = out.size();
  joined.history = history.size();
  joined.overlap = overlap;
  for (auto& m : history) {
    out.push_back(std::move(m));
  }
  for (std::size_t i = overlap; i < sent.size(); ++i) {
    joined.to_store.push_back(sent[i].dump());
    out.push_back(std::move(sent[i]));
  }
  messages = std::move(out);
  return joined;
}

Append compaction(const Joined& joined, std::size_t summarized, std::string summary,
                  std::vector<std::string> new_turns) {
  Append change;
  if (summarized == 0 || summarized > joined.history_at.size()) {
    change.messages = std::move(new_turns);
    return change;
  }
  change.drop_first = joined.history_at[summarized - 1] + 1;
  for (const auto& [at, text] : joined.stored_system) {
    if (at < change.drop_first) {
      change.messages.push_back(text);
    }
  }
  for (auto& t : new_turns) {
    change.messages.push_back(std::move(t));
  }
  change.summary = std::move(summary);
  return change;
}

void inject_system(json& body, std::string_view gateway) {
  if (gateway.empty()) {
    return;
  }
  auto& messages = body["messages"];
  if (!messages.empty() && messages[0].is_object() && is_system(messages[0]) &&
      messages[0].contains("content") && messages[0]["content"].is_string()) {
    auto& content = messages[0]["content"];
    content = std::string(gateway) + "\n\n" + content.get<std::string>();
    messages[0]["role"] = "system";
    return;
  }
  messages.insert(messages.begin(), system_message(std::string(gateway)));
}

std::string transcript(std::string_view id, const Session& s) {
  json messages = json::array();
  for (const auto& text : s.messages) {
    auto m = json::parse(text, nullptr, false);
    if (m.is_object()) {
      messages.push_back(std::move(m));
    }
  }
  json out{{"id", id},
           {"object", "session"},
           {"created", s.meta.created_ms / 1000},
           {"last_used", s.meta.last_used_ms / 1000},
           {"owner", s.meta.owner},
           {"last_provider", s.meta.last_provider},
           {"last_model", s.meta.last_model},
           {"tokens", s.meta.tokens},
           {"messages", std::move(messages)}};
  if (!s.summary.empty()) {
    out["summary"] = s.summary;
  }
  return out.dump();
}

}  // namespace llmgw::session
