// The pipeline runner and its seams: each stage applies exactly where its config section says
// and, until its issue fills it in, lets the request through unchanged.
#include "llmgw/pipeline/pipeline.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

namespace llmgw::pipeline {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

template <class T>
T run(asio::awaitable<T> a) {
  asio::io_context io;
  auto done = asio::co_spawn(io, std::move(a), asio::use_future);
  io.run();
  return done.get();
}

struct Fixture : ::testing::Test {
  config::Config cfg;
  api::Route chat{"/v1/chat/completions", api::Operation::chat, &api::openai_face()};
  json body = json::parse(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  api::RequestFacts facts;

  RequestContext ctx(const api::Route& route) {
    RequestContext c{cfg, route};
    c.body = &body;
    c.facts = &facts;
    c.model_name = "m";
    return c;
  }
};

std::vector<std::string> names(const Pipeline& p) {
  std::vector<std::string> out;
  for (const auto& s : p.ingress()) {
    out.emplace_back(s->name());
  }
  for (const auto& t : p.taps()) {
    out.emplace_back(t->name());
  }
  return out;
}

TEST_F(Fixture, EverySeamIsInPlaceInPipelineOrder) {
  auto p = make_pipeline(Services{});
  EXPECT_EQ(names(p), (std::vector<std::string>{"limits", "prompt_template", "session_load",
                                                "response_load", "cache_lookup", "budget_debit",
                                                "session_append", "response_store",
                                                "cache_store"}));
}

TEST_F(Fixture, NothingAppliesToAPlainRequestSoNoStageRuns) {
  auto p = make_pipeline(Services{});
  auto c = ctx(chat);
  EXPECT_FALSE(p.has_ingress_work(c));
}

TEST_F(Fixture, LimitsApplyToAKeyWithALimitOrABudget) {
  auto stage = make_limits_stage(Services{});
  config::KeyConfig key;
  auto c = ctx(chat);
  c.key = &key;
  EXPECT_FALSE(stage->applies(c));
  key.rate_limit.rpm = 60;
  EXPECT_TRUE(stage->applies(c));
  key.rate_limit.rpm.reset();
  key.budget = config::KeyBudget{5.0};
  EXPECT_TRUE(stage->applies(c));
  EXPECT_FALSE(run(stage->run(c)));
}

TEST_F(Fixture, ThePromptTemplateAppliesOnlyToThePromptsRoute) {
  auto stage = make_prompt_template_stage();
  EXPECT_FALSE(stage->applies(ctx(chat)));
  const auto& prompt_route = *api::find_route("/v1/prompts/greet");
  // Prompts configured or not: an unknown prompt is a 404, never a chat body to decode.
  EXPECT_TRUE(stage->applies(ctx(prompt_route)));
}

TEST_F(Fixture, ThePromptTemplateBuildsTheChatBodyBeforeDecode) {
  config::PromptConfig greet;
  greet.name = "greet";
  greet.model = "m";
  greet.template_text = "Hello {{name}}";
  cfg.prompts.push_back(greet);
  auto p = make_pipeline(Services{});
  const auto& prompt_route = *api::find_route("/v1/prompts/greet");
  body = json::parse(R"({"variables": {"name": "Ada"}, "output": "plain"})");
  auto c = ctx(prompt_route);
  c.path = "/v1/prompts/greet";
  EXPECT_TRUE(p.has_prepare_work(c));
  EXPECT_FALSE(p.has_ingress_work(c)) << "it runs before decode, not with the others";
  EXPECT_FALSE(p.has_prepare_work(ctx(chat)));
  auto error = run(p.run_prepare(c));
  ASSERT_FALSE(error) << error->message;
  EXPECT_EQ(body, json::parse(R"({"model": "m",
    "messages": [{"role": "user", "content": "Hello Ada"}]})"));
  ASSERT_EQ(c.prompt, &cfg.prompts[0]);
  EXPECT_EQ(c.output, prompts::Output::object);
  // The decoded chat body is a chat request like any other.
  api::RequestFacts decoded;
  EXPECT_FALSE(api::openai_face().decode(api::Operation::chat, body, decoded));

  body = json::parse(R"({"variables": {}})");
  auto missing = ctx(prompt_route);
  missing.path = "/v1/prompts/greet";
  auto refused = run(p.run_prepare(missing));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->param, "variables.name");
  body = json::parse(R"({})");
  auto unknown = ctx(prompt_route);
  unknown.path = "/v1/prompts/nope";
  auto not_found = run(p.run_prepare(unknown));
  ASSERT_TRUE(not_found);
  EXPECT_EQ(not_found->code, "prompt_not_found");
}

TEST_F(Fixture, SessionLoadAppliesToARequestThatNamesASession) {
  auto stage = make_session_load_stage(Services{});
  auto c = ctx(chat);
  EXPECT_FALSE(stage->applies(c));
  c.session_id = "conv-1";
  EXPECT_TRUE(stage->applies(c));
  auto before = body;
  auto error = run(stage->run(c));
  ASSERT_TRUE(error) << "no store: the request cannot have its history";
  EXPECT_EQ(error->status, 503);
  EXPECT_EQ(error->code, "session_store_unavailable");
  EXPECT_EQ(body, before);
}

TEST_F(Fixture, CacheLookupAppliesToAModelWithACache) {
  auto stage = make_cache_lookup_stage(Services{});
  config::ModelConfig model;
  auto c = ctx(chat);
  c.model = &model;
  EXPECT_FALSE(stage->applies(c));
  model.cache = config::CacheConfig{};
  EXPECT_TRUE(stage->applies(c));
  EXPECT_FALSE(run(stage->run(c)));
}

// Built outside the coroutine (g++ 12 and aggregates of string literals in coroutine bodies).
api::GatewayError over_budget() {
  return api::GatewayError{429, "budget_exceeded", "rate_limit_error", "over budget", {}};
}

class Refuse final : public IngressStage {
public:
  explicit Refuse(int* ran) : ran_(ran) {}
  std::string_view name() const override { return "refuse"; }
  bool applies(const RequestContext&) const override { return true; }
  asio::awaitable<std::optional<api::GatewayError>> run(RequestContext&) override {
    ++*ran_;
    co_return over_budget();
  }

private:
  int* ran_;
};

class Count final : public ResponseTap {
public:
  explicit Count(std::vector<std::string>* seen, std::string n) : seen_(seen), n_(std::move(n)) {}
  std::string_view name() const override { return n_; }
  void on_response(const RequestContext& ctx) override {
    seen_->push_back(n_ + ":" + std::to_string(ctx.outcome->status));
  }

private:
  std::vector<std::string>* seen_;
  std::string n_;
};

TEST_F(Fixture, TheFirstStageThatRefusesEndsTheRunAndTapsSeeTheOutcomeInOrder) {
  Pipeline p;
  int first = 0;
  int second = 0;
  p.add(std::make_unique<Refuse>(&first));
  p.add(std::make_unique<Refuse>(&second));
  std::vector<std::string> seen;
  p.add(std::make_unique<Count>(&seen, "a"));
  p.add(std::make_unique<Count>(&seen, "b"));
  auto c = ctx(chat);
  ASSERT_TRUE(p.has_ingress_work(c));
  auto error = run(p.run_ingress(c));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status, 429);
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 0);
  router::CallOutcome outcome;
  outcome.status = 429;
  c.outcome = &outcome;
  p.run_taps(c);
  EXPECT_EQ(seen, (std::vector<std::string>{"a:429", "b:429"}));
}

}  // namespace
}  // namespace llmgw::pipeline
