// Live-traffic semantic signals: the detectors, the window and its thresholds, the baseline of
// tokens per second, and what a breach does to the target (degraded or ejected).
#include <gtest/gtest.h>

#include "llmgw/common/clock.hpp"
#include "llmgw/health/live_signals.hpp"
#include "llmgw/health/target_health.hpp"

namespace llmgw::health {
namespace {

using namespace std::chrono_literals;

AnswerFacts said(std::string_view text, std::string_view finish = "stop") {
  AnswerFacts f;
  f.text = text;
  f.finish_reason = finish;
  return f;
}

std::string loop() {
  std::string s;
  for (int i = 0; i < 40; ++i) {
    s += "and then the answer is ";
  }
  return s;
}

constexpr std::string_view kProse =
    "The capital of France is Paris. It sits on the Seine, has about two million people in the "
    "city proper, and has been the country's political centre since the Middle Ages.";

TEST(Inspect, EmptyUnlessItCallsATool) {
  EXPECT_TRUE(inspect(said("")).has(Signal::empty));
  EXPECT_TRUE(inspect(said(" \n")).has(Signal::empty));
  auto tool = said("");
  tool.tool_call = true;
  EXPECT_FALSE(inspect(tool).any());
  EXPECT_FALSE(inspect(said(kProse)).any());
}

TEST(Inspect, RunawayRepetitionButNotProse) {
  EXPECT_GT(repeated_ngram_share(loop()), 0.9);
  EXPECT_LT(repeated_ngram_share(kProse), 0.05);
  EXPECT_TRUE(inspect(said(loop())).has(Signal::repetition));
  EXPECT_FALSE(inspect(said("yes yes yes yes")).has(Signal::repetition)) << "too short to judge";
}

TEST(Inspect, InvalidJsonOnlyWhenJsonWasAskedFor) {
  auto f = said("Sure! Here is the JSON: {\"ok\": true}");
  EXPECT_FALSE(inspect(f).has(Signal::invalid_json));
  f.json_requested = true;
  EXPECT_TRUE(inspect(f).has(Signal::invalid_json));
  f.text = R"({"ok": true})";
  EXPECT_FALSE(inspect(f).any());
}

TEST(Inspect, RefusalsOpenTheAnswer) {
  EXPECT_TRUE(looks_like_refusal("I'm sorry, but I can't help with that."));
  EXPECT_TRUE(looks_like_refusal("  I cannot assist with this request."));
  EXPECT_TRUE(looks_like_refusal("As an AI language model, I won't do that."));
  EXPECT_FALSE(looks_like_refusal("I'm sorry to hear that! Here is how to reset it."));
  EXPECT_FALSE(looks_like_refusal("Paris. (I'm sorry if you expected Lyon.)"));
  EXPECT_FALSE(looks_like_refusal(kProse));
}

TEST(Inspect, FinishReasons) {
  EXPECT_TRUE(inspect(said(kProse, "length")).has(Signal::finish_length));
  EXPECT_TRUE(inspect(said("", "content_filter")).has(Signal::content_filter));
  EXPECT_FALSE(inspect(said(kProse, "tool_calls")).any());
}

config::LiveSignalsConfig cfg(unsigned min_answers = 10) {
  config::LiveSignalsConfig c;
  c.window = 60s;
  c.min_answers = min_answers;
  c.refusal = 0.3;
  return c;
}

TEST(LiveSignalsWindow, NothingIsJudgedBeforeMinAnswers) {
  common::ManualClock clock;
  LiveSignals s(cfg(10));
  for (int i = 0; i < 9; ++i) {
    s.record(clock.now(), said("I'm sorry, but I can't help with that."));
  }
  EXPECT_FALSE(s.breach(clock.now()));
  s.record(clock.now(), said(kProse));
  auto breach = s.breach(clock.now());
  ASSERT_TRUE(breach);
  EXPECT_EQ(breach->signal, Signal::refusal);
  EXPECT_EQ(breach->describe(), "90% of recent answers refusal (threshold 30%)");
}

TEST(LiveSignalsWindow, AShareAtTheThresholdIsNotOverItAndTheWindowForgets) {
  common::ManualClock clock;
  LiveSignals s(cfg(10));
  for (int i = 0; i < 7; ++i) {
    s.record(clock.now(), said(kProse));
  }
  for (int i = 0; i < 3; ++i) {
    s.record(clock.now(), said("I cannot do that."));
  }
  EXPECT_FALSE(s.breach(clock.now())) << "30% is not over 30%";
  s.record(clock.now(), said("I cannot do that."));
  EXPECT_TRUE(s.breach(clock.now()));
  EXPECT_NEAR(s.shares(clock.now())[static_cast<std::size_t>(Signal::refusal)], 4.0 / 11, 1e-9);
  clock.advance(61s);
  EXPECT_EQ(s.answers(clock.now()), 0u);
  EXPECT_FALSE(s.breach(clock.now()));
}

TEST(LiveSignalsWindow, TokensFarBelowTheTargetsOwnBaselineAreSlow) {
  common::ManualClock clock;
  LiveSignals s(cfg(10));
  auto at = [](double rate) {
    auto f = said(kProse);
    f.tokens_per_second = rate;
    return f;
  };
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(s.record(clock.now(), at(100)).has(Signal::slow_tokens)) << "no baseline yet";
  }
  EXPECT_NEAR(s.baseline_tokens_per_second(), 100, 1e-9);
  EXPECT_FALSE(s.record(clock.now(), at(30)).has(Signal::slow_tokens)) << "30% of baseline";
  EXPECT_TRUE(s.record(clock.now(), at(10)).has(Signal::slow_tokens)) << "10% of baseline";
}

TEST(LiveSignalsWindow, ALowMeanRatingIsABreachOnceThereAreEnoughRatings) {
  common::ManualClock clock;
  auto c = cfg(10);
  c.feedback_below = -0.2;
  c.min_feedback = 3;
  LiveSignals s(c);
  s.record_feedback(clock.now(), -1);
  s.record_feedback(clock.now(), -1);
  EXPECT_FALSE(s.breach(clock.now())) << "two ratings are not enough";
  s.record_feedback(clock.now(), 1);
  auto breach = s.breach(clock.now());
  ASSERT_TRUE(breach) << "mean -0.33 is below -0.2";
  EXPECT_TRUE(breach->feedback);
  EXPECT_EQ(breach->describe(), "mean feedback -0.33 over 3 ratings (below -0.20)");
  s.record_feedback(clock.now(), 1);
  EXPECT_FALSE(s.breach(clock.now())) << "mean 0 is not";
  s.record_feedback(clock.now(), -5);  // clamped to -1
  EXPECT_NEAR(s.feedback(clock.now()).second, -0.2, 1e-9);
  clock.advance(61s);
  EXPECT_EQ(s.feedback(clock.now()).first, 0u);
}

config::ProviderConfig watched(config::LiveSignalsConfig::Action action) {
  config::ProviderConfig p;
  p.name = "primary";
  config::SemanticHealthConfig sem;
  sem.signals = cfg(10);
  sem.signals->action = action;
  p.health.semantic = sem;
  return p;
}

TEST(TargetHealthSignals, ADegradedTargetStaysRoutableAndSaysWhy) {
  common::ManualClock clock;
  std::vector<std::string> events;
  auto sink = std::make_shared<const HealthEventSink>(
      [&](const HealthEvent& e) { events.push_back(std::string(e.kind) + ": " + e.reason); });
  TargetHealth h(watched(config::LiveSignalsConfig::Action::degrade), sink);
  EXPECT_TRUE(h.watches_answers());
  EXPECT_FALSE(h.snapshot(clock.now()).semantic_healthy) << "no probes: no probe verdict";
  for (int i = 0; i < 10; ++i) {
    h.record_answer(clock.now(), said(""));
  }
  auto v = h.peek(clock.now());
  EXPECT_TRUE(v.routable);
  EXPECT_TRUE(v.degraded);
  EXPECT_NE(v.reason.find("100% of recent answers empty"), std::string::npos) << v.reason;
  EXPECT_TRUE(h.try_admit(clock.now()).degraded) << "the lock-free path must not hide it";
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].rfind("signals_degraded: ", 0), 0u) << events[0];
  auto snap = h.snapshot(clock.now());
  ASSERT_TRUE(snap.signals);
  EXPECT_EQ(snap.signals->answers, 10u);
  EXPECT_FALSE(snap.signals->breach.empty());
  // The window moves on: clean again, by time alone.
  clock.advance(61s);
  v = h.peek(clock.now());
  EXPECT_TRUE(v.routable);
  EXPECT_FALSE(v.degraded);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].rfind("signals_recovered", 0), 0u);
}

