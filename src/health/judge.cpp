#include "llmgw/health/judge.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace llmgw::health {
namespace {

constexpr double kMaxScore = 10;

std::string fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::optional<double> in_range(double v) {
  if (!std::isfinite(v) || v < 0 || v > kMaxScore) {
    return std::nullopt;
  }
  return v;
}

// The number at the start of `text` ("8", "7.5"), if any.
std::optional<double> leading_number(std::string_view text) {
  std::size_t end = 0;
  while (end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[end])) != 0 || text[end] == '.')) {
    ++end;
  }
  if (end == 0) {
    return std::nullopt;
  }
  std::string number(text.substr(0, end));
  return in_range(std::strtod(number.c_str(), nullptr));
}

// A grade written in prose: "score: 8", "Score = 7.5", "9/10". Any other number ("the answer
// has 2 sentences") is not a grade.
std::optional<double> prose_grade(std::string_view text) {
  std::string lower(text);
  for (auto& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (auto at = lower.find("score"); at != std::string::npos; at = lower.find("score", at + 1)) {
    auto rest = std::string_view(lower).substr(at + 5);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '"' || rest.front() == ':' ||
                             rest.front() == '=' || rest.front() == '*')) {
      rest.remove_prefix(1);
    }
    if (auto n = leading_number(rest)) {
      return n;
    }
  }
  for (auto at = lower.find("/10"); at != std::string::npos; at = lower.find("/10", at + 1)) {
    std::size_t begin = at;
    while (begin > 0 && (std::isdigit(static_cast<unsigned char>(lower[begin - 1])) != 0 ||
                         lower[begin - 1] == '.')) {
      --begin;
    }
    const bool followed = at + 3 < lower.size() &&
                          std::isdigit(static_cast<unsigned char>(lower[at + 3])) != 0;
    if (begin < at && !followed) {
      return leading_number(std::string_view(lower).substr(begin, at - begin));
    }
  }
  return std::nullopt;
}

const nlohmann::json* find_vector(const nlohmann::json& data, std::size_t i) {
  if (i >= data.size() || !data[i].is_object()) {
    return nullptr;
  }
  auto it = data[i].find("embedding");
  return it != data[i].end() && it->is_array() ? &*it : nullptr;
}

}  // namespace

nlohmann::json judge_request(const config::JudgeConfig& judge, std::string_view question,
                             std::string_view answer) {
  std::string system(kJudgePreamble);
  system +=
      " Grade how well the answer meets the rubric from 0 (not at all) to 10 (fully). Reply "
      "with JSON only: {\"score\": <integer 0-10>, \"reason\": \"<one sentence>\"}.\nRubric: ";
  system += judge.rubric;
  std::string user = "Question:\n";
  user.append(question).append("\n\nAnswer:\n").append(answer);
  auto messages = nlohmann::json::array();
  messages.push_back({{"role", "system"}, {"content", std::move(system)}});
  messages.push_back({{"role", "user"}, {"content", std::move(user)}});
  return {{"model", judge.model},
          {"messages", std::move(messages)},
          {"max_tokens", 200},
          {"temperature", 0},
          {"stream", false}};
}

std::optional<double> judge_score(std::string_view text) {
  const auto open = text.find('{');
  const auto close = text.rfind('}');
  if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
    auto parsed = nlohmann::json::parse(text.substr(open, close - open + 1), nullptr, false);
    if (parsed.is_object()) {
      auto score = parsed.find("score");
      if (score != parsed.end()) {
        if (score->is_number()) {
          return in_range(score->get<double>());
        }
        if (score->is_string()) {
          return leading_number(score->get_ref<const std::string&>());
        }
        return std::nullopt;
      }
    }
  }
  return prose_grade(text);
}

ProbeResult judge_verdict(const config::JudgeConfig& judge, std::string_view text) {
  auto score = judge_score(text);
  if (!score) {
    return ProbeResult{ProbeVerdict::unknown, "judge",
                       "the judge's answer holds no score 0..10: " + excerpt(text)};
  }
  std::string graded = "graded " + fixed(*score, 1) + "/10 by " + judge.model;
  if (*score < judge.min_score) {
    return ProbeResult{ProbeVerdict::fail, "judge",
                       graded + ", below " + fixed(judge.min_score, 1) + ": " + excerpt(text)};
  }
  return ProbeResult{ProbeVerdict::pass, {}, std::move(graded)};
}

nlohmann::json similarity_request(const config::SimilarConfig& similar,
                                  std::string_view answer) {
  auto input = nlohmann::json::array();
  input.push_back(std::string(answer));
  input.push_back(similar.text);
  return {{"model", similar.model}, {"input", std::move(input)}};
}

std::optional<double> embeddings_cosine(std::string_view body) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (!parsed.is_object()) {
    return std::nullopt;
  }
  auto data = parsed.find("data");
  if (data == parsed.end() || !data->is_array()) {
    return std::nullopt;
  }
  const auto* a = find_vector(*data, 0);
  const auto* b = find_vector(*data, 1);
  if (!a || !b || a->size() != b->size() || a->empty()) {
    return std::nullopt;
  }
  double dot = 0;
  double na = 0;
  double nb = 0;
  for (std::size_t i = 0; i < a->size(); ++i) {
    if (!(*a)[i].is_number() || !(*b)[i].is_number()) {
      return std::nullopt;
    }
    const double x = (*a)[i].get<double>();
    const double y = (*b)[i].get<double>();
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na <= 0 || nb <= 0) {
    return std::nullopt;
  }
  const double cosine = dot / (std::sqrt(na) * std::sqrt(nb));
  return std::isfinite(cosine) ? std::optional<double>(cosine) : std::nullopt;
}

ProbeResult similarity_verdict(const config::SimilarConfig& similar, std::string_view body,
                               std::string_view answer) {
  auto cosine = embeddings_cosine(body);
  if (!cosine) {
    return ProbeResult{ProbeVerdict::unknown, "similar_to",
                       "the embeddings answer from " + similar.model + " holds no two vectors"};
  }
  std::string measured = "cosine " + fixed(*cosine, 3) + " to the reference";
  if (*cosine < similar.min_cosine) {
    return ProbeResult{ProbeVerdict::fail, "similar_to",
                       measured + ", below " + fixed(similar.min_cosine, 3) + ": \"" +
                           excerpt(answer) + "\""};
  }
  return ProbeResult{ProbeVerdict::pass, {}, std::move(measured)};
}

std::string answer_text(std::string_view body) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (!parsed.is_object()) {
    return {};
  }
  auto choices = parsed.find("choices");
  if (choices == parsed.end() || !choices->is_array() || choices->empty() ||
      !(*choices)[0].is_object()) {
    return {};
  }
  auto message = (*choices)[0].find("message");
  if (message == (*choices)[0].end() || !message->is_object()) {
    return {};
  }
  auto content = message->find("content");
  if (content != message->end() && content->is_string()) {
    return content->get<std::string>();
  }
  return {};
}

}  // namespace llmgw::health
