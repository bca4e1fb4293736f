// Semantic health: the rule verdicts of a probe answer, and the prober's rounds turning into a
// routing verdict, in simulated time against a scripted upstream.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "fakes/manual_time.hpp"
#include "fakes/scripted_transport.hpp"
#include "llmgw/health/probe_check.hpp"
#include "llmgw/health/semantic_prober.hpp"

namespace llmgw::health {
namespace {

using namespace std::chrono_literals;
using fakes::Reply;
using nlohmann::json;

ProbeResult check(const config::ProbeExpect& e, std::string_view answer,
                  std::chrono::milliseconds latency = 10ms) {
  return check_answer(e, answer, latency);
}

TEST(ProbeCheck, RegexMatchesOrSaysWhatCameInstead) {
  config::ProbeExpect e;
  e.regex = R"(^\s*42\s*$)";
  EXPECT_EQ(check(e, "42").verdict, ProbeVerdict::pass);
  EXPECT_EQ(check(e, " 42\n").verdict, ProbeVerdict::pass);
  auto bad = check(e, "43");
  EXPECT_EQ(bad.verdict, ProbeVerdict::fail);
  EXPECT_EQ(bad.check, "regex");
  EXPECT_NE(bad.detail.find("\"43\""), std::string::npos) << bad.detail;
}

TEST(ProbeCheck, ContainsAndRefusalPhrases) {
  config::ProbeExpect e;
  e.contains = "Paris";
  e.not_contains = "I can't";
  EXPECT_EQ(check(e, "The capital is Paris.").verdict, ProbeVerdict::pass);
  EXPECT_EQ(check(e, "The capital is Lyon.").check, "contains");
  EXPECT_EQ(check(e, "I can't say, but Paris.").check, "not_contains");
}

TEST(ProbeCheck, LengthBounds) {
  config::ProbeExpect e;
  e.min_chars = 3;
  e.max_chars = 5;
  EXPECT_EQ(check(e, "").check, "min_chars");  // an empty answer
  EXPECT_EQ(check(e, "four").verdict, ProbeVerdict::pass);
  EXPECT_EQ(check(e, "too long").check, "max_chars");
}

TEST(ProbeCheck, JsonWithRequiredKeys) {
  config::ProbeExpect e;
  e.json = true;
  e.required_keys = {"ok"};
  EXPECT_EQ(check(e, R"({"ok": true})").verdict, ProbeVerdict::pass);
  EXPECT_EQ(check(e, R"({"ok": true)").check, "json");     // cut short
  EXPECT_EQ(check(e, R"({"fine": true})").check, "json");  // the key is missing
  EXPECT_EQ(check(e, R"([1, 2])").check, "json");          // not an object
}

TEST(ProbeCheck, SlowerThanMaxLatencyFailsWhateverItSays) {
  config::ProbeExpect e;
  e.max_latency = 500ms;
  EXPECT_EQ(check(e, "42", 499ms).verdict, ProbeVerdict::pass);
  EXPECT_EQ(check(e, "42", 501ms).check, "max_latency");
}

TEST(ProbeCheck, AnAnswerTooLongToMatchIsUnknownNotJudged) {
  config::ProbeExpect e;
  e.regex = "(a|b)*c";  // recursion per character in libstdc++: must not blow the stack
  std::string huge(1'000'000, 'a');
  auto r = check(e, huge);
  EXPECT_EQ(r.verdict, ProbeVerdict::unknown);
  EXPECT_EQ(r.check, "regex");
  // A valid JSON answer past the limit neither passes nor fails on `\}\s*$`.
  e.regex = R"(\}\s*$)";
  EXPECT_EQ(check(e, "{\"a\": \"" + std::string(2000, 'x') + "\"}").verdict, ProbeVerdict::unknown);
  EXPECT_EQ(check(e, "{\"a\": 1}").verdict, ProbeVerdict::pass);
  // max_chars still fails it, before the regex is tried.
  e.max_chars = 100;
  EXPECT_EQ(check(e, huge).check, "max_chars");
}

TEST(ProbeCheck, ExcerptsCutAtACharacterBoundary) {
  std::string text = "ab" + std::string("é") + "cd";  // é is two bytes
  EXPECT_EQ(excerpt(text, 3), "ab…");
  EXPECT_EQ(excerpt("short", 10), "short");
}

// An OpenAI-compatible chat answer saying `text`.
Reply says(const std::string& text) {
  return Reply::json(200, json{{"id", "c1"},
                               {"object", "chat.completion"},
                               {"model", "m"},
                               {"choices", json::array({{{"index", 0},
                                                         {"message", {{"role", "assistant"},
                                                                      {"content", text}}},
                                                         {"finish_reason", "stop"}}})},
                               {"usage", {{"prompt_tokens", 5}, {"completion_tokens", 1}}}}
                              .dump());
}

constexpr const char* kPrimary = "127.0.0.1:7";

// A judge or embeddings model: answers from a script, records what it was asked.
class FakeAsker : public ModelAsker {
public:
  struct Call {
    std::string model;
    providers::Operation op;
    json body;
    std::string avoid;
  };
  boost::asio::awaitable<common::Result<ModelAnswer, api::Failure>> ask(
      std::string model, providers::Operation op, json body, std::string avoid,
      upstream::Deadline) override {
    calls.push_back(Call{std::move(model), op, std::move(body), std::move(avoid)});
    if (!reply) {
      api::Failure f;
      f.cls = api::FailureClass::server_error;
      f.message = "judge down";
      co_return common::err(std::move(f));
    }
    ModelAnswer answer;
    answer.body = *reply;
    answer.provider = "judge-provider";
    answer.cost_usd = 0.5;
    co_return answer;
  }
  std::optional<std::string> reply;  // nullopt: the call fails
  std::vector<Call> calls;
};

// The OpenAI chat answer body of a judge saying `text`.
std::string judge_says(const std::string& text) {
  return json{{"choices", json::array({{{"index", 0},
                                        {"message", {{"role", "assistant"}, {"content", text}}},
                                        {"finish_reason", "stop"}}})}}
      .dump();
}

class Prober : public ::testing::Test {
 protected:
  Prober() {
    provider.name = "primary";
    provider.kind = config::ProviderKind::openai_compatible;
    provider.base_url = "http://127.0.0.1:7/v1";
    provider.url = *common::parse_url(provider.base_url);
    config::SemanticHealthConfig semantic;
    semantic.interval = 10s;
    semantic.model = "probe-model";
    semantic.probes = {"arithmetic"};
    semantic.unhealthy_after = 2;
    semantic.healthy_after = 2;
    provider.health.semantic = semantic;
    arithmetic.name = "arithmetic";
    arithmetic.prompt = "What is 17 + 25? Reply with the number only.";
    arithmetic.expect.regex = R"(^\s*42\s*$)";
    health = std::make_shared<TargetHealth>(provider);
  }

