#include "server/request_validation.hpp"

namespace llmgw::server {
namespace {

using nlohmann::json;
using Error = std::optional<api::GatewayError>;

Error fail(std::string message, std::string param) {
  return api::invalid_request(std::move(message), std::move(param));
}

Error check_number(const json& body, const char* key, double lo, double hi) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_number()) {
    return fail(std::string("'") + key + "' must be a number.", key);
  }
  double v = it->get<double>();
  if (v < lo || v > hi) {
    return fail(std::string("'") + key + "' must be between " + json(lo).dump() + " and " +
                    json(hi).dump() + ".",
                key);
  }
  return std::nullopt;
}

Error check_positive_int(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_number_integer() || it->get<long long>() < 1) {
    return fail(std::string("'") + key + "' must be an integer of at least 1.", key);
  }
  return std::nullopt;
}

Error check_messages(const json& body) {
  auto it = body.find("messages");
  if (it == body.end()) {
    return fail("'messages' is required.", "messages");
  }
  if (!it->is_array() || it->empty()) {
    return fail("'messages' must be a non-empty array.", "messages");
  }
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& m = (*it)[i];
    auto path = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) {
      return fail("'" + path + "' must be an object.", path);
    }
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) {
      return fail("'" + path + ".role' is required and must be a string.", path + ".role");
    }
    const auto& r = role->get_ref<const std::string&>();
    if (r != "system" && r != "developer" && r != "user" && r != "assistant" && r != "tool" &&
        r != "function") {
      return fail("'" + path + ".role' must be one of system, developer, user, assistant, tool.",
                  path + ".role");
    }
    auto content = m.find("content");
    if (content != m.end() && !content->is_string() && !content->is_array() &&
        !content->is_null()) {
      return fail("'" + path + ".content' must be a string, an array of parts or null.",
                  path + ".content");
    }
    if ((content == m.end() || content->is_null()) && r != "assistant") {
      return fail("'" + path + ".content' is required for role '" + r + "'.", path + ".content");
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<api::GatewayError> validate_request(providers::Operation op, const json& body) {
  if (body.is_discarded()) {
    return fail("The request body is not valid JSON.", "");
  }
  if (!body.is_object()) {
    return fail("The request body must be a JSON object.", "");
  }
  auto model = body.find("model");
  if (model == body.end()) {
    return fail("'model' is required.", "model");
  }
  if (!model->is_string() || model->get_ref<const std::string&>().empty()) {
    return fail("'model' must be a non-empty string.", "model");
  }
  bool stream = false;
  if (auto s = body.find("stream"); s != body.end() && !s->is_null()) {
    if (!s->is_boolean()) {
      return fail("'stream' must be a boolean.", "stream");
    }
    stream = s->get<bool>();
  }
  if (auto so = body.find("stream_options"); so != body.end() && !so->is_null()) {
    if (!so->is_object()) {
      return fail("'stream_options' must be an object.", "stream_options");
    }
    if (!stream) {
      return fail("'stream_options' is only allowed when 'stream' is true.", "stream_options");
    }
    if (auto iu = so->find("include_usage"); iu != so->end() && !iu->is_boolean()) {
      return fail("'stream_options.include_usage' must be a boolean.",
                  "stream_options.include_usage");
    }
  }
  if (auto e = check_number(body, "temperature", 0, 2)) {
    return e;
  }
  if (auto e = check_number(body, "top_p", 0, 1)) {
    return e;
  }
  for (const char* key : {"n", "max_tokens", "max_completion_tokens"}) {
    if (auto e = check_positive_int(body, key)) {
      return e;
    }
  }
  switch (op) {
    case providers::Operation::chat:
      return check_messages(body);
    case providers::Operation::completions: {
      auto p = body.find("prompt");
      if (p == body.end() || !(p->is_string() || p->is_array())) {
        return fail("'prompt' is required and must be a string or an array.", "prompt");
      }
      return std::nullopt;
    }
    case providers::Operation::embeddings: {
      if (stream) {
        return fail("Embeddings cannot be streamed.", "stream");
      }
      auto in = body.find("input");
      if (in == body.end() || !((in->is_string() && !in->get_ref<const std::string&>().empty()) ||
                                (in->is_array() && !in->empty()))) {
        return fail("'input' is required and must be a non-empty string or array.", "input");
      }
      if (auto f = body.find("encoding_format"); f != body.end() && !f->is_null()) {
        if (!f->is_string() || (*f != "float" && *f != "base64")) {
          return fail("'encoding_format' must be 'float' or 'base64'.", "encoding_format");
        }
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace llmgw::server
