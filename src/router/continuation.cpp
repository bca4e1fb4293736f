#include "router/continuation.hpp"

#include <nlohmann/json.hpp>

#include "llmgw/api/json.hpp"

namespace llmgw::router {
namespace {

using json = nlohmann::ordered_json;

constexpr std::size_t kTailBytes = 64;

template <class J>
std::string string_member(const J& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->template get<std::string>() : std::string();
}

// Calls f(data) for each complete `data: ...` event in bytes the gateway produced itself
// (always "data: <one line>\n\n").
template <class F>
void for_each_event(std::string_view bytes, F&& f) {
  while (!bytes.empty()) {
    auto end = bytes.find("\n\n");
    auto event = bytes.substr(0, end);
    if (event.starts_with("data: ")) {
      f(event.substr(6));
    }
    if (end == std::string_view::npos) {
      break;
    }
    bytes.remove_prefix(end + 2);
  }
}

}  // namespace

const std::string_view kContinuationInstruction =
    "Continue your previous answer exactly where it stopped. Do not repeat anything you already "
    "wrote and do not add any preamble; output only the rest of the answer.";

void StreamTracker::observe(std::string_view sse_bytes) {
  for_each_event(sse_bytes, [&](std::string_view data) { observe_event(data); });
}

void StreamTracker::observe_event(std::string_view data) {
  if (data == "[DONE]" || data.find("\"choices\"") == std::string_view::npos) {
    return;
  }
  // Upstream text (relayed chunks): bounded, and every member read with its type checked.
  auto parsed = api::parse_json(data, api::JsonLimits{api::kDefaultMaxJsonDepth, false});
  if (parsed && parsed->is_object()) {
    observe_chunk(*parsed);
  }
}

void StreamTracker::observe_chunk(const nlohmann::json& j) {
  if (!j.is_object()) {
    return;
  }
  if (id_.empty()) {
    id_ = string_member(j, "id");
    if (auto c = j.find("created"); c != j.end() && c->is_number_integer()) {
      created_ = c->get<long long>();
    }
    model_ = string_member(j, "model");
  }
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array()) {
    return;
  }
  for (const auto& c : *choices) {
    if (!c.is_object()) {
      continue;
    }
    if (auto index = c.find("index"); index != c.end() && !(index->is_number_integer() &&
                                                            index->get<long long>() == 0)) {
      continue;  // continuation covers the first choice (n > 1 streams are not continued)
    }
    if (auto fr = c.find("finish_reason"); fr != c.end() && fr->is_string()) {
      finished_ = true;
    }
    if (auto text = c.find("text"); text != c.end() && text->is_string()) {
      text_ += text->get_ref<const std::string&>();  // a legacy completions chunk
    }
    auto delta = c.find("delta");
    if (delta == c.end() || !delta->is_object()) {
      continue;
    }
    if (auto content = delta->find("content"); content != delta->end() && content->is_string()) {
      text_ += content->get_ref<const std::string&>();
    }
    if (delta->contains("tool_calls")) {
      tool_call_ = true;
    }
  }
}

std::size_t append_continuation(nlohmann::json& body, const std::string& partial_text) {
  auto& messages = body["messages"];
  messages.push_back(nlohmann::json{{"role", "assistant"}, {"content", partial_text}});
  messages.push_back(
      nlohmann::json{{"role", "user"}, {"content", std::string(kContinuationInstruction)}});
  return 2;
}

bool can_extend_prompt(const nlohmann::json& body) {
  auto prompt = body.find("prompt");
  return prompt != body.end() && prompt->is_string();
}

std::string extend_prompt(nlohmann::json& body, const std::string& partial_text) {
  auto& prompt = body["prompt"].get_ref<std::string&>();
  std::string original = prompt;
  prompt += partial_text;
  return original;
}

void restore_prompt(nlohmann::json& body, std::string original) {
  body["prompt"] = std::move(original);
}

void remove_appended(nlohmann::json& body, std::size_t count) {
  auto& messages = body["messages"];
  for (std::size_t i = 0; i < count && !messages.empty(); ++i) {
    messages.erase(messages.size() - 1);
  }
}

ContinuationFilter::ContinuationFilter(const StreamTracker& sent)
    : id_(sent.id()), created_(sent.created()), model_(sent.model()) {
  const auto& text = sent.text();
  tail_ = text.size() > kTailBytes ? text.substr(text.size() - kTailBytes) : text;
}

std::string ContinuationFilter::rewrite(std::string_view sse_bytes) {
  std::string out;
  for_each_event(sse_bytes, [&](std::string_view data) {
    if (data == "[DONE]") {
      out += "data: [DONE]\n\n";
      return;
    }
    auto rewritten = rewrite_event(data);
    if (!rewritten.empty()) {
      out += "data: ";
      out += rewritten;
      out += "\n\n";
    }
  });
  return out;
}

std::string ContinuationFilter::rewrite_event(std::string_view data) {
  auto parsed = api::parse_ordered_json(data, api::JsonLimits{api::kDefaultMaxJsonDepth, false});
  if (!parsed || !parsed->is_object()) {
    return std::string(data);
  }
  auto& j = *parsed;
  if (!id_.empty()) {
    j["id"] = id_;
    j["created"] = created_;
    j["model"] = model_;
  }
  auto choices = j.find("choices");
  if (choices != j.end() && choices->is_array()) {
    for (auto& c : *choices) {
      auto delta = c.find("delta");
      if (delta == c.end() || !delta->is_object()) {
        continue;
      }
      delta->erase("role");  // the client already has the role chunk
      if (auto r = delta->find("refusal"); r != delta->end() && r->is_null()) {
        delta->erase(r);
      }
      auto content = delta->find("content");
      if (content != delta->end() && content->is_string() && !checked_overlap_) {
        auto text = content->get<std::string>();
        if (text.empty()) {
          continue;
        }
        checked_overlap_ = true;
        // A model asked to continue sometimes restates the last words: drop the longest prefix
        // of the new text that the sent text already ends with.
        for (std::size_t n = std::min(text.size(), tail_.size()); n >= 8; --n) {
          if (tail_.compare(tail_.size() - n, n, text, 0, n) == 0) {
            text.erase(0, n);
            break;
          }
        }
        *content = text;
      }
      bool empty_delta = delta->empty() || (delta->size() == 1 && delta->contains("content") &&
                                            (*delta)["content"].is_string() &&
                                            (*delta)["content"].get_ref<const std::string&>().empty());
      bool has_finish = c.contains("finish_reason") && c["finish_reason"].is_string();
      bool has_logprobs = c.contains("logprobs") && !c["logprobs"].is_null();
      if (empty_delta && !has_finish && !has_logprobs) {
        c["__drop"] = true;
      }
    }
    // Drop choices that carry nothing (the continuation's own opening chunk).
    json kept = json::array();
    for (auto& c : *choices) {
      if (!c.contains("__drop")) {
        kept.push_back(std::move(c));
      }
    }
    bool was_nonempty = !choices->empty();
    *choices = std::move(kept);
    if (was_nonempty && choices->empty()) {
      return {};
    }
  }
  return j.dump();
}

}  // namespace llmgw::router
