// A managed prompt call: the chat request it becomes (system, rendered user message, the
// prompt's sampling defaults under the call's overrides), which version answers, the errors
// and the params they name, the answer shape from Accept and "output", and the sink that
// reshapes a complete chat answer.
#include "llmgw/prompts/prompts.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include "fakes/recording_sink.hpp"

namespace llmgw::prompts {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

config::PromptConfig prompt(std::string name, unsigned version, std::string model,
                            std::string system, std::string text) {
  config::PromptConfig p;
  p.name = std::move(name);
  p.version = version;
  p.model = std::move(model);
  p.system = std::move(system);
  p.template_text = std::move(text);
  return p;
}

struct Calls : ::testing::Test {
  Calls() {
    cfg.prompts.push_back(prompt("greet", 1, "cheap", "", "Hi {{name}}"));
    auto v3 = prompt("greet", 3, "smart", "Be brief.", "Hello {{ name }}, age {{age}}");
    v3.temperature = 0.2;
    v3.max_tokens = 50;
    v3.stop = {"END"};
    v3.response_format = "json_object";
    cfg.prompts.push_back(v3);
    cfg.prompts.push_back(prompt("greet", 2, "cheap", "", "Hey {{name}}"));
    cfg.prompts.push_back(prompt("plain", 1, "cheap", "", "no variables here"));
  }

  common::Result<Call, api::GatewayError> call(std::string_view name, std::string_view body,
                                               std::string_view accept = {}) {
    return build_call(cfg, name, json::parse(body), accept);
  }

  api::GatewayError error(std::string_view name, std::string_view body,
                          std::string_view accept = {}) {
    auto c = call(name, body, accept);
    EXPECT_FALSE(c.ok()) << body;
    return c.ok() ? api::GatewayError{} : c.error();
  }

  config::Config cfg;
};

TEST_F(Calls, TheHighestVersionIsTheDefault) {
  EXPECT_EQ(cfg.find_prompt("greet")->version, 3u);
  EXPECT_EQ(cfg.find_prompt("greet", 2)->version, 2u);
  EXPECT_EQ(cfg.find_prompt("greet", 4), nullptr);
  EXPECT_EQ(cfg.find_prompt("nope"), nullptr);
  auto c = call("greet", R"({"variables": {"name": "Ada", "age": 36}})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->prompt->version, 3u);
  EXPECT_EQ(c->output, Output::chat);
  EXPECT_EQ(c->body, json::parse(R"({
    "model": "smart",
    "messages": [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": "Hello Ada, age 36"}],
    "temperature": 0.2, "max_tokens": 50, "stop": ["END"],
    "response_format": {"type": "json_object"}})"));
}

TEST_F(Calls, AnExplicitVersionAndNoSystemMessageWhenThePromptHasNone) {
  auto c = call("greet", R"({"version": 1, "variables": {"name": "Bo"}})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->prompt->version, 1u);
  EXPECT_EQ(c->body, json::parse(R"({"model": "cheap",
    "messages": [{"role": "user", "content": "Hi Bo"}]})"));
  auto none = call("plain", R"({})");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->body["messages"][0]["content"], "no variables here");
  EXPECT_TRUE(call("plain", R"({"variables": null, "version": null})").ok());
}

TEST_F(Calls, TheCallsOwnSamplingFieldsOverrideThePromptsDefaults) {
  auto c = call("greet", R"({"variables": {"name": "A", "age": 1}, "temperature": 1.5,
    "top_p": 0.9, "stop": "STOP", "response_format": "text", "max_tokens": null})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->body["temperature"], 1.5);
  EXPECT_EQ(c->body["top_p"], 0.9);
  EXPECT_EQ(c->body["stop"], "STOP");
  EXPECT_EQ(c->body["response_format"], json::parse(R"({"type": "text"})"));
  EXPECT_EQ(c->body["max_tokens"], 50) << "null means absent: the default stays";
  // The OpenAI shape of response_format passes as it is (the face checks it).
  auto schema = call("greet", R"({"variables": {"name": "A", "age": 1},
    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}})");
  ASSERT_TRUE(schema.ok());
  EXPECT_EQ(schema->body["response_format"]["type"], "json_schema");
  // Not checked here: the face validates them as chat fields, under the same names.
  auto odd = call("plain", R"({"temperature": "hot"})");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->body["temperature"], "hot");
}

