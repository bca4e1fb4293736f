// One exchange with one target, without a router: what a semantic probe or a judge call gets
// from exchange::ask(). Scripted transport, simulated time.
#include "llmgw/exchange/exchange.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "fakes/manual_time.hpp"
#include "fakes/scripted_transport.hpp"

namespace llmgw::exchange {
namespace {

using namespace std::chrono_literals;
using fakes::Reply;
using nlohmann::json;

constexpr const char* kClaude = "127.0.0.1:7";

using Asked = common::Result<Answer, api::Failure>;

// co_spawn needs a default-constructible result.
boost::asio::awaitable<std::optional<Asked>> ask_wrapped(upstream::Transport& transport,
                                                         const common::Clock& clock, Target to,
                                                         nlohmann::json& body,
                                                         Correlation correlation,
                                                         upstream::Deadline deadline) {
  auto asked = co_await ask(transport, clock, to, providers::Operation::chat, body,
                            providers::RequestOptions{}, correlation, deadline);
  co_return std::optional<Asked>(std::move(asked));
}

class Exchange : public ::testing::Test {
 protected:
  Exchange() {
    provider.name = "claude";
    provider.kind = config::ProviderKind::anthropic;
    provider.base_url = "http://127.0.0.1:7/v1";
    provider.url = *common::parse_url(provider.base_url);
    provider.api_key = "sk-ant-test";
    provider.timeouts.total = 2s;
    target.provider = "claude";
    target.model = "claude-test";
    adapter = providers::make_adapter(provider.kind);
    endpoint = upstream::Endpoint::from(provider, 1);
  }

  Asked ask_once() {
    body = json{{"model", "probe"},
                {"messages", json::array({{{"role", "user"}, {"content", "What is 2+2?"}}})}};
    Target to{adapter.get(), &provider, &endpoint, &target};
    Correlation correlation{"probe-1", "", ""};
    return *fakes::run_simulated(
        ctx, time, ask_wrapped(transport, time, to, body, correlation, time.now() + 60s));
  }

  boost::asio::io_context ctx;
  fakes::ManualTime time;
  fakes::ScriptedTransport transport{time};
  config::ProviderConfig provider;
  config::TargetConfig target;
  std::shared_ptr<const providers::ProviderAdapter> adapter;
  upstream::Endpoint endpoint;
  json body;
};

TEST_F(Exchange, RendersForTheTargetAndReturnsTheAnswerInTheIngressShape) {
  auto reply = Reply::json(200, json{{"id", "msg_1"},
                                     {"type", "message"},
                                     {"role", "assistant"},
                                     {"model", "claude-test"},
                                     {"content", json::array({{{"type", "text"}, {"text", "4"}}})},
                                     {"stop_reason", "end_turn"},
                                     {"usage", {{"input_tokens", 9}, {"output_tokens", 1}}}}
                                    .dump());
  reply.header_after = 30ms;
  transport.script(kClaude, {reply});
  auto answer = ask_once();
  ASSERT_TRUE(answer) << answer.error().message;
  ASSERT_EQ(transport.sent().size(), 1u);
  const auto& sent = transport.sent()[0];
  EXPECT_EQ(sent.target, "/v1/messages");
  EXPECT_EQ(sent.header("x-api-key"), "sk-ant-test");
  EXPECT_EQ(sent.header("x-request-id"), "probe-1");
  EXPECT_EQ(json::parse(sent.body)["model"], "claude-test");
  auto openai = json::parse(answer->body);
  EXPECT_EQ(openai["choices"][0]["message"]["content"], "4");
  EXPECT_EQ(answer->usage.prompt_tokens, 9u);
  EXPECT_EQ(answer->usage.completion_tokens, 1u);
  EXPECT_DOUBLE_EQ(answer->header_ms, 30.0);
}

TEST_F(Exchange, ANon2xxAnswerIsItsClassifiedFailureWithTheProvidersRetryAfter) {
  auto reply = Reply::json(429, R"({"type":"error","error":{"type":"rate_limit_error",)"
                                R"("message":"slow down"}})");
  reply.headers.emplace_back("retry-after", "7");
  transport.script(kClaude, {reply});
  auto answer = ask_once();
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().cls, api::FailureClass::rate_limited);
  EXPECT_EQ(answer.error().status, 429);
  EXPECT_EQ(answer.error().retry_after, std::optional<std::chrono::milliseconds>(7s));
}

TEST_F(Exchange, A2xxThatIsNoAnswerIsABadResponse) {
  transport.script(kClaude, {Reply::json(200, R"({"unexpected":true})")});
  auto answer = ask_once();
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().cls, api::FailureClass::bad_response);
}

TEST_F(Exchange, ATransportFailureKeepsItsClass) {
  transport.script(kClaude, {Reply::fail(api::FailureClass::tls, "certificate verify failed")});
  auto answer = ask_once();
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().cls, api::FailureClass::tls);
  EXPECT_EQ(answer.error().message, "certificate verify failed");
}

TEST_F(Exchange, TheProvidersTotalTimeoutBoundsItWithinALongerDeadline) {
  transport.script(kClaude, {Reply::hanging()});
  const auto start = time.now();
  auto answer = ask_once();
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().cls, api::FailureClass::timeout);
  EXPECT_EQ(time.now() - start, 2s) << "timeouts.total, not the 60 s request deadline";
}

}  // namespace
}  // namespace llmgw::exchange
