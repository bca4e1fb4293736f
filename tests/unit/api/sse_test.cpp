#include "llmgw/api/sse.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace llmgw::api {
namespace {

std::vector<SseEvent> decode_split(std::string_view text, std::size_t split) {
  SseDecoder d;
  std::vector<SseEvent> out;
  auto sink = [&](const SseEvent& e) { out.push_back(e); };
  EXPECT_TRUE(d.feed(text.substr(0, split), sink));
  EXPECT_TRUE(d.feed(text.substr(split), sink));
  return out;
}

std::vector<SseEvent> decode_bytewise(std::string_view text) {
  SseDecoder d;
  std::vector<SseEvent> out;
  for (char c : text) {
    d.feed(std::string_view(&c, 1), [&](const SseEvent& e) { out.push_back(e); });
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SseDecoder, ParsesFieldsAndJoinsDataLines) {
  auto events = decode_split("event: message_start\ndata: {\"a\":1}\ndata: x\nid: 7\n\n", 0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "message_start");
  EXPECT_EQ(events[0].data, "{\"a\":1}\nx");
  EXPECT_EQ(events[0].id, "7");
}

TEST(SseDecoder, IgnoresCommentsAndEventsWithoutData) {
  auto events = decode_split(": keep-alive\n\nevent: ping\n\ndata: [DONE]\n\n", 3);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "[DONE]");
  EXPECT_EQ(events[0].event, "");  // the ping had no data, so it did not leak its name
}

TEST(SseDecoder, AcceptsCrLfAndBareCrLineEnds) {
  std::string crlf = "data: a\r\n\r\ndata: b\r\rdata: c\n\n";
  for (std::size_t i = 0; i <= crlf.size(); ++i) {
    auto events = decode_split(crlf, i);
    ASSERT_EQ(events.size(), 3u) << "split at " << i;
    EXPECT_EQ(events[0].data, "a");
    EXPECT_EQ(events[1].data, "b");
    EXPECT_EQ(events[2].data, "c");
  }
}

TEST(SseDecoder, StripsOnlyOneLeadingSpace) {
  auto events = decode_split("data:  two\n\ndata:none\n\n", 0);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, " two");
  EXPECT_EQ(events[1].data, "none");
}

TEST(SseDecoder, RejectsOversizeEvents) {
  SseDecoder d(16);
  bool ok = d.feed("data: 0123456789abcdefghij\n\n", [](const SseEvent&) {});
  EXPECT_FALSE(ok);
}

TEST(SseDecoder, ReportsPartialEventAtEnd) {
  SseDecoder d;
  d.feed("data: {\"x\"", [](const SseEvent&) {});
  EXPECT_TRUE(d.has_partial());
}

// Every recorded OpenAI stream, split at every byte boundary, decodes to the same events.
TEST(SseDecoder, RecordedStreamsSplitAtEveryByte) {
  for (const char* name : {"chat-stream-text.sse", "chat-stream-tool-call.sse",
                           "chat-stream-n3-choices.sse", "chat-stream-refusal.sse"}) {
    auto text = read_file(std::string(LLMGW_SOURCE_DIR) + "/tests/fixtures/openai/" + name);
    ASSERT_FALSE(text.empty()) << name;
    auto whole = decode_split(text, 0);
    ASSERT_GT(whole.size(), 2u) << name;
    EXPECT_EQ(whole.back().data, "[DONE]") << name;
    for (std::size_t i = 1; i < text.size(); ++i) {
      auto events = decode_split(text, i);
      ASSERT_EQ(events.size(), whole.size()) << name << " split at " << i;
      for (std::size_t k = 0; k < events.size(); ++k) {
        ASSERT_EQ(events[k].data, whole[k].data) << name << " split at " << i;
      }
    }
    auto bytewise = decode_bytewise(text);
    ASSERT_EQ(bytewise.size(), whole.size()) << name;
  }
}

}  // namespace
}  // namespace llmgw::api
