// The route table and the OpenAI face's sink (the Anthropic face has its own tests).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include "fakes/recording_sink.hpp"
#include "llmgw/api/face.hpp"

namespace llmgw::api {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

template <class F>
void run(F f) {
  asio::io_context io;
  auto done = asio::co_spawn(io, f(), asio::use_future);
  io.run();
  done.get();
}

TEST(Faces, EachProxiedRouteHasItsOperationAndFace) {
  ASSERT_NE(find_route("/v1/chat/completions"), nullptr);
  EXPECT_EQ(find_route("/v1/chat/completions")->op, Operation::chat);
  EXPECT_EQ(find_route("/v1/completions")->op, Operation::completions);
  EXPECT_EQ(find_route("/v1/embeddings")->op, Operation::embeddings);
  EXPECT_EQ(find_route("/v1/messages")->face, &anthropic_face());
  EXPECT_EQ(find_route("/v1/chat/completions")->face, &openai_face());
  EXPECT_EQ(find_route("/v1/chat/completions/"), nullptr);
  EXPECT_EQ(find_route("/v1/models"), nullptr);
  // A managed prompt: one path segment after the prefix, the OpenAI face, a chat call.
  const auto* prompt = find_route("/v1/prompts/sentiment");
  ASSERT_NE(prompt, nullptr);
  EXPECT_EQ(prompt->op, Operation::chat);
  EXPECT_EQ(prompt->face, &openai_face());
  EXPECT_EQ(prompt->path, "/v1/prompts/{name}") << "the metrics label";
  EXPECT_EQ(find_route("/v1/prompts/a.b-c_1"), prompt);
  EXPECT_EQ(find_route("/v1/prompts/"), nullptr);
  EXPECT_EQ(find_route("/v1/prompts"), nullptr);
  EXPECT_EQ(find_route("/v1/prompts/a/b"), nullptr);
  EXPECT_EQ(find_route("/v2/prompts/a"), nullptr);
  // Anything that is not another face's route answers in the OpenAI shape.
  EXPECT_EQ(&face_for_path("/nope"), &openai_face());
  EXPECT_EQ(&face_for_path("/v1/messages"), &anthropic_face());
}

TEST(Faces, DecodingNamesThePathInTheClientsOwnTerms) {
  RequestFacts facts;
  auto body = json::parse(R"({"model":"m","messages":[{"role":"user","content":1}]})");
  auto error = openai_face().decode(Operation::chat, body, facts);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->param, "messages[0].content");

  auto anthropic = json::parse(R"({"model":"m","max_tokens":5,"messages":[{"role":"robot",
                                   "content":"hi"}]})");
  error = anthropic_face().decode(Operation::chat, anthropic, facts);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->param, "messages[0].role");

  auto good = json::parse(R"({"model":"m","max_tokens":5,"stream":true,
                              "messages":[{"role":"user","content":"hi"}]})");
  EXPECT_FALSE(anthropic_face().decode(Operation::chat, good, facts));
  EXPECT_TRUE(good.contains("messages"));
  EXPECT_EQ(good["messages"][0]["content"], "hi");
  EXPECT_TRUE(facts.stream);
  EXPECT_EQ(facts.max_output_tokens, 5u);
}

TEST(Faces, OpenAiSinkRendersAGatewayErrorAsAnErrorBody) {
  fakes::RecordingSink raw;
  auto sink = openai_face().open(raw);
  run([&]() -> asio::awaitable<void> {
    auto headers = common::make_headers("x-request-id", "r1");
    auto e = no_healthy_upstream("a: down");
    co_await sink->fail(e, std::move(headers));
  });
  EXPECT_EQ(raw.status, 503);
  EXPECT_EQ(raw.header("content-type"), "application/json");
  EXPECT_EQ(raw.header("x-request-id"), "r1");
  auto body = json::parse(raw.body);
  EXPECT_EQ(body["error"]["code"], "no_healthy_upstream");
}

TEST(Faces, OpenAiSinkEndsAStreamWithAnErrorEventAndPassesBytesThrough) {
  fakes::RecordingSink raw;
  auto sink = openai_face().open(raw);
  run([&]() -> asio::awaitable<void> {
    std::vector<common::Header> none;
    co_await sink->start_stream(200, none);
    co_await sink->write("data: {\"x\":1}\n\n");
    auto e = upstream_timeout("slow");
    co_await sink->fail(e, none);
  });
  EXPECT_TRUE(raw.streamed);
  EXPECT_TRUE(raw.ended);
  EXPECT_TRUE(raw.body.starts_with("data: {\"x\":1}\n\n"));
  EXPECT_EQ(raw.body.substr(std::string_view("data: {\"x\":1}\n\n").size()),
            openai_stream_error_event(upstream_timeout("slow")));
}

// A burst of events from one upstream read leaves in one write, not one per event.
TEST(Faces, OpenAiSinkWritesABatchOfEventsAtOnce) {
  fakes::RecordingSink raw;
  auto sink = openai_face().open(raw);
  const std::string bytes = "data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n";
  std::vector<StreamEvent> batch(3);
  batch[0].sse = std::string_view(bytes).substr(0, 15);
  batch[1].sse = std::string_view(bytes).substr(15, 15);
  batch[2].sse = std::string_view(bytes).substr(30);
  batch[2].done = true;
  run([&]() -> asio::awaitable<void> {
    std::vector<common::Header> none;
    co_await sink->start_stream(200, none);
    co_await sink->events(batch);
  });
  EXPECT_EQ(raw.body, bytes);
  EXPECT_EQ(raw.writes, 1u);
}

}  // namespace
}  // namespace llmgw::api
