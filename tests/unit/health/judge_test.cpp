// Model-graded verdicts: what a judge's answer and an embeddings answer mean.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "llmgw/health/judge.hpp"

namespace llmgw::health {
namespace {

TEST(JudgeScore, ReadsTheScoreWhereverTheJudgeWroteIt) {
  EXPECT_EQ(judge_score(R"({"score": 8, "reason": "fine"})"), 8.0);
  EXPECT_EQ(judge_score("```json\n{\"score\": 3}\n```"), 3.0);
  EXPECT_EQ(judge_score(R"(Here you go: {"score": "7.5"} as asked)"), 7.5);
  EXPECT_EQ(judge_score("Score: 9/10"), 9.0);
  EXPECT_EQ(judge_score("The answer has 2 sentences. Score: 6"), 6.0);
  EXPECT_EQ(judge_score("Contains 9 errors; I give it 1/10."), 1.0);
  EXPECT_EQ(judge_score(R"({"score": 0})"), 0.0);
}

TEST(JudgeScore, NoGradeOrOneOffTheScaleIsNone) {
  EXPECT_FALSE(judge_score("excellent"));
  EXPECT_FALSE(judge_score("It has 3 mistakes.")) << "a number in prose is not a grade";
  EXPECT_FALSE(judge_score(R"({"score": 11})"));
  EXPECT_FALSE(judge_score(R"({"score": -1})"));
  EXPECT_FALSE(judge_score(R"({"score": null})"));
  EXPECT_FALSE(judge_score(""));
}

TEST(JudgeVerdict, PassesAtOrAboveMinScore) {
  config::JudgeConfig j{"grader", "rubric", 7};
  EXPECT_EQ(judge_verdict(j, R"({"score": 7})").verdict, ProbeVerdict::pass);
  auto low = judge_verdict(j, R"({"score": 6, "reason": "vague"})");
  EXPECT_EQ(low.verdict, ProbeVerdict::fail);
  EXPECT_EQ(low.check, "judge");
  EXPECT_NE(low.detail.find("graded 6.0/10 by grader, below 7.0"), std::string::npos)
      << low.detail;
  EXPECT_NE(low.detail.find("vague"), std::string::npos);
  EXPECT_EQ(judge_verdict(j, "no opinion").verdict, ProbeVerdict::unknown);
}

TEST(JudgeRequest, AsksForAGradeOnTheRubric) {
  config::JudgeConfig j{"grader", "Is it polite?", 7};
  auto body = judge_request(j, "Say hi", "Hello!");
  EXPECT_EQ(body["model"], "grader");
  EXPECT_EQ(body["temperature"], 0);
  auto system = body["messages"][0]["content"].get<std::string>();
  EXPECT_EQ(system.rfind(kJudgePreamble, 0), 0u);
  EXPECT_NE(system.find("\nRubric: Is it polite?"), std::string::npos);
  EXPECT_EQ(body["messages"][1]["content"], "Question:\nSay hi\n\nAnswer:\nHello!");
}

TEST(Similarity, CosineOfTheTwoVectors) {
  EXPECT_NEAR(*embeddings_cosine(R"({"data":[{"embedding":[1,0]},{"embedding":[1,0]}]})"), 1.0,
              1e-9);
  EXPECT_NEAR(*embeddings_cosine(R"({"data":[{"embedding":[1,0]},{"embedding":[0,2]}]})"), 0.0,
              1e-9);
  EXPECT_NEAR(*embeddings_cosine(R"({"data":[{"embedding":[1,1]},{"embedding":[-1,-1]}]})"),
              -1.0, 1e-9);
}

TEST(Similarity, AnswersWithoutTwoUsableVectorsAreUnknown) {
  config::SimilarConfig s{"ref", 0.8, "embed"};
  for (const char* body : {"", "[]", R"({"data":[{"embedding":[1,0]}]})",
                           R"({"data":[{"embedding":[1,0]},{"embedding":[1]}]})",
                           R"({"data":[{"embedding":[0,0]},{"embedding":[1,0]}]})",
                           R"({"data":[{"embedding":["a"]},{"embedding":[1]}]})"}) {
    EXPECT_EQ(similarity_verdict(s, body, "x").verdict, ProbeVerdict::unknown) << body;
  }
  auto far = similarity_verdict(s, R"({"data":[{"embedding":[1,0]},{"embedding":[0,1]}]})",
                                "Lyon");
  EXPECT_EQ(far.verdict, ProbeVerdict::fail);
  EXPECT_NE(far.detail.find("cosine 0.000 to the reference, below 0.800: \"Lyon\""),
            std::string::npos)
      << far.detail;
}

TEST(AnswerText, TheFirstChoicesContentOrNothing) {
  EXPECT_EQ(answer_text(R"({"choices":[{"message":{"content":"hi"}}]})"), "hi");
  EXPECT_EQ(answer_text(R"({"choices":[]})"), "");
  EXPECT_EQ(answer_text("not json"), "");
  EXPECT_EQ(answer_text(R"({"choices":[{"message":{"content":null}}]})"), "");
}

}  // namespace
}  // namespace llmgw::health
