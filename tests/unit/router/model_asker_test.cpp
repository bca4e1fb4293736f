// The judge's and the embeddings model's calls (RoutedModelAsker): routed over the table like a
// client call, never to the provider being judged, past unroutable and failing targets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes/config_builders.hpp"
#include "fakes/manual_time.hpp"
#include "fakes/scripted_transport.hpp"
#include "llmgw/router/model_asker.hpp"

namespace llmgw::router {
namespace {

using namespace std::chrono_literals;
using fakes::Reply;
using nlohmann::json;

std::string says(const std::string& text) {
  return json{{"id", "c"},
              {"object", "chat.completion"},
              {"model", "m"},
              {"choices", json::array({{{"index", 0},
                                        {"message", {{"role", "assistant"}, {"content", text}}},
                                        {"finish_reason", "stop"}}})},
              {"usage", {{"prompt_tokens", 1000}, {"completion_tokens", 500}}}}
      .dump();
}

using Asked = common::Result<health::ModelAnswer, api::Failure>;

// co_spawn wants a result it can default-construct.
boost::asio::awaitable<std::optional<Asked>> optional(boost::asio::awaitable<Asked> op) {
  auto asked = co_await std::move(op);
  co_return asked;
}

class Asker : public ::testing::Test {
protected:
  Asker() {
    for (int port : {1, 2, 3}) {
      auto p = fakes::provider(std::string(1, static_cast<char>('a' + port - 1)),
                               config::ProviderKind::openai_compatible, port);
      p.timeouts.total = 5s;
      cfg->providers.push_back(p);
    }
    config::ModelConfig grader;
    grader.name = "grader";
    grader.targets = {fakes::target("a"), fakes::target("b")};
    grader.targets[1].price = config::Price{2, 4};
    grader.fallbacks = {"spare"};
    config::ModelConfig spare;
    spare.name = "spare";
    spare.targets = {fakes::target("c")};
    cfg->models = {grader, spare};
    table = RouteTable::build(cfg, 1);
  }

  Asked ask(const std::string& model, const std::string& avoid) {
    json body = {{"model", model},
                 {"messages", json::array({{{"role", "user"}, {"content", "q"}}})}};
    return *fakes::run_simulated(ctx, time,
                                 optional(asker.ask(model, providers::Operation::chat, body,
                                                    avoid, time.now() + 30s)));
  }

  boost::asio::io_context ctx;
  fakes::ManualTime time;
  fakes::ScriptedTransport transport{time};
  std::shared_ptr<config::Config> cfg = std::make_shared<config::Config>();
  std::shared_ptr<const RouteTable> table;
  RoutedModelAsker asker{transport, time, [this] { return table; }};
};

TEST_F(Asker, NeverAsksTheProviderBeingJudged) {
  transport.script("127.0.0.1:1", {Reply::json(200, says("from a"))});
  transport.script("127.0.0.1:2", {Reply::json(200, says("from b"))});
  auto answer = ask("grader", "a");
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->provider, "b");
  EXPECT_EQ(transport.sent_to("127.0.0.1:1"), 0u);
  // 1000 prompt tokens at $2/Mtok + 500 completion tokens at $4/Mtok.
  EXPECT_DOUBLE_EQ(answer->cost_usd, 0.004);
  EXPECT_NE(answer->body.find("from b"), std::string::npos);
}

TEST_F(Asker, GoesOnPastFailingAndUnroutableTargetsToTheFallbacks) {
  table->provider("a")->health->operator_eject(time.now());
  transport.script("127.0.0.1:2", {Reply::json(503, R"({"error":{"message":"busy"}})")});
  transport.script("127.0.0.1:3", {Reply::json(200, says("from c"))});
  auto answer = ask("grader", "x");
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->provider, "c");
  EXPECT_EQ(transport.sent_to("127.0.0.1:1"), 0u) << "ejected";
  EXPECT_EQ(transport.sent_to("127.0.0.1:2"), 1u);
}

TEST_F(Asker, SaysWhyWhenNobodyElseCanAnswer) {
  cfg->models[0].fallbacks.clear();
  cfg->models[0].targets = {fakes::target("a")};
  table = RouteTable::build(cfg, 1);
  auto answer = ask("grader", "a");
  ASSERT_FALSE(answer);
  EXPECT_NE(answer.error().message.find("no routable target other than 'a'"), std::string::npos);
  EXPECT_EQ(ask("nope", "a").error().cls, api::FailureClass::model_not_found);
  EXPECT_EQ(transport.sent().size(), 0u);
}

TEST_F(Asker, TheLastFailureIsTheAnswerWhenEveryTargetFails) {
  transport.script("127.0.0.1:1", {Reply::json(500, R"({"error":{"message":"a down"}})")});
  transport.script("127.0.0.1:2", {Reply::json(500, R"({"error":{"message":"b down"}})")});
  transport.script("127.0.0.1:3", {Reply::json(500, R"({"error":{"message":"c down"}})")});
  auto answer = ask("grader", "x");
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().cls, api::FailureClass::server_error);
  EXPECT_EQ(transport.sent().size(), RoutedModelAsker::kMaxTries);
}

}  // namespace
}  // namespace llmgw::router
