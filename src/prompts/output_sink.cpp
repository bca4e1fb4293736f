// The sink of a prompt call that asked for the answer's text (Accept: text/plain) or the output
// object ("output": "plain"): the router answers through it as through any face's sink, and it
// reshapes the complete chat answer on its way out. Such a call is never streamed (the call is
// refused first), so stream bytes and errors pass through to the face untouched.
#include <algorithm>

#include "llmgw/common/strings.hpp"
#include "llmgw/prompts/prompts.hpp"

namespace llmgw::prompts {
namespace {

class OutputSink final : public api::ResponseSink {
public:
  OutputSink(api::ResponseSink& inner, Output output, const config::PromptConfig& prompt,
             std::size_t max_json_depth)
      : inner_(inner), output_(output), prompt_(prompt), max_json_depth_(max_json_depth) {}

  // Not coroutines: the answer is reshaped before the inner sink's send is awaited.
  boost::asio::awaitable<bool> send(int status, std::vector<common::Header> headers,
                                    std::string body) override {
    if (status >= 200 && status < 300) {
      reshape(headers, body);
    }
    return inner_.send(status, std::move(headers), std::move(body));
  }
  boost::asio::awaitable<bool> send_native(int status, std::vector<common::Header> headers,
                                           std::string body) override {
    if (status >= 200 && status < 300) {
      reshape(headers, body);
      return inner_.send(status, std::move(headers), std::move(body));
    }
    return inner_.send_native(status, std::move(headers), std::move(body));
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
  boost::asio::awaitable<bool> event(const api::StreamEvent& e) override {
    return inner_.event(e);
  }
  boost::asio::awaitable<bool> events(std::span<const api::StreamEvent> batch) override {
    return inner_.events(batch);
  }
  bool wants_chunks() const override { return inner_.wants_chunks(); }
  api::Dialect dialect() const override { return inner_.dialect(); }
  boost::asio::awaitable<bool> fail(const api::GatewayError& e,
                                    std::vector<common::Header> headers) override {
    return inner_.fail(e, std::move(headers));
  }

private:
  void reshape(std::vector<common::Header>& headers, std::string& body) const {
    auto shaped = shape_answer(output_, prompt_, body, max_json_depth_);
    std::erase_if(headers,
                  [](const common::Header& h) { return common::iequals(h.name, "content-type"); });
    headers.emplace_back("content-type", std::move(shaped.content_type));
    body = std::move(shaped.body);
  }

  api::ResponseSink& inner_;
  Output output_;
  const config::PromptConfig& prompt_;
  std::size_t max_json_depth_;
};

}  // namespace

std::unique_ptr<api::ResponseSink> make_output_sink(api::ResponseSink& inner, Output output,
                                                    const config::PromptConfig& prompt,
                                                    std::size_t max_json_depth) {
  return std::make_unique<OutputSink>(inner, output, prompt, max_json_depth);
}

}  // namespace llmgw::prompts
