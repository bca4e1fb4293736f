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

void StreamTracker::observe_event(std::string_view data) { observe_data(data); }

namespace {

// Reads what the tracker needs from one chunk without building it: nlohmann's SAX parser
// (iterative: no recursion, however deep) calls back per token, and only the few members the
// tracker reads are kept. A choice's members are held until the choice ends, as its `index`
// may come after its delta.
class ChunkScan final : public nlohmann::json_sax<nlohmann::json> {
public:
  std::string id;
  std::string model;
  long long created = 0;
  bool has_created = false;
  std::string text;  // of choice 0
  bool tool_call = false;
  bool finished = false;
  std::string finish_reason;

  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t v) override {
    if (at_root() && key() == "created") {
      created = v;
      has_created = true;
    } else if (in_choice() && key() == "index") {
      choice_.index = v;
    }
    return scalar();
  }
  bool number_unsigned(number_unsigned_t v) override {
    return number_integer(static_cast<number_integer_t>(v));
  }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool string(string_t& v) override {
    if (at_root() && key() == "id") {
      id = std::move(v);
    } else if (at_root() && key() == "model") {
      model = std::move(v);
    } else if (in_choice() && key() == "finish_reason") {
      choice_.finished = true;
      choice_.finish_reason = std::move(v);
    } else if (in_choice() && key() == "text") {
      choice_.text += v;  // a legacy completions chunk
    } else if (in_delta() && key() == "content") {
      choice_.text += v;
    } else if (in_choice() && key() == "index") {
      choice_.index = -1;  // not an integer: not choice 0
    }
    return scalar();
  }
  bool binary(binary_t&) override { return scalar(); }
  bool start_object(std::size_t) override {
    const bool choice = in_choices_array();
    frames_.push_back(Frame{false, {}});
    if (choice) {
      choice_ = Choice{};
    }
    return true;
  }
  bool key(string_t& k) override {
    frames_.back().key = std::move(k);
    if (in_delta() && frames_.back().key == "tool_calls") {
      choice_.tool_call = true;
    }
    return true;
  }
  bool end_object() override {
    const bool choice = in_choice();
    frames_.pop_back();
    if (choice && choice_.index == 0) {
      // Continuation covers the first choice (n > 1 streams are not continued).
      text += choice_.text;
      tool_call = tool_call || choice_.tool_call;
      finished = finished || choice_.finished;
      if (choice_.finished) {
        finish_reason = std::move(choice_.finish_reason);
      }
    }
    return true;
  }
  bool start_array(std::size_t) override {
    frames_.push_back(Frame{true, {}});
    return true;
  }
  bool end_array() override {
    frames_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

private:
  struct Frame {
    bool array;
    std::string key;  // the member being read, in an object
  };
  struct Choice {
    long long index = 0;
    std::string text;
    bool tool_call = false;
    bool finished = false;
    std::string finish_reason;
  };

  static bool scalar() { return true; }
  const std::string& key() const { return frames_.back().key; }
  // root object → "choices" array → choice object → "delta" object
  bool at_root() const { return frames_.size() == 1 && !frames_[0].array; }
  bool in_choices_array() const {
    return frames_.size() == 2 && !frames_[0].array && frames_[0].key == "choices" &&
           frames_[1].array;
  }
  bool in_choice() const {
    return frames_.size() == 3 && !frames_[0].array && frames_[0].key == "choices" &&
           frames_[1].array && !frames_[2].array;
  }
  bool in_delta() const {
    return frames_.size() == 4 && !frames_[0].array && frames_[0].key == "choices" &&
           frames_[1].array && !frames_[2].array && frames_[2].key == "delta" &&
           !frames_[3].array;
  }

  std::vector<Frame> frames_;
  Choice choice_;
};

}  // namespace

