#pragma once
// A router::ResponseSink that records what the client would have received.
#include <optional>
#include <string>
#include <vector>

#include "llmgw/common/strings.hpp"
#include "llmgw/router/response_sink.hpp"

namespace llmgw::fakes {

class RecordingSink final : public router::ResponseSink {
public:
  int status = 0;
  std::vector<providers::Header> headers;
  std::string body;  // the whole body, or every streamed byte
  bool streamed = false;
  bool ended = false;
  /// The client hangs up after this many stream writes (nullopt: never).
  std::optional<std::size_t> gone_after_writes;

  boost::asio::awaitable<bool> send(int s, std::vector<providers::Header> h,
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
  boost::asio::awaitable<bool> start_stream(int s, std::vector<providers::Header> h) override {
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
    body.append(bytes);
    co_return true;
  }
  boost::asio::awaitable<bool> end_stream() override {
    ended = true;
    co_return true;
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
