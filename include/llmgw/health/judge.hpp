#pragma once
// Model-graded probe verdicts (SPEC probes[].expect.judge and similar_to): the requests sent
// to a judge or an embeddings model, and how their answers turn into a verdict. Pure: the
// prober sends them through a ModelAsker and keeps score.
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "llmgw/api/failure.hpp"
#include "llmgw/common/result.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/health/probe_check.hpp"
#include "llmgw/providers/adapter.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::health {

/// One answer from a client-visible model, for a verdict about another provider's answer.
struct ModelAnswer {
  std::string body;       // the ingress (OpenAI) shape
  std::string provider;   // who answered
  double cost_usd = 0;    // its usage × that target's price
};

/// Asks a configured model (a judge, an embeddings model) for one answer, routed over the live
/// config like a client call but never to `avoid`, the provider whose answer is being judged:
/// a model does not grade itself. Implemented over the route table (router/model_asker).
class ModelAsker {
public:
  virtual ~ModelAsker() = default;
  virtual boost::asio::awaitable<common::Result<ModelAnswer, api::Failure>> ask(
      std::string model, providers::Operation op, nlohmann::json body, std::string avoid,
      upstream::Deadline deadline) = 0;
};

/// The first line of every judge system prompt. The simulator's judge persona keys on it.
inline constexpr std::string_view kJudgePreamble = "You grade an answer against a rubric.";

/// The chat request asking `judge.model` to grade `answer` to `question` 0..10 by the rubric.
nlohmann::json judge_request(const config::JudgeConfig& judge, std::string_view question,
                             std::string_view answer);

/// The grade in a judge's answer text: `{"score": N}` (also inside a ```json fence or
/// surrounded by prose), else "score: N" or "N/10" in prose; nullopt when there is none or it
/// is outside 0..10 (another number in the text is not taken for a grade).
std::optional<double> judge_score(std::string_view text);

/// The verdict from a judge's answer text: pass at or above min_score, fail below, unknown when
/// the text holds no grade (the judge failed, not the target).
ProbeResult judge_verdict(const config::JudgeConfig& judge, std::string_view text);

/// The embeddings request for the answer and the reference text, in that order.
nlohmann::json similarity_request(const config::SimilarConfig& similar, std::string_view answer);

/// The cosine similarity of the two vectors in an embeddings answer (OpenAI shape); nullopt
/// when it does not hold two float vectors of one non-zero length.
std::optional<double> embeddings_cosine(std::string_view body);

/// The verdict from an embeddings answer: pass at or above min_cosine, fail below, unknown
/// when the answer holds no usable vectors.
ProbeResult similarity_verdict(const config::SimilarConfig& similar, std::string_view body,
                               std::string_view answer);

/// The text of a translated (OpenAI-shaped) chat answer: the first choice's message content,
/// empty when there is none. Never throws.
std::string answer_text(std::string_view body);

}  // namespace llmgw::health
