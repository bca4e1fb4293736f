#include "answer.hpp"

#include <algorithm>
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

// FNV-1a, shared by stable_hash and the word hashing below so a word hashes the same either way.
constexpr std::uint64_t kFnvBasis = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Bytes past ASCII count as word characters: UTF-8 text in any script then has words too,
// instead of embedding every non-Latin text by its whole-text hash.
bool is_word_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || u >= 0x80;
}

// Calls fn(hash) for each word of `text`, hash = stable_hash(the word lowercased), computed as
// the word is read so no lowercase copy is made.
template <typename Fn>
void for_each_word_hash(std::string_view text, Fn&& fn) {
  std::uint64_t hash = kFnvBasis;
  bool in_word = false;
  for (char c : text) {
    if (is_word_char(c)) {
      hash ^= static_cast<unsigned char>(lower(c));
      hash *= kFnvPrime;
      in_word = true;
    } else if (in_word) {
      fn(hash);
      hash = kFnvBasis;
      in_word = false;
    }
  }
  if (in_word) {
    fn(hash);
  }
}

bool contains_icase(std::string_view text, std::string_view needle) {
  return std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return lower(a) == lower(b); }) != text.end();
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

// The judge persona: a grading request, told apart by its system prompt, whose user message
// is "Question:\n<question>\n\nAnswer:\n<answer>". The sim grades by a fixed rule (the rubric
// is not read), so a client's judge handling can be tested against known scores.
constexpr std::string_view kJudgePrompt = "You grade an answer against a rubric.";

struct JudgeAsk {
  std::string_view question;
  std::string_view answer;
};

std::optional<JudgeAsk> judge_ask(const Conversation& conversation, std::string_view text) {
  const auto& m = conversation.messages;
  const auto system = std::find_if(m.begin(), m.end(), [](const Message& message) {
    return message.role == "system" || message.role == "developer";
  });
  if (system == m.end() || !system->text || !system->text->starts_with(kJudgePrompt)) {
    return std::nullopt;
  }
  constexpr std::string_view kQuestion = "Question:\n";
  constexpr std::string_view kAnswer = "\n\nAnswer:\n";
  if (!text.starts_with(kQuestion)) {
    return std::nullopt;
  }
  text.remove_prefix(kQuestion.size());
  // The first separator: the graded answer is model output and may contain anything, the
  // question is the client's own prompt.
  const auto split = text.find(kAnswer);
  if (split == std::string_view::npos) {
    return std::nullopt;
  }
  return JudgeAsk{text.substr(0, split), text.substr(split + kAnswer.size())};
}

// eval_arithmetic anywhere in `text` ("Quick check: what is 6 * 7?"): tried at each word start
// that does not continue an expression, so "1 + 2 + 3" is never read as "2 + 3".
std::optional<std::int64_t> find_arithmetic(std::string_view text) {
  char before = ' ';  // the last non-space character before i
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool starts =
        (is_word_char(c) || c == '-' || c == '+') &&
        (i == 0 || (!is_word_char(text[i - 1]) && text[i - 1] != '-' && text[i - 1] != '+'));
    const bool in_number = i > 1 && (text[i - 1] == '.' || text[i - 1] == ',') &&
                           is_digit(text[i - 2]);  // "1.5", "1,000"
    const bool continues = in_number || before == '+' || before == '-' || before == '*' ||
                           before == '/' || is_digit(before);
    if (starts && !continues) {
      if (auto result = eval_arithmetic(text.substr(i))) {
        return result;
      }
    }
    if (!is_space(c)) {
      before = c;
    }
  }
  return std::nullopt;
}

// Whether `text` states `value` as a whole number of its own: "42", "-7", "1,024" and "42."
// count; "420", "4.2" and "x42" do not.
bool has_whole_number(std::string_view text, std::int64_t value) {
  std::size_t i = 0;
  while (i < text.size()) {
    const bool inside = i > 0 && (is_word_char(text[i - 1]) ||
                                  (text[i - 1] == '.' && i > 1 && is_digit(text[i - 2])));
    if (!is_digit(text[i]) || inside) {
      ++i;
      continue;
    }
    const bool negative = i > 0 && text[i - 1] == '-' && (i == 1 || !is_word_char(text[i - 2]));
    std::int64_t number = 0;
    bool overflow = false;
    std::size_t j = i;
    while (j < text.size()) {
      if (is_digit(text[j])) {
        overflow = overflow || __builtin_mul_overflow(number, 10, &number) ||
                   __builtin_add_overflow(number, text[j] - '0', &number);
        ++j;
      } else if (text[j] == ',' && j + 3 < text.size() && is_digit(text[j + 1]) &&
                 is_digit(text[j + 2]) && is_digit(text[j + 3]) &&
                 (j + 4 == text.size() || !is_digit(text[j + 4]))) {
        ++j;  // a thousands separator
      } else {
        break;
      }
    }
    const bool ends =
        j == text.size() || (!is_word_char(text[j]) &&
                             !(text[j] == '.' && j + 1 < text.size() && is_digit(text[j + 1])));
    if (ends && !overflow && (negative ? -number : number) == value) {
      return true;
    }
    i = j;
  }
  return false;
}

