// fuzz_anthropic_face: the Anthropic Messages face (src/api/anthropic/, library
// llmgw_faces). One input is used four ways:
//  - as a client's /v1/messages body: parse_json, anthropic_to_openai and
//    decode_anthropic_request (which must agree), then the decoded OpenAI body goes where the
//    handler sends it: every adapter's unsupported() and build_request() (support.cpp: route());
//  - as a chat.completion answer: openai_completion_to_anthropic;
//  - as an error answer: anthropic_error_body for several statuses;
//  - as an OpenAI chat stream: AnthropicStreamTranslator fed whole and in splits, then
//    finish(); every split must give the same event sequence, each event named and its data a
//    JSON object whose "type" is the event name, ending in message_stop or error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "llmgw/api/json.hpp"
#include "llmgw/api/sse.hpp"
#include "api/anthropic/anthropic.hpp"
#include "support.hpp"

namespace {

using llmgw::fuzz::fail;
using nlohmann::json;

void check_error_body(const std::string& body, std::string_view who) {
  auto j = llmgw::api::parse_json(body);
  if (!j.ok() || !j.value().is_object() || j.value().value("type", "") != "error" ||
      !j.value().contains("error")) {
    fail(std::string(who) + ": not an Anthropic error body", body);
  }
}

void request(std::string_view text) {
  auto parsed = llmgw::api::parse_json(text);
  if (!parsed.ok()) {
    return;
  }
  const json& in = parsed.value();
  json out;
  auto error = llmgw::api::anthropic::anthropic_to_openai(in, out);
  json in_place = in;
  auto error2 = llmgw::api::anthropic::decode_anthropic_request(in_place);
  if (error.has_value() != error2.has_value() ||
      (error && (error->param != error2->param || error->message != error2->message))) {
    fail("anthropic_to_openai and decode_anthropic_request disagree");
  }
  if (error) {
    if (error->status != 400 || error->message.empty()) {
      fail("anthropic_to_openai returned an error that is not a 400 with a message",
           error->message);
    }
    check_error_body(llmgw::api::anthropic::anthropic_error_body(*error, "req_fuzz"),
                     "anthropic_error_body(GatewayError)");
    return;
  }
  if (in_place != out) {
    fail("decode_anthropic_request's body differs from anthropic_to_openai's", out.dump());
  }
  // The handler validates the decoded body like any chat body (api_handler.cpp). The face has
  // checked it already, so it must pass: otherwise an Anthropic client gets a 400 that names an
  // OpenAI path it never sent.
  llmgw::api::RequestFacts facts;
  if (auto e = llmgw::fuzz::validate(llmgw::providers::Operation::chat, out, facts)) {
    fail("a decoded Anthropic request is not a valid OpenAI chat body: " + e->message,
         out.dump());
  }
  llmgw::fuzz::route(llmgw::providers::Operation::chat, out,
                     llmgw::fuzz::options_for(facts, /*anthropic_face=*/true));
}

void answers(std::string_view text) {
  if (auto a = llmgw::api::anthropic::openai_completion_to_anthropic(text)) {
    auto j = llmgw::api::parse_json(*a, {1024, true});
    if (!j.ok() || !j.value().is_object() || !j.value().contains("content") ||
        !j.value()["content"].is_array()) {
      fail("openai_completion_to_anthropic wrote something that is not a message", *a);
    }
  }
  for (int status : {400, 401, 404, 413, 429, 500, 503, 529}) {
    check_error_body(llmgw::api::anthropic::anthropic_error_body(status, text, status == 429 ? "" : "r1"),
                     "anthropic_error_body(status, body)");
  }
  auto stop = llmgw::api::anthropic::anthropic_stop_reason(text.substr(0, 16));
  (void)stop;
}

std::vector<std::string> stream(std::string_view text, llmgw::fuzz::Split how) {
  std::string who = "AnthropicStreamTranslator (" + std::string(llmgw::fuzz::to_string(how)) +
                    " split)";
  llmgw::api::anthropic::AnthropicStreamTranslator t;
  std::string out;
  for (auto piece : llmgw::fuzz::split(text, how)) {
    std::size_t before = out.size();
    bool was_done = t.done();
    t.feed(piece, out);
    if (was_done && out.size() != before) {
      fail(who + ": wrote after done()", out);
    }
  }
  t.finish(out);
  if (!t.done()) {
    fail(who + ": not done() after finish()");
  }
  std::vector<std::string> names;
  llmgw::api::SseDecoder d;
  bool ok = d.feed(out, [&](const llmgw::api::SseEvent& e) {
    if (e.event.empty()) {
      fail(who + ": an event without an event: line", out);
    }
    auto j = llmgw::api::parse_json(e.data, {1024, true});
    if (!j.ok() || !j.value().is_object()) {
      fail(who + ": an event whose data is not a JSON object", e.data);
    }
    auto type = j.value().find("type");
    if (type == j.value().end() || !type->is_string() || *type != e.event) {
      fail(who + ": an event whose data.type is not its event name", e.event + "\n" + e.data);
    }
    names.push_back(e.event);
  });
  if (!ok || d.has_partial()) {
    fail(who + ": output is not complete SSE events", out);
  }
  if (names.empty() || (names.back() != "message_stop" && names.back() != "error")) {
    fail(who + ": the stream does not end in message_stop or error", out);
  }
  if (names.front() != "message_start" && names.front() != "error") {
    fail(who + ": the stream does not start with message_start or error", out);
  }
  return names;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) {
    s += x;
    s += '\n';
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = llmgw::fuzz::as_text(data, size);
  request(text);
  answers(text);
  auto whole = stream(text, llmgw::fuzz::Split::whole);
  for (auto how : llmgw::fuzz::kAllSplits) {
    if (how == llmgw::fuzz::Split::whole) {
      continue;
    }
    auto names = stream(text, how);
    if (names != whole) {
      fail("AnthropicStreamTranslator: the " + std::string(llmgw::fuzz::to_string(how)) +
               " split gives other events than the whole stream",
           "whole:\n" + join(whole) + "split:\n" + join(names));
    }
  }
  return 0;
}