TEST(TargetHealthSignals, ABreachThatBeginsByTimeAloneIsSeen) {
  common::ManualClock clock;
  TargetHealth h(watched(config::LiveSignalsConfig::Action::degrade));
  for (int i = 0; i < 40; ++i) {
    h.record_answer(clock.now(), said(kProse));
  }
  clock.advance(30s);
  for (int i = 0; i < 10; ++i) {
    h.record_answer(clock.now(), said(""));
  }
  EXPECT_FALSE(h.peek(clock.now()).degraded) << "10 of 50 empty: 20% is not over 20%";
  clock.advance(31s);  // the clean answers leave the window; nothing is recorded
  EXPECT_TRUE(h.peek(clock.now()).degraded) << "10 of 10 empty";
  EXPECT_TRUE(h.try_admit(clock.now()).degraded);
}

TEST(LiveSignalsWindow, ASustainedSlowdownStaysFlagged) {
  common::ManualClock clock;
  auto c = cfg(10);
  c.window = std::chrono::hours(1);
  LiveSignals s(c);
  auto at = [](double rate) {
    auto f = said(kProse);
    f.tokens_per_second = rate;
    return f;
  };
  for (int i = 0; i < 50; ++i) {
    s.record(clock.now(), at(100));
  }
  int flagged = 0;
  for (int i = 0; i < 300; ++i) {
    flagged += s.record(clock.now(), at(20)).has(Signal::slow_tokens) ? 1 : 0;
  }
  EXPECT_EQ(flagged, 300) << "a 5x slowdown must not teach the baseline to accept it soon";
  auto breach = s.breach(clock.now());
  ASSERT_TRUE(breach);
  EXPECT_EQ(breach->signal, Signal::slow_tokens);
}

TEST(TargetHealthSignals, EjectTakesTheTargetOutOfRouting) {
  common::ManualClock clock;
  TargetHealth h(watched(config::LiveSignalsConfig::Action::eject));
  for (int i = 0; i < 10; ++i) {
    h.record_answer(clock.now(), said(loop()));
  }
  auto v = h.peek(clock.now());
  EXPECT_FALSE(v.routable);
  EXPECT_FALSE(v.hard) << "a last resort still";
  EXPECT_NE(v.reason.find("live answers: 100% of recent answers repetition"), std::string::npos)
      << v.reason;
}

TEST(TargetHealthSignals, UnwatchedTargetsRecordNothing) {
  common::ManualClock clock;
  config::ProviderConfig p;
  p.name = "plain";
  TargetHealth h(p);
  EXPECT_FALSE(h.watches_answers());
  EXPECT_FALSE(h.record_answer(clock.now(), said("")).any());
  EXPECT_FALSE(h.snapshot(clock.now()).signals);
}

}  // namespace
}  // namespace llmgw::health
