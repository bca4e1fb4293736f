#include "api/responses/responses.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "llmgw/api/face.hpp"

namespace llmgw::api::responses {
namespace {

using nlohmann::json;

std::optional<api::GatewayError> convert(std::string_view body, json& out, Turn& turn) {
  return responses_to_chat(json::parse(body), out, turn);
}

TEST(ResponsesRequest, InputItemsBecomeChatMessages) {
  json out;
  Turn turn;
  auto e = convert(R"({"model":"m","instructions":"be brief","input":[
      {"role":"developer","content":"metric"},
      {"role":"user","content":[{"type":"input_text","text":"hi"},
                                {"type":"input_image","image_url":"https://x/y.png"}]},
      {"type":"message","role":"assistant","content":[{"type":"output_text","text":"a"}]},
      {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
      {"type":"function_call","call_id":"c2","name":"g","arguments":"{\"x\":1}"},
      {"type":"function_call_output","call_id":"c1","output":"r1"},
      {"type":"reasoning","id":"rs_1","summary":[]},
      {"type":"function_call_output","call_id":"c2","output":"r2"}],
    "tools":[{"type":"function","name":"f","parameters":{"type":"object"},"strict":true}],
    "tool_choice":{"type":"function","name":"f"},"max_output_tokens":50,
    "text":{"format":{"type":"json_schema","name":"s","schema":{"type":"object"}}},
    "reasoning":{"effort":"low"},"store":false,"previous_response_id":"resp_x"})",
                   out, turn);
  ASSERT_FALSE(e) << e->message;
  const auto& m = out["messages"];
  ASSERT_EQ(m.size(), 6u) << out.dump();
  EXPECT_EQ(m[0], (json{{"role", "system"}, {"content", "be brief"}}));
  EXPECT_EQ(m[1], (json{{"role", "system"}, {"content", "metric"}}));
  EXPECT_EQ(m[2]["content"][1]["image_url"]["url"], "https://x/y.png");
  // The assistant's text and both calls make one turn.
  EXPECT_EQ(m[3]["content"], "a");
  ASSERT_EQ(m[3]["tool_calls"].size(), 2u);
  EXPECT_EQ(m[3]["tool_calls"][1]["function"]["arguments"], "{\"x\":1}");
  EXPECT_EQ(m[4], (json{{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "r1"}}));
  EXPECT_EQ(m[5]["tool_call_id"], "c2");
  EXPECT_EQ(out["tools"][0]["function"]["strict"], true);
  EXPECT_EQ(out["tool_choice"]["function"]["name"], "f");
  EXPECT_EQ(out["max_completion_tokens"], 50);
  EXPECT_EQ(out["response_format"]["json_schema"]["name"], "s");
  EXPECT_EQ(out["reasoning_effort"], "low");
  EXPECT_FALSE(turn.store);
  EXPECT_EQ(turn.previous_response_id, "resp_x");
  EXPECT_EQ(turn.input_messages, 5u);
  EXPECT_TRUE(valid_response_id(turn.id)) << turn.id;
  EXPECT_EQ(json::parse(turn.echo)["max_output_tokens"], 50);
}

TEST(ResponsesRequest, NamesTheJsonPathAtFault) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"input":"x"})", "model"},
      {R"({"model":"m"})", "input"},
      {R"({"model":"m","input":[]})", "input"},
      {R"({"model":"m","input":[3]})", "input[0]"},
      {R"({"model":"m","input":[{"role":"tool","content":"x"}]})", "input[0].role"},
      {R"({"model":"m","input":[{"role":"user","content":[{"type":"input_audio"}]}]})",
       "input[0].content[0].type"},
      {R"({"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]})",
       "input[0].call_id"},
      {R"({"model":"m","input":[{"type":"item_reference","id":"x"}]})", "input[0]"},
      {R"({"model":"m","input":"x","tools":[{"type":"web_search"}]})", "tools[0].type"},
      {R"({"model":"m","input":"x","tools":[{"type":"function"}]})", "tools[0].name"},
      {R"({"model":"m","input":"x","max_output_tokens":0})", "max_output_tokens"},
      {R"({"model":"m","input":"x","background":true})", "background"},
      {R"({"model":"m","input":"x","store":"yes"})", "store"},
      {R"({"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"s"}}})",
       "text.format.schema"},
      {R"({"model":"m","input":"x","bogus":1})", "bogus"},
  };
  for (const auto& [body, param] : cases) {
    json out;
    Turn turn;
    auto e = convert(body, out, turn);
    ASSERT_TRUE(e) << body;
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->param, param) << body << ": " << e->message;
  }
}

Turn test_turn() {
  Turn t;
  t.id = "resp_" + std::string(48, 'a');
  t.created_at = 1700000000;
  t.echo = R"({"instructions":null,"store":true,"tools":[]})";
  return t;
}