  void start(config::Price price = {}) {
    probers.sync({ProbeTarget{provider, {arithmetic}, providers::make_adapter(provider.kind),
                              health, HealthRegistry::identity(provider), price}});
  }

  bool healthy() { return health->snapshot(time.now()).semantic_healthy.value_or(false); }

  // Runs the control loop in simulated time until `done` or `limit` has passed; returns the
  // simulated time that took.
  template <class Done>
  std::chrono::nanoseconds run_until(Done done, std::chrono::nanoseconds limit) {
    auto start_at = time.now();
    for (;;) {
      ctx.restart();
      ctx.poll();
      if (done() || time.now() - start_at > limit || !time.advance_to_next()) {
        return time.now() - start_at;
      }
    }
  }

  boost::asio::io_context ctx;
  fakes::ManualTime time;
  fakes::ScriptedTransport transport{time};
  FakeAsker asker;
  std::vector<std::string> reports;  // "probe:verdict:rule"
  SemanticProbers probers{ctx, transport,
                          ProbeObserver{[this](const ProbeReport& r) {
                                          reports.push_back(
                                              r.probe + ":" +
                                              std::string(to_string(r.result.verdict)) + ":" +
                                              r.result.check);
                                          cost += r.cost_usd;
                                        },
                                        [this](const BudgetReport& r) {
                                          budget.push_back(r.paused ? "paused" : "resumed");
                                        }},
                          ProberEnvironment{&time, &time, 42, &asker}};
  double cost = 0;
  std::vector<std::string> budget;
  config::ProviderConfig provider;
  config::ProbeConfig arithmetic;
  std::shared_ptr<TargetHealth> health;
};

TEST_F(Prober, SendsTheProbeToTheProvidersSemanticModel) {
  transport.script(kPrimary, {says("42")});
  start();
  run_until([&] { return !reports.empty(); }, 30s);
  ASSERT_EQ(transport.sent().size(), 1u);
  auto body = json::parse(transport.sent()[0].body);
  EXPECT_EQ(body["model"], "probe-model");
  EXPECT_EQ(body["messages"].back()["content"], arithmetic.prompt);
  EXPECT_EQ(body["temperature"], 0);
  EXPECT_EQ(reports, std::vector<std::string>{"arithmetic:pass:"});
  EXPECT_TRUE(healthy());
  EXPECT_TRUE(health->peek(time.now()).routable);
}

TEST_F(Prober, WrongAnswersTakeTheTargetOutWithinTwoIntervalsAndRightOnesBringItBack) {
  transport.script(kPrimary, {says("43")});
  start();
  auto took = run_until([&] { return !healthy(); }, 60s);
  EXPECT_FALSE(healthy());
  EXPECT_LE(took, 20s) << "unhealthy_after: 2 at a 10s interval";
  EXPECT_EQ(transport.sent().size(), 2u);
  auto verdict = health->peek(time.now());
  EXPECT_FALSE(verdict.routable);
  EXPECT_NE(verdict.reason.find("semantic probes failing"), std::string::npos) << verdict.reason;
  EXPECT_NE(verdict.reason.find("\"43\""), std::string::npos) << verdict.reason;
  EXPECT_NE(health->snapshot(time.now()).semantic_last_failure.find("probe arithmetic: regex"),
            std::string::npos);

  transport.rescript(kPrimary, {says("42")});
  took = run_until([&] { return healthy(); }, 60s);
  EXPECT_TRUE(healthy());
  EXPECT_GT(took, 10s) << "healthy_after: 2 needs a second passing round";
  EXPECT_LE(took, 23s);
  EXPECT_TRUE(health->peek(time.now()).routable);
}

TEST_F(Prober, NoAnswerAtAllIsUnknownAndChangesNothing) {
  transport.script(kPrimary, {Reply::json(503, R"({"error":{"message":"busy"}})")});
  start();
  run_until([&] { return reports.size() >= 4; }, 120s);
  ASSERT_GE(reports.size(), 4u);
  EXPECT_EQ(reports[0], "arithmetic:unknown:server_error");
  EXPECT_TRUE(healthy()) << "a 503 is the active and passive checks' business";
}

TEST_F(Prober, AnEmptyTwoHundredIsABadAnswer) {
  transport.script(kPrimary, {Reply::json(200, "")});
  start();
  run_until([&] { return !healthy(); }, 60s);
  EXPECT_FALSE(healthy());
  EXPECT_EQ(reports.at(0), "arithmetic:fail:bad_response");
}

TEST_F(Prober, AProbeSlowerThanMaxLatencyFails) {
  arithmetic.expect.max_latency = 2s;
  transport.script(kPrimary, {Reply::hanging()});
  start();
  run_until([&] { return !healthy(); }, 60s);
  EXPECT_FALSE(healthy());
  EXPECT_EQ(reports.at(0), "arithmetic:fail:max_latency");
}

TEST_F(Prober, AnAnswerOfTheWrongShapeFailsAndProbingGoesOn) {
  // Passes the adapter's check (a `choices` array) but is no chat answer.
  transport.script(kPrimary, {Reply::json(200, R"({"id":"c1","object":"chat.completion",)"
                                               R"("model":"m","choices":[1]})")});
  start();
  run_until([&] { return reports.size() >= 3; }, 60s);
  ASSERT_GE(reports.size(), 3u) << "the prober kept running";
  EXPECT_EQ(reports[0], "arithmetic:fail:regex");
  EXPECT_FALSE(healthy());
}

TEST_F(Prober, StoppedProbersSendNothingMore) {
  transport.script(kPrimary, {says("42")});
  start();
  run_until([&] { return reports.size() >= 2; }, 60s);
  probers.sync({});
  auto sent = transport.sent().size();
  run_until([] { return false; }, 60s);
  EXPECT_EQ(transport.sent().size(), sent);
}

TEST_F(Prober, ATemplatedProbeAsksANewQuestionEveryRoundAndChecksItsOwnAnswer) {
  arithmetic.prompt = "What is {{a}} + {{b}}?";
  arithmetic.expect.regex = R"(^\s*{{a+b}}\s*$)";
  transport.script(kPrimary, {says("7")});  // values are 10..99: never their sum
  start();
  run_until([&] { return reports.size() >= 3; }, 60s);
  ASSERT_GE(transport.sent().size(), 3u);
  std::set<std::string> prompts;
  for (const auto& sent : transport.sent()) {
    auto prompt = json::parse(sent.body)["messages"].back()["content"].get<std::string>();
    EXPECT_EQ(prompt.find("{{"), std::string::npos) << prompt;
    prompts.insert(prompt);
  }
  EXPECT_GE(prompts.size(), 2u) << "the question rotates";
  auto failure = health->snapshot(time.now()).semantic_last_failure;
  EXPECT_EQ(failure.find("{{"), std::string::npos) << failure;
  EXPECT_NE(failure.find("does not match \"7\""), std::string::npos) << failure;
}

TEST_F(Prober, ProbesAreCostedAndPauseForTheDayPastMaxUsdPerDay) {
  // says(): 5 prompt + 1 completion tokens; at $1,000,000 per million each probe costs $5 + $2.
  provider.health.semantic->max_usd_per_day = 20;
  transport.script(kPrimary, {says("42")});
  start(config::Price{1'000'000, 2'000'000});
  run_until([&] { return !budget.empty(); }, 300s);
  EXPECT_EQ(transport.sent().size(), 3u) << "$7 a probe: the third passes $20";
  EXPECT_DOUBLE_EQ(cost, 21.0);
  EXPECT_EQ(budget, std::vector<std::string>{"paused"});
  // Nothing more for the rest of the day...
  run_until([] { return false; }, std::chrono::hours(23));
  EXPECT_EQ(transport.sent().size(), 3u);
  // ...then a new day's budget.
  run_until([&] { return transport.sent().size() > 3; }, std::chrono::hours(2));
  EXPECT_GT(transport.sent().size(), 3u);
  EXPECT_EQ(budget, (std::vector<std::string>{"paused", "resumed"}));
  EXPECT_TRUE(healthy()) << "a paused prober keeps the last verdict";
}

TEST_F(Prober, AJudgeGradesAnswersThatKeepTheRulesAndNeverGradesItsOwnProvider) {
  arithmetic.expect.judge = config::JudgeConfig{"grader", "Is the sum right?", 7};
  transport.script(kPrimary, {says("42")});
  asker.reply = judge_says(R"({"score": 2, "reason": "wrong"})");
  start();
  run_until([&] { return !healthy(); }, 60s);
  EXPECT_FALSE(healthy());
  ASSERT_FALSE(asker.calls.empty());
  const auto& call = asker.calls[0];
  EXPECT_EQ(call.model, "grader");
  EXPECT_EQ(call.avoid, "primary") << "a provider is never its own judge";
  EXPECT_EQ(call.op, providers::Operation::chat);
  auto system = call.body["messages"][0]["content"].get<std::string>();
  EXPECT_EQ(system.rfind(kJudgePreamble, 0), 0u) << system;
  EXPECT_NE(system.find("Rubric: Is the sum right?"), std::string::npos);
  EXPECT_EQ(call.body["messages"][1]["content"],
            "Question:\n" + arithmetic.prompt + "\n\nAnswer:\n42");
  EXPECT_EQ(reports.at(0), "arithmetic:fail:judge");
  EXPECT_NE(health->snapshot(time.now()).semantic_last_failure.find("graded 2.0/10"),
            std::string::npos);
  // A good grade brings it back; the judge's cost is the probe's.
  asker.reply = judge_says(R"({"score": 9})");
  run_until([&] { return healthy(); }, 60s);
  EXPECT_TRUE(healthy());
}

TEST_F(Prober, AnAnswerThatBreaksARuleIsNotSentToTheJudge) {
  arithmetic.expect.judge = config::JudgeConfig{"grader", "r", 7};
  transport.script(kPrimary, {says("43")});
  asker.reply = judge_says(R"({"score": 10})");
  start();
  run_until([&] { return !healthy(); }, 60s);
  EXPECT_FALSE(healthy());
  EXPECT_TRUE(asker.calls.empty());
  EXPECT_EQ(reports.at(0), "arithmetic:fail:regex");
}

TEST_F(Prober, AJudgeThatCannotAnswerOrGradeMakesTheProbeUnknownNotFailed) {
  arithmetic.expect.judge = config::JudgeConfig{"grader", "r", 7};
  transport.script(kPrimary, {says("42")});
  asker.reply = std::nullopt;  // the judge's calls fail
  start();
  run_until([&] { return reports.size() >= 3; }, 60s);
  ASSERT_GE(reports.size(), 3u);
  EXPECT_EQ(reports[0], "arithmetic:unknown:judge");
  asker.reply = judge_says("I would rather not say.");  // an answer with no grade
  run_until([&] { return reports.size() >= 6; }, 60s);
  EXPECT_EQ(reports.back(), "arithmetic:unknown:judge");
  EXPECT_TRUE(healthy());
}

TEST_F(Prober, SimilarToComparesTheAnswerWithTheReferenceThroughEmbeddings) {
  arithmetic.expect.regex.reset();
  arithmetic.expect.similar_to = config::SimilarConfig{"Paris is the capital.", 0.8, "embed"};
  transport.script(kPrimary, {says("Lyon")});
  // cos([1,0],[0.6,0.8]) = 0.6: dissimilar.
  asker.reply = R"({"data":[{"embedding":[1,0]},{"embedding":[0.6,0.8]}]})";
  start();
  run_until([&] { return !healthy(); }, 60s);
  EXPECT_FALSE(healthy());
  ASSERT_FALSE(asker.calls.empty());
  EXPECT_EQ(asker.calls[0].op, providers::Operation::embeddings);
  EXPECT_EQ(asker.calls[0].avoid, "primary");
  EXPECT_EQ(asker.calls[0].body["input"], json::array({"Lyon", "Paris is the capital."}));
  EXPECT_EQ(reports.at(0), "arithmetic:fail:similar_to");
  asker.reply = R"({"data":[{"embedding":[1,0]},{"embedding":[0.9,0.1]}]})";
  run_until([&] { return healthy(); }, 60s);
  EXPECT_TRUE(healthy());
}

TEST_F(Prober, ProbeRequestsCarryTheProbesSettings) {
  config::ProbeConfig p;
  p.prompt = "Return a JSON object with key ok set to true.";
  p.system = "You are terse.";
  p.response_format = "json_object";
  p.max_tokens = 20;
  p.temperature = 0.5;
  auto body = probe_request(p, "gpt-4o-mini");
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][1]["content"], p.prompt);
  EXPECT_EQ(body["response_format"]["type"], "json_object");
  EXPECT_EQ(body["max_tokens"], 20);
  EXPECT_EQ(body["stream"], false);
}

}  // namespace
}  // namespace llmgw::health
