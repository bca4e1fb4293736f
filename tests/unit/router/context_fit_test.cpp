// Fitting a request to a target's context window: which turns go (whole turns, oldest first,
// never a system message, the last user turn or a tool call apart from its result), how each
// provider kind counts, and what each context.overflow does.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "llmgw/router/router.hpp"
#include "router/context_fit.hpp"
#include "router/plan.hpp"

namespace llmgw::router {
namespace {

using nlohmann::json;

MessageInfo sys(std::uint64_t t) { return MessageInfo{t, true, false}; }
MessageInfo user(std::uint64_t t) { return MessageInfo{t, false, true}; }
MessageInfo other(std::uint64_t t) { return MessageInfo{t, false, false}; }

TEST(PlanFit, FitsAsItIs) {
  auto d = plan_fit({sys(10), user(10)}, 100);
  EXPECT_TRUE(d.fits);
  EXPECT_TRUE(d.drop.empty());
  EXPECT_EQ(d.before, 23u);  // with the reply priming
}

TEST(PlanFit, DropsWholeTurnsFromTheOldestAndKeepsSystem) {
  //            0        1         2          3         4          5
  auto d = plan_fit({sys(10), user(20), other(20), user(20), other(20), user(20)}, 80);
  ASSERT_TRUE(d.fits);
  EXPECT_EQ(d.drop, (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(d.after, 3u + 10 + 20 + 20 + 20);
}

TEST(PlanFit, AToolCallGoesWithItsResults) {
  // user, assistant(tool_calls), tool, tool, assistant, user(new)
  auto d = plan_fit({user(10), other(10), other(10), other(10), other(10), user(10)}, 20);
  ASSERT_TRUE(d.fits);
  EXPECT_EQ(d.drop, (std::vector<std::size_t>{0, 1, 2, 3, 4}));
}

TEST(PlanFit, TheLastUserTurnAndWhatFollowsItStay) {
  // A tool-result continuation: the last user message, the call and its result all stay.
  auto d = plan_fit({user(50), other(10), user(10), other(10), other(10)}, 40);
  ASSERT_TRUE(d.fits);
  EXPECT_EQ(d.drop, (std::vector<std::size_t>{0, 1}));
}

TEST(PlanFit, WhatCannotFitDropsNothing) {
  auto d = plan_fit({sys(50), user(10), other(10), user(60)}, 100);
  EXPECT_FALSE(d.fits);
  EXPECT_TRUE(d.drop.empty());
  EXPECT_EQ(d.after, d.before);
}

const tokenizer::Library& library() {
  static auto lib = tokenizer::Library::load(std::string(LLMGW_SOURCE_DIR) + "/data/tokenizers");
  return *lib;
}

TEST(TokenCounter, OpenAIModelsAreExactOthersEstimatedHigh) {
  const auto& lib = library();
  auto gpt = counter_for(&lib, config::ProviderKind::openai, "gpt-4o-2024-08-06");
  EXPECT_TRUE(gpt.exact);
  EXPECT_EQ(gpt.method, "o200k_base");
  auto gpt4 = counter_for(&lib, config::ProviderKind::azure, "gpt-4");
  EXPECT_EQ(gpt4.method, "cl100k_base");
  auto claude = counter_for(&lib, config::ProviderKind::anthropic, "claude-sonnet-4-5");
  EXPECT_FALSE(claude.exact);
  const std::string text = "The quick brown fox jumps over the lazy dog, again and again.";
  EXPECT_GT(claude.count(text), gpt.count(text));
  auto none = counter_for(nullptr, config::ProviderKind::openai, "gpt-4o");
  EXPECT_EQ(none.count("12345678"), 2u);  // no data: four bytes a token
}

TEST(TokenCounter, AMessageCountsItsOverheadTextToolCallsAndImages) {
  auto gpt = counter_for(&library(), config::ProviderKind::openai, "gpt-4o");
  json m{{"role", "user"}, {"content", "hello world"}};
  EXPECT_EQ(gpt.message(m), 3u + 1 + 2);  // overhead, "user", "hello world"
  json call{{"role", "assistant"},
            {"content", nullptr},
            {"tool_calls", {{{"id", "c"}, {"type", "function"},
                             {"function", {{"name", "lookup"}, {"arguments", "{}"}}}}}}};
  EXPECT_GT(gpt.message(call), 3u + 1);
  json image{{"role", "user"},
             {"content", {{{"type", "image_url"}, {"image_url", {{"url", "https://x/y.png"}}}}}}};
  EXPECT_EQ(gpt.message(image), 3u + 1 + 765);
  // The byte bound is never below the count.
  json messages = json::array({m, call, image});
  std::uint64_t counted = 3;
  for (const auto& x : messages) {
    counted += gpt.message(x);
  }
  EXPECT_GE(upper_bound(messages, gpt), counted);
}

class FitForTarget : public ::testing::Test {
protected:
  void SetUp() override {
    provider.kind = config::ProviderKind::openai;
    provider.name = "p";
    route.config = &provider;
    target.model = "gpt-4o";
    target.context_window = 200;
    model.context.reserve_output = 50;
    planned.model = &model;
    planned.target = &target;
    planned.provider = &route;
    std::string filler;
    for (int i = 0; i < 100; ++i) {
      filler += " word";
    }
    body = json{{"messages",
                 {{{"role", "system"}, {"content", "Be brief."}},
                  {{"role", "user"}, {"content", "old" + filler}},
                  {{"role", "assistant"}, {"content", "old answer" + filler}},
                  {{"role", "user"}, {"content", "new question"}}}}};
    req.body = &body;
    req.tokenizers = &library();
  }
  config::ProviderConfig provider;
  ProviderRoute route;
  config::TargetConfig target;
  config::ModelConfig model;
  PlannedTarget planned;
  json body;
  CallRequest req;
};

TEST_F(FitForTarget, TruncateOldestSendsAFittedCopy) {
  auto f = fit_for_target(req, planned);
  ASSERT_FALSE(f.failure);
  ASSERT_TRUE(f.body);
  EXPECT_EQ(f.action, "truncated");
  EXPECT_EQ(f.dropped, 2u);
  EXPECT_EQ((*f.body)["messages"].size(), 2u);
  EXPECT_EQ((*f.body)["messages"][1]["content"], "new question");
  EXPECT_EQ(body["messages"].size(), 4u) << "the request itself is untouched";
  EXPECT_LE(f.counted, 150u);
}

TEST_F(FitForTarget, ALargeWindowOrAnotherOperationIsNotCounted) {
  target.context_window = 100000;
  auto f = fit_for_target(req, planned);
  EXPECT_EQ(f.counted, 0u);
  EXPECT_TRUE(f.action.empty());
  target.context_window.reset();
  EXPECT_TRUE(fit_for_target(req, planned).action.empty());
}

TEST_F(FitForTarget, MaxTokensIsWhatIsReserved) {
  req.max_output_tokens = 190;  // leaves 10 tokens: not even the new turn fits
  auto f = fit_for_target(req, planned);
  ASSERT_TRUE(f.failure);
  EXPECT_EQ(f.action, "unfittable");
  EXPECT_EQ(f.failure->cls, api::FailureClass::context_length);
  EXPECT_NE(f.failure->message.find("190 reserved"), std::string::npos) << f.failure->message;
}

TEST_F(FitForTarget, RejectAndFallbackLargerFailWithTheCounts) {
  model.context.overflow = config::Overflow::reject;
  auto f = fit_for_target(req, planned);
  ASSERT_TRUE(f.failure);
  EXPECT_EQ(f.action, "rejected");
  EXPECT_NE(f.failure->message.find("200-token context window of gpt-4o"), std::string::npos);
  EXPECT_NE(f.failure->message.find("counted with o200k_base"), std::string::npos);
  model.context.overflow = config::Overflow::fallback_larger;
  EXPECT_EQ(fit_for_target(req, planned).action, "skipped_target");
}

}  // namespace
}  // namespace llmgw::router

#include "router/summarize.hpp"

namespace llmgw::router {
namespace {

TEST(Summarize, TheRequestCarriesTheTurnsAndThePreviousSummary) {
  json dropped = json::array({json{{"role", "user"}, {"content", "my name is Ada"}},
                              json{{"role", "assistant"}, {"content", "hello Ada"}}});
  auto req = summary_request("cheap", dropped, "they met");
  EXPECT_EQ(req["model"], "cheap");
  const auto user = req["messages"][1]["content"].get<std::string>();
  EXPECT_NE(user.find("Summary so far: they met"), std::string::npos);
  EXPECT_NE(user.find("user: my name is Ada\nassistant: hello Ada\n"), std::string::npos) << user;
}

TEST(Summarize, TheNoteGoesAfterTheLeadingSystemMessages) {
  json body{{"messages", {{{"role", "system"}, {"content", "S"}}, {{"role", "user"}, {"content", "q"}}}}};
  insert_summary(body, "earlier");
  ASSERT_EQ(body["messages"].size(), 3u);
  EXPECT_EQ(body["messages"][1]["content"], "Summary of the earlier conversation: earlier");
  EXPECT_EQ(dropped_messages(body, {0, 2, 7}).size(), 2u);
}

TEST_F(FitForTarget, SummarizeLeavesRoomForTheNoteOrTruncates) {
  model.context.overflow = config::Overflow::summarize;
  auto tight = fit_for_target(req, planned);  // 150 tokens of budget: no room for a note
  EXPECT_FALSE(tight.summarize);
  EXPECT_EQ(tight.action, "truncated");
  std::string filler;
  for (int i = 0; i < 400; ++i) {
    filler += " word";
  }
  body["messages"][1]["content"] = "old" + filler;  // ~400 tokens each now
  body["messages"][2]["content"] = "old answer" + filler;
  target.context_window = 50 + 700;  // budget 700: over; 700 - 512 holds the rest
  auto roomy = fit_for_target(req, planned);
  EXPECT_TRUE(roomy.summarize);
  EXPECT_EQ(roomy.drop, (std::vector<std::size_t>{1, 2}));
}

}  // namespace
}  // namespace llmgw::router