void StreamTracker::observe_data(std::string_view data) {
  if (data == "[DONE]" || data.find("\"choices\"") == std::string_view::npos) {
    return;
  }
  if (keep_tool_calls_ && (data.find("\"tool_calls\"") != std::string_view::npos ||
                           data.find("\"thinking_blocks\"") != std::string_view::npos ||
                           data.find("\"reasoning_content\"") != std::string_view::npos)) {
    // (Relayed chunks were checked on the way: nesting within the limit.)
    auto chunk = nlohmann::json::parse(data, nullptr, false);
    keep_tool_call_deltas(chunk);
  }
  // Relayed chunks were checked on the way (nesting within the limit); this walk keeps only
  // what it reads. A chunk that is not JSON, or not an object, changes nothing.
  if (data.find_first_not_of(" \t\r\n") == std::string_view::npos ||
      data[data.find_first_not_of(" \t\r\n")] != '{') {
    return;
  }
  ChunkScan scan;
  if (!nlohmann::json::sax_parse(data, &scan)) {
    return;
  }
  if (id_.empty()) {
    id_ = std::move(scan.id);
    if (scan.has_created) {
      created_ = scan.created;
    }
    model_ = std::move(scan.model);
  }
  text_ += scan.text;
  tool_call_ = tool_call_ || scan.tool_call;
  finished_ = finished_ || scan.finished;
  if (scan.finished) {
    finish_reason_ = std::move(scan.finish_reason);
  }
}

