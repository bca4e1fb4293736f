// The OpenAI face: /v1/chat/completions, /v1/completions, /v1/embeddings. The canonical model
// is the OpenAI body, so decoding is validation and the answer passes through unchanged; only
// the gateway's own errors are rendered here.
#include <nlohmann/json.hpp>

#include "api/openai/request_validation.hpp"
#include "llmgw/api/face.hpp"

namespace llmgw::api {
namespace {

class OpenAiSink final : public ResponseSink {
public:
  explicit OpenAiSink(ByteSink& inner) : inner_(inner) {}

  boost::asio::awaitable<bool> send(int status, std::vector<common::Header> headers,
                                    std::string body) override {
    return inner_.send(status, std::move(headers), std::move(body));
  }
  boost::asio::awaitable<bool> start_stream(int status,
                                            std::vector<common::Header> headers) override {
    return inner_.start_stream(status, std::move(headers));
  }
  boost::asio::awaitable<bool> write(std::string_view bytes) override {
    return inner_.write(bytes);
  }
  boost::asio::awaitable<bool> end_stream() override { return inner_.end_stream(); }
  bool started() const override { return inner_.started(); }
  // The chunks are relayed as they are: a batch is one write.
  boost::asio::awaitable<bool> events(std::span<const StreamEvent> batch) override {
    if (auto bytes = contiguous_bytes(batch); !bytes.empty()) {
      co_return co_await inner_.write(bytes);
    }
    co_return co_await ResponseSink::events(batch);
  }

  boost::asio::awaitable<bool> fail(const GatewayError& e,
                                    std::vector<common::Header> headers) override {
    if (!inner_.started()) {
      headers.emplace_back("content-type", "application/json");
      auto body = openai_error_body(e);
      co_return co_await inner_.send(e.status, std::move(headers), std::move(body));
    }
    // An SSE error event the SDKs raise, then the end of the stream.
    auto event = openai_stream_error_event(e);
    bool ok = co_await inner_.write(event);
    if (!ok) {
      co_return false;
    }
    co_return co_await inner_.end_stream();
  }

private:
  ByteSink& inner_;
};

class OpenAiFace final : public Face {
public:
  std::string_view name() const override { return "openai"; }
  std::optional<GatewayError> decode(Operation op, nlohmann::json& body,
                                     RequestFacts& facts) const override {
    return openai::validate_request(op, body, &facts);
  }
  std::string error_body(const GatewayError& e, std::string_view) const override {
    return openai_error_body(e);
  }
  std::string stream_error_event(const GatewayError& e) const override {
    return openai_stream_error_event(e);
  }
  std::unique_ptr<ResponseSink> open(ByteSink& raw) const override {
    return std::make_unique<OpenAiSink>(raw);
  }
};

}  // namespace

const Face& openai_face() {
  static const OpenAiFace face;
  return face;
}

}  // namespace llmgw::api
