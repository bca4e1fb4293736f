#include "answer.hpp"

#include <cctype>
#include <cmath>
#include <random>

#include "llmgw/common/strings.hpp"
#include "wire.hpp"

namespace llmgw::sim {
namespace {

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool starts_with_icase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && common::iequals(text.substr(0, prefix.size()), prefix);
}

void skip_spaces(std::string_view& s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
}

std::optional<std::int64_t> parse_integer(std::string_view& s) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || !is_digit(s.front())) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  while (!s.empty() && is_digit(s.front())) {
    if (__builtin_mul_overflow(value, 10, &value) ||
        __builtin_add_overflow(value, s.front() - '0', &value)) {
      return std::nullopt;
    }
    s.remove_prefix(1);
  }
  return negative ? -value : value;
}

const Message* last_user_message(const Conversation& conversation) {
  for (auto it = conversation.messages.rbegin(); it != conversation.messages.rend(); ++it) {
    if (it->role == "user") {
      return &*it;
    }
  }
  return nullptr;
}

// The gateway's mid-stream continuation request: [..., user question, assistant partial answer,
// user "Continue your previous answer exactly where it stopped..."], or the partial answer last
// (prefill). Returns the partial answer and the original question when the conversation ends
// either way.
struct ContinuationAsk {
  std::string_view partial;
  const Message* question = nullptr;
};

std::optional<ContinuationAsk> continuation_ask(const Conversation& conversation) {
  const auto& m = conversation.messages;
  // Prefill (how the gateway continues on Anthropic): the conversation ends with the partial
  // answer itself, which the model goes on from.
  if (m.size() >= 2 && m.back().role == "assistant" && m.back().text) {
    for (auto i = m.size() - 1; i-- > 0;) {
      if (m[i].role == "user") {
        return ContinuationAsk{*m.back().text, &m[i]};
      }
    }
  }
  if (m.size() < 3) {
    return std::nullopt;
  }
  const auto& ask = m[m.size() - 1];
  const auto& partial = m[m.size() - 2];
  if (ask.role != "user" || !ask.text ||
      !ask.text->starts_with("Continue your previous answer exactly where it stopped") ||
      partial.role != "assistant" || !partial.text) {
    return std::nullopt;
  }
  for (auto i = m.size() - 2; i-- > 0;) {
    if (m[i].role == "user") {
      return ContinuationAsk{*partial.text, &m[i]};
    }
  }
  return std::nullopt;
}

// "[sim-a] hello" -> "hello": the part of an echo answer that does not depend on the sim's name.
std::string_view strip_name(std::string_view text) {
  if (text.starts_with("[")) {
    auto close = text.find("] ");
    if (close != std::string_view::npos) {
      return text.substr(close + 2);
    }
  }
  return text;
}

std::string history_json(const Conversation& conversation) {
  auto history = nlohmann::ordered_json::array();
  for (const auto& message : conversation.messages) {
    nlohmann::ordered_json entry;
    entry["role"] = message.role;
    entry["content"] = message.text ? nlohmann::ordered_json(*message.text) : nullptr;
    for (const auto& [key, value] : message.extras.items()) {
      entry[key] = value;
    }
    history.push_back(std::move(entry));
  }
  return history.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// "!tool NAME {json}" → (NAME, json). The JSON is passed through verbatim: tests assert on the
// arguments string the gateway relays, so re-serialising would hide relay bugs.
std::optional<ToolCall> parse_tool_command(std::string_view text) {
  constexpr std::string_view kPrefix = "!tool ";
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return std::nullopt;
  }
  text.remove_prefix(kPrefix.size());
  skip_spaces(text);
  std::size_t end = 0;
  while (end < text.size() && !is_space(text[end])) {
    ++end;
  }
  if (end == 0) {
    return std::nullopt;
  }
  ToolCall call;
  call.name = std::string(text.substr(0, end));
  auto arguments = common::trim(text.substr(end));
  call.arguments = arguments.empty() ? std::string("{}") : std::string(arguments);
  call.id = "call_" + common::random_hex(24);
  return call;
}

}  // namespace

std::string Answer::content() const {
  std::string out;
  for (const auto& chunk : chunks) {
    out += chunk;
  }
  return out;
}

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::stop:
      return "stop";
    case FinishReason::length:
      return "length";
    case FinishReason::tool_calls:
      return "tool_calls";
  }
  return "stop";
}

std::size_t count_words(std::string_view text) {
  std::size_t words = 0;
  bool in_word = false;
  for (char c : text) {
    if (is_space(c)) {
      in_word = false;
    } else if (!in_word) {
      in_word = true;
      ++words;
    }
  }
  return words;
}

std::vector<std::string> split_words(std::string_view text) {
  // A piece starts at every whitespace run that follows a non-space, so the whitespace travels
  // with the next word (" world"), as in real OpenAI token streams.
  std::vector<std::string> pieces;
  std::size_t start = 0;
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (is_space(text[i]) && !is_space(text[i - 1])) {
      pieces.emplace_back(text.substr(start, i - start));
      start = i;
    }
  }
  if (start < text.size()) {
    pieces.emplace_back(text.substr(start));
  }
  return pieces;
}

