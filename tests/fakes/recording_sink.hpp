#pragma once
// A api::ResponseSink that records what the client would have received.
#include <optional>
#include <string>
#include <vector>

#include "llmgw/api/errors.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/api/response_sink.hpp"

namespace llmgw::fakes {

class RecordingSink final : public api::ResponseSink {
public:
  int status = 0;
  std::vector<common::Header> headers;
  std::string body;  // the whole body, or every streamed byte
  bool streamed = false;
  bool ended = false;
  std::optional<api::GatewayError> failure;  // what fail() was given
  /// The client hangs up after this many stream writes (nullopt: never).
  std::optional<std::size_t> gone_after_writes;
  /// The dialect this client speaks; another than OpenAI gets a same-dialect target natively.
  api::Dialect speaks = api::Dialect::openai;
  std::vector<std::string> native_events;  // the stream events that came native, in order
  bool native_answer = false;              // the complete answer came through send_native
  std::vector<std::size_t> batches;        // the size of each events() batch, in order
  std::size_t writes = 0;                  // stream writes (a batch a face writes at once: 1)

  api::Dialect dialect() const override { return speaks; }
  boost::asio::awaitable<bool> events(std::span<const api::StreamEvent> batch) override {
    batches.push_back(batch.size());
    co_return co_await ResponseSink::events(batch);
  }
  boost::asio::awaitable<bool> event(const api::StreamEvent& e) override {
    if (e.native) {
      native_events.emplace_back(e.sse);
    }
    co_return co_await write(e.sse);
  }
  boost::asio::awaitable<bool> send_native(int s, std::vector<common::Header> h,
                                           std::string b) override {
    native_answer = true;
    co_return co_await send(s, std::move(h), std::move(b));
  }

  boost::asio::awaitable<bool> send(int s, std::vector<common::Header> h,
                                    std::string b) override {
    if (started_) {
      co_return false;
    }
    started_ = true;
    status = s;
    headers = std::move(h);
    body = std::move(b);
    co_return true;
  }
  boost::asio::awaitable<bool> start_stream(int s, std::vector<common::Header> h) override {
    if (started_) {
      co_return false;
    }
    started_ = true;
    streamed = true;
    status = s;
    headers = std::move(h);
    co_return true;
  }
  boost::asio::awaitable<bool> write(std::string_view bytes) override {
    if (gone_after_writes && writes_ >= *gone_after_writes) {
      co_return false;
    }
    ++writes_;
    ++writes;
    body.append(bytes);
    co_return true;
  }
  boost::asio::awaitable<bool> end_stream() override {
    ended = true;
    co_return true;
  }
  boost::asio::awaitable<bool> fail(const api::GatewayError& e,
                                    std::vector<common::Header> h) override {
    failure = e;
    if (!started_) {
      h.emplace_back("content-type", "application/json");
      auto rendered = api::openai_error_body(e);
      co_return co_await send(e.status, std::move(h), std::move(rendered));
    }
    auto event = api::openai_stream_error_event(e);
    bool ok = co_await write(event);
    if (!ok) {
      co_return false;
    }
    co_return co_await end_stream();
  }
  bool started() const override { return started_; }

  std::string header(std::string_view name) const {
    for (const auto& h : headers) {
      if (common::iequals(h.name, name)) {
        return h.value;
      }
    }
    return {};
  }

private:
  bool started_ = false;
  std::size_t writes_ = 0;
};

}  // namespace llmgw::fakes