void StreamTracker::observe_chunk(const nlohmann::json& j) {
  if (!j.is_object()) {
    return;
  }
  if (keep_tool_calls_) {
    keep_tool_call_deltas(j);
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
      finish_reason_ = fr->get<std::string>();
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

namespace {
bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
}  // namespace

std::size_t trailing_space(std::string_view text) {
  std::size_t n = 0;
  while (n < text.size() && is_space(text[text.size() - 1 - n])) {
    ++n;
  }
  return n;
}

std::size_t append_continuation(nlohmann::json& body, const std::string& partial_text,
                                ContinuationForm form) {
  auto& messages = body["messages"];
  if (form == ContinuationForm::prefill) {
    auto kept = partial_text.substr(0, partial_text.size() - trailing_space(partial_text));
    messages.push_back(nlohmann::json{{"role", "assistant"}, {"content", std::move(kept)}});
    return 1;
  }
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

ContinuationFilter::ContinuationFilter(const StreamTracker& sent, std::size_t left_out_space)
    : id_(sent.id()),
      created_(sent.created()),
      model_(sent.model()),
      left_out_space_(left_out_space) {
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
        // The space a prefill left out is the client's already: the model may write it again.
        std::size_t space = 0;
        while (space < left_out_space_ && space < text.size() && is_space(text[space])) {
          ++space;
        }
        text.erase(0, space);
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

namespace llmgw::router {

constexpr std::size_t kMaxToolCalls = 64;

// Tool-call deltas of choice 0 are merged by their index: the first delta brings id, type and
// the function name, later ones append to the arguments. Provider extras on a call (a Gemini
// thought signature) are kept as they came.
void StreamTracker::keep_tool_call_deltas(const nlohmann::json& chunk) {
  if (!chunk.is_object()) {
    return;
  }
  auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array()) {
    return;
  }
  for (const auto& c : *choices) {
    auto index = c.is_object() ? c.find("index") : c.end();
    if (!c.is_object() || (index != c.end() && *index != 0)) {
      continue;
    }
    auto delta = c.find("delta");
    if (delta == c.end() || !delta->is_object()) {
      continue;
    }
    keep_thinking(*delta);
    auto calls = delta->find("tool_calls");
    if (calls == delta->end() || !calls->is_array()) {
      continue;
    }
    if (!tool_calls_) {
      tool_calls_ = std::make_shared<nlohmann::json>(nlohmann::json::array());
    }
    for (const auto& d : *calls) {
      if (!d.is_object()) {
        continue;
      }
      // A delta names its call by index; one without (some servers) continues the last call
      // unless it brings an id of its own. An index past any real answer's is ignored.
      std::size_t i = 0;
      auto di = d.find("index");
      auto did = d.find("id");
      const bool new_id = did != d.end() && did->is_string() &&
                          !did->get_ref<const std::string&>().empty();
      if (di != d.end()) {
        if (!di->is_number_unsigned() || di->get<std::size_t>() >= kMaxToolCalls) {
          continue;
        }
        i = di->get<std::size_t>();
      } else {
        i = tool_calls_->empty() || new_id ? tool_calls_->size() : tool_calls_->size() - 1;
        if (i >= kMaxToolCalls) {
          continue;
        }
      }
      while (tool_calls_->size() <= i) {
        tool_calls_->push_back(nlohmann::json{{"id", ""}, {"type", "function"},
                                              {"function", {{"name", ""}, {"arguments", ""}}}});
      }
      auto& call = (*tool_calls_)[i];
      for (const auto& [k, v] : d.items()) {
        if (k == "index") {
          continue;
        }
        if (k == "function") {
          if (!v.is_object()) {
            continue;
          }
          auto& f = call["function"];
          for (const auto& [fk, fv] : v.items()) {
            if (fk == "arguments") {
              if (fv.is_string()) {
                f["arguments"].get_ref<std::string&>() += fv.get_ref<const std::string&>();
              }
            } else if (fk == "name") {
              if (fv.is_string() && !fv.get_ref<const std::string&>().empty()) {
                f["name"] = fv;
              }
            } else {
              f[fk] = fv;
            }
          }
        } else if (k == "id" || k == "type") {
          if (v.is_string() && !v.get_ref<const std::string&>().empty()) {
            call[k] = v;
          }
        } else {
          call[k] = v;  // provider extras (a Gemini thought signature)
        }
      }
    }
  }
}

// Extended thinking streams as reasoning_content text, then the block's signature as a
// thinking_blocks item with empty text (providers/anthropic): stored whole, the turn can be
// replayed to a provider that checks the signature.
void StreamTracker::keep_thinking(const nlohmann::json& delta) {
  if (auto r = delta.find("reasoning_content"); r != delta.end() && r->is_string()) {
    reasoning_ += r->get_ref<const std::string&>();
  }
  auto blocks = delta.find("thinking_blocks");
  if (blocks == delta.end() || !blocks->is_array()) {
    return;
  }
  if (!thinking_blocks_) {
    thinking_blocks_ = std::make_shared<nlohmann::json>(nlohmann::json::array());
  }
  for (const auto& b : *blocks) {
    if (!b.is_object() || thinking_blocks_->size() >= kMaxToolCalls) {
      continue;
    }
    auto block = b;
    auto text = block.find("thinking");
    if (text != block.end() && text->is_string() && text->get_ref<const std::string&>().empty()) {
      *text = std::move(reasoning_);
      reasoning_.clear();
    }
    thinking_blocks_->push_back(std::move(block));
  }
}

std::string StreamTracker::assistant_message() const {
  nlohmann::json m{{"role", "assistant"}};
  // Only whole calls are kept: one without an id or a name could not be answered and would
  // make every later request of a session fail at the provider.
  nlohmann::json calls = nlohmann::json::array();
  if (tool_calls_) {
    for (const auto& call : *tool_calls_) {
      if (!call["id"].get_ref<const std::string&>().empty() &&
          !call["function"]["name"].get_ref<const std::string&>().empty()) {
        calls.push_back(call);
      }
    }
  }
  m["content"] = text_.empty() && !calls.empty() ? nlohmann::json(nullptr) : nlohmann::json(text_);
  if (!calls.empty()) {
    m["tool_calls"] = std::move(calls);
  }
  if (thinking_blocks_ && !thinking_blocks_->empty()) {
    m["thinking_blocks"] = *thinking_blocks_;
  }
  return m.dump();
}

}  // namespace llmgw::router