TEST(ResponsesAnswer, ChatCompletionBecomesAResponseObject) {
  auto turn = test_turn();
  auto body = completion_to_response(R"({"id":"chatcmpl-1","model":"up","choices":[{"index":0,
      "message":{"role":"assistant","content":"hi","reasoning_content":"think",
      "tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
      "finish_reason":"length"}],"usage":{"prompt_tokens":10,"completion_tokens":4,
      "prompt_tokens_details":{"cached_tokens":3},
      "completion_tokens_details":{"reasoning_tokens":2}}})",
                                     turn);
  ASSERT_TRUE(body);
  auto r = json::parse(*body);
  EXPECT_EQ(r["id"], turn.id);
  EXPECT_EQ(r["object"], "response");
  EXPECT_EQ(r["model"], "up");
  EXPECT_EQ(r["status"], "incomplete");
  EXPECT_EQ(r["incomplete_details"]["reason"], "max_output_tokens");
  ASSERT_EQ(r["output"].size(), 3u);
  EXPECT_EQ(r["output"][0]["type"], "reasoning");
  EXPECT_EQ(r["output"][0]["summary"][0]["text"], "think");
  EXPECT_EQ(r["output"][1]["content"][0]["text"], "hi");
  EXPECT_EQ(r["output"][2]["call_id"], "call_1");
  EXPECT_EQ(r["usage"]["input_tokens"], 10);
  EXPECT_EQ(r["usage"]["input_tokens_details"]["cached_tokens"], 3);
  EXPECT_EQ(r["usage"]["output_tokens_details"]["reasoning_tokens"], 2);
  EXPECT_EQ(r["usage"]["total_tokens"], 14);
  EXPECT_EQ(r["store"], true);
  EXPECT_FALSE(completion_to_response(R"({"object":"list"})", turn));
}

struct Event {
  std::string type;
  json data;
};

std::vector<Event> events_of(const std::string& sse) {
  std::vector<Event> out;
  std::size_t at = 0;
  while ((at = sse.find("event: ", at)) != std::string::npos) {
    auto nl = sse.find('\n', at);
    auto type = sse.substr(at + 7, nl - at - 7);
    auto data_at = sse.find("data: ", nl) + 6;
    auto end = sse.find("\n\n", data_at);
    out.push_back({type, json::parse(sse.substr(data_at, end - data_at))});
    EXPECT_EQ(out.back().data["type"], type);
    at = end;
  }
  return out;
}

TEST(ResponsesStream, TextReasoningAndParallelCallsBecomeItemsInOrder) {
  auto turn = std::make_shared<Turn>(test_turn());
  StreamTranslator t(turn);
  std::string out;
  const char* chunks[] = {
      R"({"model":"up","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"hm"}}]})",
      R"({"choices":[{"index":0,"delta":{"content":"Hel"}}]})",
      R"({"choices":[{"index":0,"delta":{"content":"lo"}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c0","function":{"name":"f","arguments":"{\"a\""}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c1","function":{"name":"g","arguments":"{}"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})",
      R"({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":5}})",
  };
  for (const char* c : chunks) {
    t.feed("data: " + std::string(c) + "\n\n", out);
  }
  t.feed(std::string_view("data: [DONE]\n\n"), out);
  ASSERT_TRUE(t.done());
  auto events = events_of(out);
  ASSERT_FALSE(events.empty());
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].data["sequence_number"], i);
  }
  EXPECT_EQ(events.front().type, "response.created");
  EXPECT_EQ(events.front().data["response"]["status"], "in_progress");
  EXPECT_EQ(events.back().type, "response.completed");
  const auto& r = events.back().data["response"];
  ASSERT_EQ(r["output"].size(), 4u) << r.dump();
  EXPECT_EQ(r["output"][0]["type"], "reasoning");
  EXPECT_EQ(r["output"][1]["content"][0]["text"], "Hello");
  EXPECT_EQ(r["output"][2]["arguments"], "{\"a\":1}");
  EXPECT_EQ(r["output"][3]["name"], "g");
  EXPECT_EQ(r["usage"]["output_tokens"], 5);
  EXPECT_EQ(r["model"], "up");
  EXPECT_EQ(json::parse(turn->response), events.back().data["response"]);
  // Each item's added and done events name its output_index.
  std::vector<std::size_t> added;
  for (const auto& e : events) {
    if (e.type == "response.output_item.added") {
      added.push_back(e.data["output_index"].get<std::size_t>());
    }
  }
  EXPECT_EQ(added, (std::vector<std::size_t>{0, 1, 2, 3}));
}

TEST(ResponsesStream, AStreamThatNeverFinishedEndsWithAnErrorEvent) {
  auto turn = std::make_shared<Turn>(test_turn());
  StreamTranslator t(turn);
  std::string out;
  t.feed(std::string_view(R"(data: {"choices":[{"index":0,"delta":{"content":"x"}}]})"
                          "\n\n"),
         out);
  t.finish(out);
  auto events = events_of(out);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, "error");
  EXPECT_EQ(events.back().data["error"]["code"], "upstream_error");
  EXPECT_TRUE(turn->response.empty());
}

TEST(ResponsesStoredRecord, RoundTrips) {
  auto record = record_message(R"({"id":"resp_1"})");
  EXPECT_EQ(record_response(record), R"({"id":"resp_1"})");
  EXPECT_TRUE(json::parse(record).is_object());
  EXPECT_EQ(record_response(R"({"role":"user","content":"x"})"), "");
}

TEST(Faces, AnthropicPathsAnswerInTheAnthropicShape) {
  EXPECT_EQ(face_for_path("/v1/messages/count_tokens").name(), "anthropic");
  EXPECT_EQ(face_for_path("/v1/messages/batches").name(), "anthropic");
  EXPECT_EQ(face_for_path("/v1/messagesx").name(), "openai");
  ASSERT_NE(find_route("/v1/responses"), nullptr);
  EXPECT_EQ(find_route("/v1/responses")->face->name(), "responses");
}

}  // namespace
}  // namespace llmgw::api::responses