std::optional<std::string_view> refusal_phrase(std::string_view text) {
  // The sim's own refusal ("I'm sorry, but I can't help with that.") and the usual openings,
  // with the typographic apostrophe models often write.
  static constexpr std::string_view kPhrases[] = {"I can't",     "I cannot",     "I'm sorry",
                                                  "I am unable", "I can\u2019t", "I\u2019m sorry"};
  for (auto phrase : kPhrases) {
    if (contains_icase(text, phrase)) {
      return phrase;
    }
  }
  return std::nullopt;
}

// A runaway loop like the `repetition` fault's: at least 20 words, under 30% of them distinct.
bool runaway_repetition(std::string_view text, std::size_t& distinct, std::size_t& total) {
  std::vector<std::uint64_t> words;
  for_each_word_hash(text, [&words](std::uint64_t hash) { words.push_back(hash); });
  std::sort(words.begin(), words.end());
  total = words.size();
  distinct = static_cast<std::size_t>(std::unique(words.begin(), words.end()) - words.begin());
  return total >= 20 && distinct * 10 < total * 3;
}

bool blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), is_space);
}

// {"score": 0..10, "reason": "..."}: arithmetic questions are checked (10 or 0); any other
// answer gets 0 when it is one of the wrong answers the fault modes produce, else 8.
std::string judge_verdict(const JudgeAsk& ask) {
  int score = 8;
  std::string reason = "the answer addresses the question (the simulator checks no more)";
  std::size_t distinct = 0;
  std::size_t total = 0;
  if (auto expected = find_arithmetic(ask.question)) {
    const auto number = std::to_string(*expected);
    if (has_whole_number(ask.answer, *expected)) {
      score = 10;
      reason = "the answer gives the correct result, " + number;
    } else {
      score = 0;
      reason = "expected " + number + ", which the answer does not state";
    }
  } else if (blank(ask.answer)) {
    score = 0;
    reason = "the answer is empty";
  } else if (contains_icase(ask.answer, "lorem ipsum")) {
    score = 0;
    reason = "the answer is placeholder text (lorem ipsum)";
  } else if (auto phrase = refusal_phrase(ask.answer)) {
    score = 0;
    reason = "the answer is a refusal (\"" + std::string(*phrase) + "\")";
  } else if (runaway_repetition(ask.answer, distinct, total)) {
    score = 0;
    reason = "the answer repeats itself (" + std::to_string(distinct) + " distinct words in " +
             std::to_string(total) + ")";
  }
  nlohmann::ordered_json verdict;
  verdict["score"] = score;
  verdict["reason"] = std::move(reason);
  return verdict.dump();
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
  std::uint64_t hash = kFnvBasis ^ (seed * 0x9e3779b97f4a7c15ULL);
  for (char c : data) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

void embed_text(std::string_view input, bool garbage, std::vector<float>& vector) {
  // A bag of words: the sum of one pseudo-random direction per word, normalised. Texts sharing
  // most words point the same way and texts sharing none are near orthogonal (in enough
  // dimensions), so a client's similarity threshold can be tested; word order does not matter.
  std::vector<std::uint64_t> words;
  for_each_word_hash(input, [&words](std::uint64_t hash) { words.push_back(hash); });
  // Sorted, each distinct word is generated once (times its count), and the sum is the same
  // whatever order the words came in.
  std::sort(words.begin(), words.end());
  std::vector<double> sum(vector.size());
  auto add = [&sum](std::uint64_t state, double weight) {
    for (auto& value : sum) {
      // splitmix64
      std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      value += weight * (static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53) * 2 - 1);
    }
  };
  for (std::size_t i = 0; i < words.size();) {
    std::size_t next = i + 1;
    while (next < words.size() && words[next] == words[i]) {
      ++next;
    }
    add(words[i], static_cast<double>(next - i));
    i = next;
  }
  auto norm = [&sum] {
    double squares = 0;
    for (double value : sum) {
      squares += value * value;
    }
    return std::sqrt(squares);
  };
  double length = norm();
  if (length == 0) {
    // No words (empty text, punctuation only) or words that cancel out: the whole text's hash
    // still gives it a unit vector of its own.
    std::fill(sum.begin(), sum.end(), 0.0);
    add(stable_hash(input), 1);
    length = norm();
    if (length == 0 && !sum.empty()) {
      sum[0] = 1;
      length = 1;
    }
  }
  for (std::size_t i = 0; i < sum.size(); ++i) {
    const double value = sum[i] / length;
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
  bool graded = false;  // the judge persona answered
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
      // A wrong judge (garbage) answers like any wrong model: a broken judge is a test case too.
      if (auto ask = right ? judge_ask(conversation, last_text) : std::nullopt) {
        content = judge_verdict(*ask);
        graded = true;
      } else if (auto number = eval_arithmetic(last_text)) {
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
  if (conversation.json_mode && !graded && (right || options.wrong == Wrong::off_by_one)) {
    // JSON mode: the same answer as a JSON object (still wrong when it was wrong). A verdict
    // already is the object a judge is asked for.
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
