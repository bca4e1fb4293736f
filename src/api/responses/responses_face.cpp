// The Responses face: POST /v1/responses, and its ResponseSink (the translations themselves
// are pure and live in request_decoder.cpp, response_encoder.cpp and stream_encoder.cpp).
#include "api/openai/request_validation.hpp"
#include "api/responses/responses.hpp"
#include "llmgw/api/face.hpp"
#include "llmgw/common/header.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::api {
namespace responses {

Turn* turn_of(const RequestFacts& facts) {
  return dynamic_cast<Turn*>(facts.face_state.get());
}

std::string store_name(std::string_view response_id) {
  return "response/" + std::string(response_id);
}

bool valid_response_id(std::string_view id) {
  if (!id.starts_with("resp_") || id.size() != 5 + 48) {
    return false;
  }
  for (char c : id.substr(5)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

void ResponsesSink::decoded(const RequestFacts& facts) {
  if (turn_of(facts) != nullptr) {
    turn_ = std::static_pointer_cast<Turn>(facts.face_state);
  }
}

// A request the face did not decode (its errors, a cache replay) still gets an id.
Turn& ResponsesSink::turn() {
  if (!turn_) {
    turn_ = std::make_shared<Turn>();
    turn_->id = "resp_" + common::random_hex(48);
  }
  return *turn_;
}

StreamTranslator& ResponsesSink::translator() {
  if (!translator_) {
    turn();
    translator_.emplace(turn_);
  }
  return *translator_;
}

boost::asio::awaitable<bool> ResponsesSink::send(int status, std::vector<common::Header> headers,
                                                 std::string body) {
  common::set_header(headers, "content-type", "application/json");
  if (status >= 200 && status < 300) {
    auto& t = turn();
    if (auto response = completion_to_response(body, t)) {
      t.response = *response;
      co_return co_await inner_.send(status, std::move(headers), std::move(*response));
    }
    auto e = api::GatewayError{502, "upstream_error", "server_error",
                               "The upstream answer could not be translated to a response.", {}};
    co_return co_await inner_.send(e.status, std::move(headers), openai_error_body(e));
  }
  // Errors keep the OpenAI shape the Responses API shares.
  co_return co_await inner_.send(status, std::move(headers), std::move(body));
}

boost::asio::awaitable<bool> ResponsesSink::start_stream(int status,
                                                         std::vector<common::Header> headers) {
  common::set_header(headers, "content-type", "text/event-stream; charset=utf-8");
  common::set_header(headers, "cache-control", "no-cache");
  co_return co_await inner_.start_stream(status, std::move(headers));
}

boost::asio::awaitable<bool> ResponsesSink::write(std::string_view bytes) {
  std::string out;
  translator().feed(bytes, out);
  if (out.empty()) {
    co_return true;
  }
  co_return co_await inner_.write(out);
}

boost::asio::awaitable<bool> ResponsesSink::event(const api::StreamEvent& e) {
  co_return co_await events(std::span<const api::StreamEvent>(&e, 1));
}

boost::asio::awaitable<bool> ResponsesSink::events(std::span<const api::StreamEvent> batch) {
  std::string out;
  auto& t = translator();
  for (const auto& e : batch) {
    t.feed(e, out);
  }
  if (out.empty()) {
    co_return true;
  }
  co_return co_await inner_.write(out);
}

boost::asio::awaitable<bool> ResponsesSink::end_stream() {
  std::string out;
  translator().finish(out);
  if (!out.empty()) {
    bool ok = co_await inner_.write(out);
    if (!ok) {
      co_return false;
    }
  }
  co_return co_await inner_.end_stream();
}

boost::asio::awaitable<bool> ResponsesSink::fail(const api::GatewayError& e,
                                                 std::vector<common::Header> headers) {
  if (!inner_.started()) {
    common::set_header(headers, "content-type", "application/json");
    co_return co_await inner_.send(e.status, std::move(headers), openai_error_body(e));
  }
  std::string out;
  translator().fail(e, out);
  if (!out.empty()) {
    bool ok = co_await inner_.write(out);
    if (!ok) {
      co_return false;
    }
  }
  co_return co_await inner_.end_stream();
}

std::string record_message(std::string_view response_object) {
  std::string out = R"({"role":"llmgw.response","response":)";
  out += response_object;
  out += '}';
  return out;
}

std::string record_response(std::string_view message) {
  constexpr std::string_view kHead = R"({"role":"llmgw.response","response":)";
  if (!message.starts_with(kHead) || !message.ends_with('}')) {
    return {};
  }
  return std::string(message.substr(kHead.size(), message.size() - kHead.size() - 1));
}

}  // namespace responses

namespace {

class ResponsesFace final : public Face {
public:
  std::string_view name() const override { return "responses"; }

  std::optional<GatewayError> decode(Operation op, nlohmann::json& body,
                                     RequestFacts& facts) const override {
    auto turn = std::make_shared<responses::Turn>();
    nlohmann::json chat;
    if (auto error = responses::responses_to_chat(body, chat, *turn)) {
      return error;
    }
    body = std::move(chat);
    if (auto error = openai::validate_request(op, body, &facts)) {
      return error;
    }
    facts.face_state = std::move(turn);
    return std::nullopt;
  }

  std::string error_body(const GatewayError& e, std::string_view) const override {
    return openai_error_body(e);
  }

  std::string stream_error_event(const GatewayError& e) const override {
    return responses::stream_error_event(e, 0);
  }

  // response.completed carries the usage.
  bool needs_stream_usage() const override { return true; }

  std::unique_ptr<ResponseSink> open(ByteSink& raw) const override {
    return std::make_unique<responses::ResponsesSink>(raw);
  }
};

}  // namespace

const Face& responses_face() {
  static const ResponsesFace face;
  return face;
}

}  // namespace llmgw::api
