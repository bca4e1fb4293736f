// The Anthropic face: /v1/messages.
#include "api/anthropic/anthropic.hpp"
#include "api/openai/request_validation.hpp"
#include "llmgw/api/face.hpp"

namespace llmgw::api {
namespace {

class AnthropicFace final : public Face {
public:
  std::string_view name() const override { return "anthropic"; }
  std::optional<GatewayError> decode(Operation op, nlohmann::json& body,
                                     RequestFacts& facts) const override {
    // The face's own checks name Anthropic paths; what it produces is then read like any chat
    // body.
    if (auto error = anthropic::decode_anthropic_request(body)) {
      return error;
    }
    return openai::validate_request(op, body, &facts);
  }
  std::string error_body(const GatewayError& e, std::string_view request_id) const override {
    return anthropic::anthropic_error_body(e, request_id);
  }
  std::string stream_error_event(const GatewayError& e) const override {
    return anthropic::anthropic_stream_error_event(e);
  }
  void add_id_headers(std::vector<common::Header>& headers,
                      std::string_view request_id) const override {
    headers.emplace_back("request-id", std::string(request_id));  // what Anthropic SDKs read
  }
  // Anthropic streams report output_tokens in message_delta: the usage chunk is needed.
  bool needs_stream_usage() const override { return true; }
  std::unique_ptr<ResponseSink> open(ByteSink& raw) const override {
    return std::make_unique<anthropic::AnthropicSink>(raw);
  }
};

}  // namespace

const Face& anthropic_face() {
  static const AnthropicFace face;
  return face;
}

}  // namespace llmgw::api