std::optional<std::int64_t> eval_arithmetic(std::string_view text) {
  text = common::trim(text);
  for (std::string_view prefix : {"what is", "what's", "whats"}) {
    if (starts_with_icase(text, prefix)) {
      text.remove_prefix(prefix.size());
      if (text.empty() || !is_space(text.front())) {
        return std::nullopt;
      }
      break;
    }
  }
  skip_spaces(text);
  auto lhs = parse_integer(text);
  if (!lhs) {
    return std::nullopt;
  }
  skip_spaces(text);
  if (text.empty() || (text.front() != '+' && text.front() != '-' && text.front() != '*')) {
    return std::nullopt;
  }
  char op = text.front();
  text.remove_prefix(1);
  skip_spaces(text);
  auto rhs = parse_integer(text);
  if (!rhs) {
    return std::nullopt;
  }
  // Extra words are fine ("What is 2 + 2? Answer with a number."), a longer expression is not:
  // answering "1 + 2 + 3" with 3 would be confidently wrong.
  skip_spaces(text);
  if (!text.empty() && (text.front() == '+' || text.front() == '-' || text.front() == '*' ||
                        text.front() == '/' || is_digit(text.front()))) {
    return std::nullopt;
  }
  std::int64_t result = 0;
  bool overflow = false;
  switch (op) {
    case '+':
      overflow = __builtin_add_overflow(*lhs, *rhs, &result);
      break;
    case '-':
      overflow = __builtin_sub_overflow(*lhs, *rhs, &result);
      break;
    default:
      overflow = __builtin_mul_overflow(*lhs, *rhs, &result);
      break;
  }
  if (overflow) {
    return std::nullopt;
  }
  return result;
}

std::uint64_t stable_hash(std::string_view data, std::uint64_t seed) {
  std::uint64_t hash = 0xcbf29ce484222325ULL ^ (seed * 0x9e3779b97f4a7c15ULL);
  for (char c : data) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

void embed_text(std::string_view input, bool garbage, std::vector<float>& vector) {
  // Unit length, every component in [-1, 1], and cosine similarity behaves like a real
  // embedding space (identical → 1).
  std::uint64_t state = stable_hash(input);
  double norm = 0;
  std::vector<double> raw(vector.size());
  for (auto& value : raw) {
    // splitmix64
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    value = static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53) * 2.0 - 1.0;
    norm += value * value;
  }
  norm = norm > 0 ? std::sqrt(norm) : 1.0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const double value = raw[i] / norm;
    vector[i] = static_cast<float>(garbage ? -value : value);
  }
}

nlohmann::ordered_json arguments_object(std::string_view arguments) {
  // The arguments are client text ("!tool NAME {json}"), as hostile as any request body.
  auto parsed = parse_untrusted(arguments);
  if (!parsed || !parsed->is_object()) {
    return nlohmann::ordered_json::object();
  }
  return std::move(*parsed);
}

std::string_view last_user_text(const Conversation& conversation) {
  const Message* last = last_user_message(conversation);
  return last && last->text ? std::string_view(*last->text) : std::string_view();
}

std::string random_base62(std::size_t chars) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 engine{std::random_device{}()};
  std::string out(chars, '0');
  for (auto& c : out) {
    c = kAlphabet[engine() % 62];
  }
  return out;
}

Answer make_answer(const Conversation& conversation, const AnswerOptions& options) {
  Answer answer;
  for (const auto& message : conversation.messages) {
    answer.prompt_tokens += conversation.tokens_per_message;
    if (message.text) {
      answer.prompt_tokens += static_cast<std::int64_t>(count_words(*message.text));
    }
  }

  // A continuation answers the original question, minus what the partial answer already said,
  // so the client's spliced stream reads as one answer whichever sims produced it.
  auto continuation = continuation_ask(conversation);
  const Message* last_user = continuation ? continuation->question : last_user_message(conversation);
  const std::string_view last_text =
      last_user && last_user->text ? std::string_view(*last_user->text) : std::string_view();

  const bool right = options.wrong == Wrong::none;
  if (conversation.has_tools && right) {
    if (auto call = parse_tool_command(last_text)) {
      const auto half = call->arguments.size() / 2;
      answer.argument_fragments = {call->arguments.substr(0, half), call->arguments.substr(half)};
      answer.tool_call = std::move(call);
      answer.finish = FinishReason::tool_calls;
      answer.completion_tokens = static_cast<std::int64_t>(answer.argument_fragments.size());
      return answer;
    }
  }

  std::string content;
  switch (options.wrong) {
    case Wrong::empty_text:
      break;
    case Wrong::repetition:
      for (int i = 0; i < 40; ++i) {
        content += "and then the answer is ";
      }
      break;
    case Wrong::refusal:
      content = "I'm sorry, but I can't help with that.";
      break;
    case Wrong::bad_json:
      content = R"({"ok": true, "answer": "cut sh)";
      break;
    case Wrong::none:
    case Wrong::off_by_one:
      if (auto number = eval_arithmetic(last_text)) {
        content = std::to_string(right ? *number : *number + 1);
      } else if (!right) {
        content = "lorem ipsum dolor";
      } else if (last_text == "!history") {
        content = history_json(conversation);
      } else {
        content.reserve(options.name.size() + 3 + last_text.size());
        content.append("[").append(options.name).append("] ").append(last_text);
      }
      break;
  }
  if (conversation.json_mode && (right || options.wrong == Wrong::off_by_one)) {
    // JSON mode: the same answer as a JSON object (still wrong when it was wrong).
    content = nlohmann::json{{"ok", true}, {"answer", content}}.dump();
  }
  if (continuation) {
    auto own = strip_name(content);
    auto said = strip_name(continuation->partial);
    if (own.starts_with(said)) {
      content = std::string(own.substr(said.size()));
    }
  }
  answer.chunks = split_words(content);
  if (conversation.max_tokens > 0 &&
      answer.chunks.size() > static_cast<std::size_t>(conversation.max_tokens)) {
    answer.chunks.resize(static_cast<std::size_t>(conversation.max_tokens));
    answer.finish = FinishReason::length;
  }
  answer.completion_tokens = static_cast<std::int64_t>(answer.chunks.size());
  return answer;
}

}  // namespace llmgw::sim
