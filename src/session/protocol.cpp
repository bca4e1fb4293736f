// The session protocol's pure parts: system context, history joining with overlap detection,
// transcripts. See include/llmgw/session/protocol.hpp and docs/sessions.md.
#include "llmgw/session/protocol.hpp"

#include "llmgw/common/strings.hpp"

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

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

json summary_note(std::string_view summary) {
  return json{{"role", "system"},
              {"content", std::string(kSummaryPrefix) + std::string(summary)}};
}

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

std::string store_key(std::string_view owner, std::string_view id) {
  if (owner.empty()) {
    return std::string(id);
  }
  return common::sha256_hex(owner).substr(0, 16) + ":" + std::string(id);
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

namespace {

// A turn's identity for matching: its normal form, hashed (a match is then checked whole).
std::uint64_t turn_hash(const json& m) { return std::hash<std::string>{}(normal(m).dump()); }

// KMP failure function of `p`.
std::vector<std::size_t> prefix_function(const std::vector<std::uint64_t>& p) {
  std::vector<std::size_t> f(p.size(), 0);
  for (std::size_t i = 1, k = 0; i < p.size(); ++i) {
    while (k > 0 && p[i] != p[k]) {
      k = f[k - 1];
    }
    if (p[i] == p[k]) {
      ++k;
    }
    f[i] = k;
  }
  return f;
}

// Where the client's turns stop repeating the stored ones, in linear time (hashes compared,
// then the match checked turn by turn): after the last place the whole stored history
// appears in them (a client sending the full conversation, summarised turns included); else
// after the longest run of its first turns that ends the stored history (a client keeping its
// own window); else 0.
std::size_t known_prefix(const std::vector<json>& history, const std::vector<json>& sent) {
  if (history.empty() || sent.empty()) {
    return 0;
  }
  std::vector<std::uint64_t> h;
  std::vector<std::uint64_t> c;
  h.reserve(history.size());
  c.reserve(sent.size());
  for (const auto& m : history) {
    h.push_back(turn_hash(m));
  }
  for (const auto& m : sent) {
    c.push_back(turn_hash(m));
  }
  const auto same = [&](std::size_t sent_from, std::size_t hist_from, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (!same_turn(sent[sent_from + i], history[hist_from + i])) {
        return false;
      }
    }
    return true;
  };
  // The whole history inside the client's turns: its last occurrence.
  if (h.size() <= c.size()) {
    const auto f = prefix_function(h);
    std::size_t end = 0;
    for (std::size_t i = 0, k = 0; i < c.size(); ++i) {
      while (k > 0 && c[i] != h[k]) {
        k = f[k - 1];
      }
      if (c[i] == h[k]) {
        ++k;
      }
      if (k == h.size()) {
        end = i + 1;
        k = f[k - 1];
      }
    }
    if (end > 0 && same(end - h.size(), 0, h.size())) {
      return end;
    }
  }
  // The client's first turns as the end of the history.
  const auto f = prefix_function(c);
  std::size_t k = 0;
  for (std::size_t i = 0; i < h.size(); ++i) {
    while (k > 0 && (k == c.size() || h[i] != c[k])) {
      k = f[k - 1];
    }
    if (k < c.size() && h[i] == c[k]) {
      ++k;
    }
  }
  while (k > 0 && !same(0, h.size() - k, k)) {
    k = f[k - 1];
  }
  return k;
}

}  // namespace

Joined join_history(json& body, const Session* stored, std::string_view gateway) {
  Joined joined;
  std::string stored_system;  // the last system text stored: the session's current one
  std::vector<json> history;
  if (stored) {
    for (std::size_t i = 0; i < stored->messages.size(); ++i) {
      const auto& text = stored->messages[i];
      auto m = json::parse(text, nullptr, false);
      if (!m.is_object()) {
        continue;  // a store that lost bytes: that turn is skipped, not fatal
      }
      if (is_system(m)) {
        stored_system = content_text(m);
        joined.last_system = std::make_pair(i, text);
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
  const std::size_t known = known_prefix(history, sent);
  // The client's system message, when it sends one, is the session's from now on (stored
  // when it changed); without one, the stored one goes on. Only one is ever sent, so a system
  // text that changes every turn does not pile up.
  std::string system_text = stored_system;
  if (!sent_system.empty()) {
    system_text = join_blocks(sent_system);
    if (system_text != stored_system) {
      joined.to_store.push_back(system_message(system_text).dump());
    }
  }
  json out = json::array();
  auto system = join_blocks({std::string(gateway), system_text});
  if (!system.empty()) {
    out.push_back(system_message(std::move(system)));
  }
  if (stored && !stored->summary.empty()) {
    out.push_back(summary_note(stored->summary));
  }
  joined.history_begin = out.size();
  joined.history = history.size();
  joined.overlap = known;
  for (auto& m : history) {
    out.push_back(std::move(m));
  }
  for (std::size_t i = known; i < sent.size(); ++i) {
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
  // The session's system message goes on even when it was stored among the dropped turns.
  if (joined.last_system && joined.last_system->first < change.drop_first) {
    change.messages.push_back(joined.last_system->second);
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