TEST_F(Calls, UnknownPromptsAndVersionsAre404) {
  auto e = error("nope", R"({})");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.code, "prompt_not_found");
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(e.param, "");
  EXPECT_EQ(e.message, "The prompt 'nope' does not exist.");
  auto v = error("greet", R"({"version": 7})");
  EXPECT_EQ(v.status, 404);
  EXPECT_EQ(v.code, "prompt_not_found");
  EXPECT_EQ(v.param, "version");
  EXPECT_EQ(v.message, "The prompt 'greet' has no version 7.");
  EXPECT_EQ(error("nope", R"({"version": 1})").param, "") << "the name is what is wrong";
  for (std::string_view bad : {R"({"version": 0})", R"({"version": -1})", R"({"version": "2"})",
                               R"({"version": 1.5})", R"({"version": 99999999999})"}) {
    auto b = error("greet", bad);
    EXPECT_EQ(b.status, 400) << bad;
    EXPECT_EQ(b.param, "version") << bad;
  }
}

TEST_F(Calls, AMissingVariableIsA400NamingIt) {
  auto e = error("greet", R"({"variables": {"name": "Ada"}})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "invalid_request");
  EXPECT_EQ(e.param, "variables.age");
  EXPECT_EQ(e.message,
            "The prompt 'greet' (version 3) needs the variable 'age': 'variables.age' is missing.");
  EXPECT_EQ(error("greet", R"({})").param, "variables.name");
  auto obj = error("greet", R"({"variables": {"name": {"first": "A"}, "age": 1}})");
  EXPECT_EQ(obj.param, "variables.name");
  EXPECT_EQ(obj.message, "'variables.name' must be a string, a number or a boolean.");
  EXPECT_EQ(error("greet", R"({"variables": {"name": [1], "age": 1}})").param, "variables.name");
  EXPECT_EQ(error("greet", R"({"variables": {"name": null, "age": 1}})").param, "variables.name");
}

TEST_F(Calls, TheBodyItsFieldsAndVariablesHaveTheirShapes) {
  for (std::string_view bad : {R"([])", R"("x")", R"(1)"}) {
    auto e = error("greet", bad);
    EXPECT_EQ(e.status, 400) << bad;
    EXPECT_EQ(e.param, "") << bad;
  }
  for (std::string_view bad : {R"({"variables": []})", R"({"variables": "name=Ada"})"}) {
    auto e = error("greet", bad);
    EXPECT_EQ(e.status, 400) << bad;
    EXPECT_EQ(e.param, "variables") << bad;
  }
  auto unknown = error("plain", R"({"messages": []})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.param, "messages");
  EXPECT_EQ(error("plain", R"({"model": "x"})").param, "model");
  EXPECT_EQ(error("plain", R"({"stream": "yes"})").param, "stream");
}

TEST_F(Calls, StreamingIsForTheChatShape) {
  auto s = call("plain", R"({"stream": true, "stream_options": {"include_usage": true}})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->body["stream"], true);
  EXPECT_EQ(s->body["stream_options"]["include_usage"], true);
  auto off = call("plain", R"({"stream": false, "stream_options": {"include_usage": true}})");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->body.contains("stream"));
  EXPECT_FALSE(off->body.contains("stream_options"));
  auto text = error("plain", R"({"stream": true})", "text/plain");
  EXPECT_EQ(text.status, 400);
  EXPECT_EQ(text.param, "stream");
  auto object = error("plain", R"({"stream": true, "output": "plain"})");
  EXPECT_EQ(object.status, 400);
  EXPECT_EQ(object.param, "stream");
  EXPECT_TRUE(call("plain", R"({"stream": false})", "text/plain").ok());
}

TEST_F(Calls, TheAnswerShapeComesFromOutputOrAccept) {
  EXPECT_EQ(call("plain", R"({})", "text/plain")->output, Output::text);
  EXPECT_EQ(call("plain", R"({"output": "plain"})")->output, Output::object);
  EXPECT_EQ(call("plain", R"({"output": "plain"})", "text/plain")->output, Output::object)
      << "the body's own choice wins";
  EXPECT_EQ(call("plain", R"({"output": null})", "text/plain")->output, Output::text);
  EXPECT_EQ(call("plain", R"({})", "application/vnd.llmgw.output+json")->output, Output::object);
  EXPECT_EQ(error("plain", R"({"output": "text"})").param, "output");
  EXPECT_EQ(error("plain", R"({"output": true})").param, "output");
}

TEST(PromptOutput, AcceptPicksTheKnownTypeWithTheHighestQuality) {
  EXPECT_EQ(output_for_accept(""), Output::chat);
  EXPECT_EQ(output_for_accept("*/*"), Output::chat);
  EXPECT_EQ(output_for_accept("application/json"), Output::chat);
  EXPECT_EQ(output_for_accept("text/event-stream"), Output::chat);
  EXPECT_EQ(output_for_accept("text/plain"), Output::text);
  EXPECT_EQ(output_for_accept("Text/Plain; charset=utf-8"), Output::text);
  EXPECT_EQ(output_for_accept("application/vnd.llmgw.output+json"), Output::object);
  EXPECT_EQ(output_for_accept("text/html, image/png"), Output::chat) << "nothing known: chat";
  EXPECT_EQ(output_for_accept("text/html, text/plain"), Output::text);
  EXPECT_EQ(output_for_accept("text/plain, application/json"), Output::text) << "first of equals";
  EXPECT_EQ(output_for_accept("application/json, text/plain"), Output::chat);
  EXPECT_EQ(output_for_accept("application/json;q=0.5, text/plain"), Output::text);
  EXPECT_EQ(output_for_accept("text/plain;q=0.2, */*;q=0.1"), Output::text);
  EXPECT_EQ(output_for_accept("text/plain;q=0, application/json;q=0.1"), Output::chat);
  EXPECT_EQ(output_for_accept("text/plain; level=1; q=0.9 , application/json;q=0.8"),
            Output::text);
  EXPECT_EQ(output_for_accept("text/plain;q=0"), Output::chat) << "q=0: not acceptable";
}

constexpr std::string_view kAnswer = R"({"id": "chatcmpl-1", "object": "chat.completion",
  "model": "gpt-4o-mini", "choices": [{"index": 0, "finish_reason": "stop",
  "message": {"role": "assistant", "content": "Hello, Ada."}}],
  "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}})";

TEST(PromptOutput, TheAnswersText) {
  EXPECT_EQ(answer_text(json::parse(kAnswer)), "Hello, Ada.");
  auto parts = json::parse(R"({"choices": [{"message": {"content": [
    {"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]}}]})");
  EXPECT_EQ(answer_text(parts), "ab");
  auto tools = json::parse(R"({"choices": [{"message": {"content": null, "tool_calls": []}}]})");
  EXPECT_EQ(answer_text(tools), "");
  for (std::string_view no : {R"([])", R"({})", R"({"choices": []})", R"({"choices": [1]})",
                              R"({"choices": [{"text": "legacy"}]})"}) {
    EXPECT_EQ(answer_text(json::parse(no)), std::nullopt) << no;
  }
}

TEST(PromptOutput, ShapesOfACompleteAnswer) {
  auto p = prompt("greet", 3, "smart", "", "x");
  auto text = shape_answer(Output::text, p, kAnswer, 128);
  EXPECT_EQ(text.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(text.body, "Hello, Ada.");
  auto object = shape_answer(Output::object, p, kAnswer, 128);
  EXPECT_EQ(object.content_type, "application/json");
  EXPECT_EQ(object.body,
            R"({"output":"Hello, Ada.","prompt":"greet","version":3,"model":"gpt-4o-mini",)"
            R"("usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}})")
      << "the provider's order of the usage fields";
  auto broken = shape_answer(Output::object, p, "not json", 128);
  EXPECT_EQ(json::parse(broken.body)["output"], "");
  EXPECT_EQ(json::parse(broken.body)["usage"], json::object());
}

template <class T>
T run(asio::awaitable<T> a) {
  asio::io_context io;
  auto done = asio::co_spawn(io, std::move(a), asio::use_future);
  io.run();
  return done.get();
}

std::vector<common::Header> answer_headers() {
  return common::make_headers("x-llmgw-provider", "sim", "content-type", "application/json");
}

TEST(PromptOutput, TheSinkReshapesACompleteAnswerAndPassesTheRestThrough) {
  auto p = prompt("greet", 3, "smart", "", "x");
  fakes::RecordingSink inner;
  auto sink = make_output_sink(inner, Output::text, p, 128);
  EXPECT_TRUE(run(sink->send(200, answer_headers(), std::string(kAnswer))));
  EXPECT_EQ(inner.status, 200);
  EXPECT_EQ(inner.body, "Hello, Ada.");
  int content_types = 0;
  for (const auto& h : inner.headers) {
    if (h.name == "content-type") {
      ++content_types;
      EXPECT_EQ(h.value, "text/plain; charset=utf-8");
    }
  }
  EXPECT_EQ(content_types, 1);
  EXPECT_EQ(inner.headers.front().name, "x-llmgw-provider") << "the router's headers stay";

  // A provider's client error is the provider's own JSON, as a chat call gets it.
  fakes::RecordingSink errors;
  auto passing = make_output_sink(errors, Output::object, p, 128);
  std::string error_body = R"({"error": {"message": "bad"}})";
  EXPECT_TRUE(run(passing->send(400, answer_headers(), error_body)));
  EXPECT_EQ(errors.status, 400);
  EXPECT_EQ(errors.body, error_body);

  fakes::RecordingSink failed;
  auto failing = make_output_sink(failed, Output::text, p, 128);
  auto e = api::no_healthy_upstream("none");
  run(failing->fail(e, {}));
  ASSERT_TRUE(failed.failure);
  EXPECT_EQ(failed.failure->code, "no_healthy_upstream");
}

}  // namespace
}  // namespace llmgw::prompts
