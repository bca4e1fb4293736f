// The session protocol's pure parts: system context order, history joining, overlap
// detection, system messages kept once, transcripts.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "llmgw/session/protocol.hpp"

namespace llmgw::session {
namespace {

using nlohmann::json;

json msg(const char* role, const char* content) { return json{{"role", role}, {"content", content}}; }

Session stored_of(std::vector<json> messages, std::string summary = {}) {
  Session s;
  for (const auto& m : messages) {
    s.messages.push_back(m.dump());
  }
  s.summary = std::move(summary);
  return s;
}

std::vector<std::string> lines(const json& body) {
  std::vector<std::string> out;
  for (const auto& m : body["messages"]) {
    out.push_back(m["role"].get<std::string>() + ":" + content_text(m));
  }
  return out;
}

TEST(SessionProtocol, IdsAreBoundedAndPlain) {
  EXPECT_TRUE(valid_session_id("conv-1_a.b:c"));
  EXPECT_FALSE(valid_session_id(""));
  EXPECT_FALSE(valid_session_id("a b"));
  EXPECT_FALSE(valid_session_id("a/b"));
  EXPECT_FALSE(valid_session_id(std::string(129, 'a')));
  EXPECT_TRUE(valid_session_id(std::string(128, 'a')));
}

TEST(SessionProtocol, GatewaySystemOrderIsPromptPersonaProfile) {
  EXPECT_EQ(gateway_system("S", "P", "U"), "S\n\nP\n\nU");
  EXPECT_EQ(gateway_system("", "P", ""), "P");
  EXPECT_EQ(gateway_system("", "", ""), "");
}

TEST(SessionProtocol, ANewSessionKeepsTheRequestAndStoresItsTurns) {
  json body{{"messages", {msg("system", "Be brief."), msg("user", "hi")}}};
  auto joined = join_history(body, nullptr, "GW");
  EXPECT_EQ(lines(body), (std::vector<std::string>{"system:GW\n\nBe brief.", "user:hi"}));
  ASSERT_EQ(joined.to_store.size(), 2u);
  EXPECT_EQ(json::parse(joined.to_store[0]), msg("system", "Be brief."));
  EXPECT_EQ(json::parse(joined.to_store[1]), msg("user", "hi"));
}

TEST(SessionProtocol, StoredTurnsComeBeforeTheNewOnes) {
  auto stored = stored_of({msg("system", "Be brief."), msg("user", "one"),
                           msg("assistant", "1")}, "they said hello");
  json body{{"messages", {msg("user", "two")}}};
  auto joined = join_history(body, &stored, "GW");
  EXPECT_EQ(lines(body), (std::vector<std::string>{
                             "system:GW\n\nBe brief.",
                             "system:Summary of the earlier conversation: they said hello",
                             "user:one", "assistant:1", "user:two"}));
  EXPECT_EQ(joined.history_begin, 2u);
  EXPECT_EQ(joined.history, 2u);
  EXPECT_EQ(joined.overlap, 0u);
  ASSERT_EQ(joined.to_store.size(), 1u);
}

TEST(SessionProtocol, TheSameSystemMessageSentAgainIsNotStoredTwice) {
  auto stored = stored_of({msg("system", "Be brief."), msg("user", "one"), msg("assistant", "1")});
  json body{{"messages", {msg("system", "Be brief."), msg("user", "two")}}};
  auto joined = join_history(body, &stored, "");
  EXPECT_EQ(lines(body)[0], "system:Be brief.");
  ASSERT_EQ(joined.to_store.size(), 1u);
  EXPECT_EQ(json::parse(joined.to_store[0]), msg("user", "two"));
}

TEST(SessionProtocol, ANewSystemMessageReplacesTheStoredOneInsteadOfPilingUp) {
  auto stored = stored_of({msg("system", "time 1"), msg("user", "one"), msg("assistant", "1"),
                           msg("system", "time 2"), msg("user", "two"), msg("assistant", "2")});
  json without{{"messages", {msg("user", "three")}}};
  join_history(without, &stored, "GW");
  EXPECT_EQ(lines(without)[0], "system:GW\n\ntime 2") << "the last one stored goes on";
  json with{{"messages", {msg("system", "time 3"), msg("user", "three")}}};
  auto joined = join_history(with, &stored, "GW");
  EXPECT_EQ(lines(with)[0], "system:GW\n\ntime 3");
  EXPECT_EQ(lines(with).size(), 6u);
  ASSERT_EQ(joined.to_store.size(), 2u);
  EXPECT_EQ(json::parse(joined.to_store[0]), msg("system", "time 3"));
}

TEST(SessionProtocol, AClientSendingTheWholeHistoryIsNotDoubled) {
  auto stored = stored_of({msg("user", "one"), msg("assistant", "1")});
  json parts = json::array({json{{"type", "text"}, {"text", "o"}}, json{{"type", "text"}, {"text", "ne"}}});
  json body{{"messages",
             {json{{"role", "user"}, {"content", parts}},
              json{{"role", "assistant"}, {"content", "1"}, {"refusal", nullptr}},
              msg("user", "two")}}};
  auto joined = join_history(body, &stored, "");
  EXPECT_EQ(lines(body), (std::vector<std::string>{"user:one", "assistant:1", "user:two"}));
  EXPECT_EQ(joined.overlap, 2u);
  ASSERT_EQ(joined.to_store.size(), 1u);
}

TEST(SessionProtocol, AClientWindowThatEndsTheHistoryOverlapsToo) {
  auto stored = stored_of({msg("user", "one"), msg("assistant", "1"), msg("user", "two"),
                           msg("assistant", "2")});
  json body{{"messages", {msg("user", "two"), msg("assistant", "2"), msg("user", "three")}}};
  auto joined = join_history(body, &stored, "");
  EXPECT_EQ(joined.overlap, 2u);
  EXPECT_EQ(lines(body).size(), 5u);
}

TEST(SessionProtocol, AFullHistoryClientIsNotDoubledAfterASummary) {
  // Turns one and 1 were summarised away; the client still sends everything.
  auto stored = stored_of({msg("user", "two"), msg("assistant", "2")}, "one and 1");
  json body{{"messages", {msg("user", "one"), msg("assistant", "1"), msg("user", "two"),
                          msg("assistant", "2"), msg("user", "three")}}};
  auto joined = join_history(body, &stored, "");
  EXPECT_EQ(joined.overlap, 4u);
  ASSERT_EQ(joined.to_store.size(), 1u);
  EXPECT_EQ(json::parse(joined.to_store[0]), msg("user", "three"));
  EXPECT_EQ(lines(body).back(), "user:three");
  EXPECT_EQ(lines(body).size(), 4u);  // summary, two, 2, three
}

TEST(SessionProtocol, OverlapMatchingIsLinearOnAHostileHistory) {
  // [a, a, ..., a, b] stored, [a, a, ..., a] sent: a quadratic match took seconds.
  Session stored;
  json sent = json::array();
  for (int i = 0; i < 20000; ++i) {
    stored.messages.push_back(msg("user", "a").dump());
    sent.push_back(msg("user", "a"));
  }
  stored.messages.push_back(msg("user", "b").dump());
  json body{{"messages", sent}};
  const auto t0 = std::chrono::steady_clock::now();
  auto joined = join_history(body, &stored, "");
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(joined.overlap, 0u);
  EXPECT_LT(took, std::chrono::seconds(2));  // ~0.1 s; the quadratic match took minutes
}

TEST(SessionProtocol, StoreKeysAreScopedByOwner) {
  EXPECT_EQ(store_key("", "conv"), "conv");
  EXPECT_NE(store_key("team-a", "conv"), store_key("team-b", "conv"));
  EXPECT_TRUE(store_key("team-a", "conv").ends_with(":conv"));
}

TEST(SessionProtocol, ToolCallsCompareByIdNameAndArguments) {
  json call{{"id", "c1"}, {"type", "function"},
            {"function", {{"name", "f"}, {"arguments", "{}"}}}};
  json a{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", {call}}};
  json b = a;
  b["tool_calls"][0]["extra_content"] = json{{"google", {{"thought_signature", "x"}}}};
  EXPECT_TRUE(same_turn(a, b));
  b["tool_calls"][0]["function"]["arguments"] = "{\"x\":1}";
  EXPECT_FALSE(same_turn(a, b));
  EXPECT_FALSE(same_turn(msg("user", "x"), msg("assistant", "x")));
}

TEST(SessionProtocol, InjectSystemMergesIntoTheClientsSystemMessage) {
  json body{{"messages", {msg("system", "Be brief."), msg("user", "hi")}}};
  inject_system(body, "GW");
  EXPECT_EQ(lines(body), (std::vector<std::string>{"system:GW\n\nBe brief.", "user:hi"}));
  json plain{{"messages", {msg("user", "hi")}}};
  inject_system(plain, "GW");
  EXPECT_EQ(lines(plain), (std::vector<std::string>{"system:GW", "user:hi"}));
  inject_system(plain, "");
  EXPECT_EQ(lines(plain).size(), 2u);
}

TEST(SessionProtocol, ACompactionDropsSummarisedTurnsAndKeepsStoredSystemMessages) {
  auto stored = stored_of({msg("user", "one"), msg("system", "Be brief."), msg("assistant", "1"),
                           msg("user", "two"), msg("assistant", "2")});
  json body{{"messages", {msg("user", "three")}}};
  auto joined = join_history(body, &stored, "");
  EXPECT_EQ(joined.history_at, (std::vector<std::size_t>{0, 2, 3, 4}));
  ASSERT_TRUE(joined.last_system);
  EXPECT_EQ(joined.last_system->first, 1u);
  auto change = compaction(joined, 2, "they counted", {R"({"n":3})"});
  EXPECT_EQ(change.drop_first, 3u);  // user one, the system message, assistant 1
  ASSERT_EQ(change.messages.size(), 2u);
  EXPECT_EQ(json::parse(change.messages[0]), msg("system", "Be brief."));
  EXPECT_EQ(change.messages[1], R"({"n":3})");
  EXPECT_EQ(change.summary, "they counted");
  auto none = compaction(joined, 0, "", {R"({"n":3})"});
  EXPECT_EQ(none.drop_first, 0u);
  EXPECT_FALSE(none.summary);
  EXPECT_EQ(compaction(joined, 9, "x", {}).drop_first, 0u) << "more than stored: no compaction";
}

TEST(SessionProtocol, TranscriptIsOpenAIShapeWithMetadata) {
  auto s = stored_of({msg("user", "one"), msg("assistant", "1")}, "sum");
  s.meta.owner = "team-a";
  s.meta.created_ms = 1'700'000'000'123;
  s.meta.last_provider = "p";
  auto t = json::parse(transcript("conv", s));
  EXPECT_EQ(t["id"], "conv");
  EXPECT_EQ(t["object"], "session");
  EXPECT_EQ(t["created"], 1'700'000'000);
  EXPECT_EQ(t["messages"][1], msg("assistant", "1"));
  EXPECT_EQ(t["summary"], "sum");
}

}  // namespace
}  // namespace llmgw::session
