// The Anthropic face: POST /v1/messages (stream and not), POST /v1/messages/count_tokens, and
// GET /v1/models[/{id}] when the request carries `anthropic-version` (Anthropic SDKs always send
// it, OpenAI ones never do). Byte layout follows recordings of api.anthropic.com
// (tests/fixtures/anthropic): compact JSON in the recorded key order; streams are `event:` +
// `data:` pairs whose JSON the real service pads with spaces before the closing brace (all but
// `ping`), ending with message_stop and no [DONE].
#include <nlohmann/json.hpp>
#include <set>

#include "answer.hpp"
#include "llmgw/common/strings.hpp"
#include "wire.hpp"

namespace llmgw::sim {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kModelCreatedAt = "2025-02-19T00:00:00Z";

std::string dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool should_retry(unsigned status) {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

// {"type":"error","error":{"type","message"},"request_id"} plus the headers real errors carry.
Reply error_reply(unsigned status, std::string_view type, std::string_view message,
                  std::string_view code = {}) {
  const std::string id = "req_011C" + random_base62(20);
  Json error;
  error["type"] = type;
  error["message"] = message;
  if (!code.empty()) {
    Json details;
    details["error_code"] = code;
    error["details"] = std::move(details);
  }
  Json body;
  body["type"] = "error";
  body["error"] = std::move(error);
  body["request_id"] = id;
  Reply reply;
  reply.status = status;
  reply.body = dump(body);
  reply.headers.emplace_back("request-id", id);
  reply.headers.emplace_back("x-should-retry", should_retry(status) ? "true" : "false");
  return reply;
}

Reply invalid_request(std::string_view message) {
  return error_reply(400, "invalid_request_error", message);
}

std::string_view default_error_type(unsigned status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 409:
      return "conflict_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 504:
      return "timeout_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

// One SSE event; the JSON gets the trailing-space padding of the real service, its width varying
// from event to event (1 to 15 spaces) so a parser that expects exact bytes notices.
void append_event(std::vector<std::string>& events, std::string_view name, std::string_view json) {
  std::string event;
  event.reserve(name.size() + json.size() + 32);
  event.append("event: ").append(name).append("\ndata: ");
  event.append(json.substr(0, json.size() - 1));
  event.append(static_cast<std::size_t>(1 + stable_hash(json) % 15), ' ');
  event.append("}\n\n");
  events.push_back(std::move(event));
}

// A string member, empty when absent or of another type (json::value would throw on that).
std::string string_field(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Text blocks of a content array joined by a space (as the OpenAI face joins text parts).
std::string join_text(const Json& blocks) {
  std::string text;
  for (const auto& block : blocks) {
    if (!block.is_object() || string_field(block, "type") != "text") {
      continue;
    }
    auto it = block.find("text");
    if (it != block.end() && it->is_string()) {
      if (!text.empty()) {
        text.push_back(' ');
      }
      text += it->get_ref<const std::string&>();
    }
  }
  return text;
}

Json usage_json(std::int64_t input, std::int64_t output) {
  Json cache_creation;
  cache_creation["ephemeral_5m_input_tokens"] = 0;
  cache_creation["ephemeral_1h_input_tokens"] = 0;
  Json usage;
  usage["input_tokens"] = input;
  usage["cache_creation_input_tokens"] = 0;
  usage["cache_read_input_tokens"] = 0;
  usage["cache_creation"] = std::move(cache_creation);
  usage["output_tokens"] = output;
  usage["service_tier"] = "standard";
  usage["inference_geo"] = "not_available";
  return usage;
}

struct ParsedRequest {
  std::string model;
  Conversation conversation;
  bool stream = false;
  bool thinking = false;  // thinking: {type: enabled | adaptive}
};

// Extended thinking, as the real API does it in outline: a thinking block before the answer,
// signed; a replayed thinking block must carry a signature this simulator issued.
constexpr std::string_view kSignaturePrefix = "sim-sig-";

class AnthropicFormat final : public WireFormat {
 public:
  explicit AnthropicFormat(SimInfo info) : info_(std::move(info)) {}

  bool owns(std::string_view path) const override {
    return path == "/v1/messages" || path.starts_with("/v1/messages/");
  }

  bool claims(const ApiRequest& request) const override {
    const std::string_view path = request.path;
    return owns(path) || ((path == "/v1/models" || path.starts_with("/v1/models/")) &&
                          !request.header("anthropic-version").empty());
  }

  bool authorized(const ApiRequest& request, std::string_view api_key) const override {
    // SDK <= 0.137 and @ai-sdk/anthropic send x-api-key; SDK >= 1.0 sends a bearer token.
    if (request.header("x-api-key") == api_key) {
      return true;
    }
    auto authorization = request.header("authorization");
    constexpr std::string_view kBearer = "bearer ";
    return authorization.size() > kBearer.size() &&
           common::iequals(authorization.substr(0, kBearer.size()), kBearer) &&
           common::trim(authorization.substr(kBearer.size())) == api_key;
  }

  Reply unauthorized(const ApiRequest& request) const override {
    const bool sent = !request.header("x-api-key").empty() ||
                      !request.header("authorization").empty();
    return error_reply(401, "authentication_error",
                       sent ? "invalid x-api-key" : "x-api-key header is required");
  }

  Reply not_found(const ApiRequest& /*request*/) const override {
    return error_reply(404, "not_found_error", "Not Found");
  }

  Reply payload_too_large() const override {
    return error_reply(413, "request_too_large",
                       "Request exceeds the maximum allowed number of bytes.");
  }

  Reply error(unsigned status, const ErrorFields& fields) const override {
    std::string message = fields.message;
    if (message.empty()) {
      if (status == 429) {
        message = "Number of request tokens has exceeded your per-minute rate limit (simulated "
                  "by llmgw-sim " + info_.name + ").";
      } else if (status == 529) {
        message = "Overloaded";
      } else if (status >= 500) {
        message = "Internal server error";
      } else {
        message = "Simulated error " + std::to_string(status) + " from llmgw-sim " + info_.name +
                  ".";
      }
    }
    auto reply = error_reply(status, fields.type.empty() ? default_error_type(status) : fields.type,
                             message, fields.code);
    if (!fields.retry_after.empty()) {
      reply.headers.emplace_back("retry-after", fields.retry_after);
    }
    if (!fields.retry_after_ms.empty()) {
      reply.headers.emplace_back("retry-after-ms", fields.retry_after_ms);
    }
    return reply;
  }

  Reply handle(const ApiRequest& request, Wrong garbage) const override {
    if (request.header("anthropic-version").empty()) {
      return invalid_request("anthropic-version: header is required");
    }
    const std::string_view path = request.path;
    const bool post = request.method == "POST";
    if (post && path == "/v1/messages") {
      return messages(request, garbage);
    }
    if (post && path == "/v1/messages/count_tokens") {
      return count_tokens(request);
    }
    if (request.method == "GET" && path == "/v1/models") {
      return list_models();
    }
    constexpr std::string_view kModelPrefix = "/v1/models/";
    if (request.method == "GET" && path.starts_with(kModelPrefix) &&
        path.size() > kModelPrefix.size()) {
      return retrieve_model(path.substr(kModelPrefix.size()));
    }
    return not_found(request);
  }

 private:
  static std::optional<Json> parse_body(const ApiRequest& request, Reply& error) {
    auto body = parse_untrusted(request.body);
    if (!body || !body->is_object()) {
      error = invalid_request(
          "There was an error parsing the body of your request: expected a JSON object");
      return std::nullopt;
    }
    return std::move(*body);
  }

  // Maps the Messages request onto the neutral conversation the answer engine reads: `system`
  // becomes system messages, tool_result blocks become "tool" messages (tool_call_id) and
  // tool_use blocks the assistant's tool_calls, so !history reads the same on every face.
  static std::optional<ParsedRequest> parse_request(const Json& body, bool need_max_tokens,
                                                    Reply& error) {
    ParsedRequest parsed;
    auto model = body.find("model");
    if (model == body.end()) {
      error = invalid_request("model: Field required");
      return std::nullopt;
    }
    if (!model->is_string()) {
      error = invalid_request("model: Input should be a valid string");
      return std::nullopt;
    }
    parsed.model = model->get<std::string>();

    auto max_tokens = body.find("max_tokens");
    if (max_tokens == body.end()) {
      if (need_max_tokens) {
        error = invalid_request("max_tokens: Field required");
        return std::nullopt;
      }
    } else if (!max_tokens->is_number_integer()) {
      error = invalid_request("max_tokens: Input should be a valid integer");
      return std::nullopt;
    } else if (max_tokens->get<std::int64_t>() < 1) {
      error = invalid_request("max_tokens: Input should be greater than or equal to 1");
      return std::nullopt;
    } else {
      parsed.conversation.max_tokens = max_tokens->get<std::int64_t>();
    }

    if (auto stream = body.find("stream"); stream != body.end() && !stream->is_null()) {
      if (!stream->is_boolean()) {
        error = invalid_request("stream: Input should be a valid boolean");
        return std::nullopt;
      }
      parsed.stream = stream->get<bool>();
    }

    if (auto thinking = body.find("thinking"); thinking != body.end() && !thinking->is_null()) {
      const std::string type = thinking->is_object() ? string_field(*thinking, "type") : "";
      if (type == "enabled") {
        auto budget = thinking->find("budget_tokens");
        if (budget == thinking->end() || !budget->is_number_integer() ||
            budget->get<std::int64_t>() < 1024) {
          error = invalid_request("thinking.enabled.budget_tokens: Input should be greater than "
                                  "or equal to 1024");
          return std::nullopt;
        }
        if (budget->get<std::int64_t>() >= parsed.conversation.max_tokens) {
          error = invalid_request("`max_tokens` must be greater than `thinking.budget_tokens`");
          return std::nullopt;
        }
        parsed.thinking = true;
      } else if (type == "adaptive") {
        parsed.thinking = true;
      } else if (type != "disabled") {
        error = invalid_request("thinking: Input tag '" + type + "' found using 'type' does "
                                "not match any of the expected tags");
        return std::nullopt;
      }
    }

    auto& messages = parsed.conversation.messages;
    if (auto system = body.find("system"); system != body.end() && !system->is_null()) {
      if (system->is_string()) {
        Message message;
        message.role = "system";
        message.text = system->get<std::string>();
        messages.push_back(std::move(message));
      } else if (system->is_array()) {
        // One system message per text block, as the OpenAI face sees one per system message.
        for (const auto& block : *system) {
          if (!block.is_object() || string_field(block, "type") != "text") {
            continue;
          }
          Message message;
          message.role = "system";
          message.text = string_field(block, "text");
          message.content_was_string = false;
          messages.push_back(std::move(message));
        }
      } else {
        error = invalid_request("system: Input should be a valid string");
        return std::nullopt;
      }
    }

    auto raw_messages = body.find("messages");
    if (raw_messages == body.end()) {
      error = invalid_request("messages: Field required");
      return std::nullopt;
    }
    if (!raw_messages->is_array()) {
      error = invalid_request("messages: Input should be a valid list");
      return std::nullopt;
    }
    if (raw_messages->empty()) {
      error = invalid_request("messages: at least one message is required");
      return std::nullopt;
    }

    bool tool_blocks = false;
    std::set<std::string, std::less<>> previous_tool_uses;  // tool_use ids of the last turn
    for (std::size_t i = 0; i < raw_messages->size(); ++i) {
      const auto& raw = (*raw_messages)[i];
      const std::string where = "messages." + std::to_string(i);
      if (!raw.is_object()) {
        error = invalid_request(where + ": Input should be a valid dictionary");
        return std::nullopt;
      }
      auto role = raw.find("role");
      if (role == raw.end()) {
        error = invalid_request(where + ".role: Field required");
        return std::nullopt;
      }
      if (!role->is_string() || (*role != "user" && *role != "assistant" && *role != "system")) {
        error = invalid_request(where + ".role: Input should be 'user' or 'assistant'");
        return std::nullopt;
      }
      auto content = raw.find("content");
      if (content == raw.end()) {
        error = invalid_request(where + ".content: Field required");
        return std::nullopt;
      }
      std::set<std::string, std::less<>> tool_uses;
      Message message;
      message.role = role->get<std::string>();
      if (content->is_string()) {
        message.text = content->get<std::string>();
        messages.push_back(std::move(message));
      } else if (content->is_array()) {
        message.content_was_string = false;
        bool has_text = false;
        bool has_tool_result = false;
        Json tool_calls = Json::array();
        for (std::size_t j = 0; j < content->size(); ++j) {
          const auto& block = (*content)[j];
          if (!block.is_object()) {
            continue;
          }
          const std::string type = string_field(block, "type");
          if (type == "text") {
            has_text = true;
          } else if (type == "thinking" && message.role == "assistant") {
            if (!string_field(block, "signature").starts_with(kSignaturePrefix)) {
              error = invalid_request(where + ".content." + std::to_string(j) +
                                      ": Invalid `signature` in `thinking` block");
              return std::nullopt;
            }
          } else if (type == "tool_use" && message.role == "assistant") {
            tool_blocks = true;
            const std::string id = string_field(block, "id");
            tool_uses.insert(id);
            Json function;
            function["name"] = string_field(block, "name");
            auto input = block.find("input");
            function["arguments"] =
                input == block.end() ? std::string("{}") : dump(*input);
            Json call;
            call["id"] = id;
            call["type"] = "function";
            call["function"] = std::move(function);
            tool_calls.push_back(std::move(call));
          } else if (type == "tool_result" && message.role == "user") {
            tool_blocks = true;
            has_tool_result = true;
            const std::string id = string_field(block, "tool_use_id");
            if (!previous_tool_uses.contains(id)) {
              error = invalid_request(
                  where + ".content." + std::to_string(j) +
                  ": unexpected `tool_use_id` found in `tool_result` blocks: " + id +
                  ". Each `tool_result` block must have a corresponding `tool_use` block in the "
                  "previous message.");
              return std::nullopt;
            }
            Message result;
            result.role = "tool";
            auto result_content = block.find("content");
            if (result_content == block.end() || result_content->is_null()) {
              result.text = std::string();
            } else if (result_content->is_string()) {
              result.text = result_content->get<std::string>();
            } else {
              result.content_was_string = false;
              result.text = join_text(*result_content);
            }
            result.extras["tool_call_id"] = id;
            if (auto is_error = block.find("is_error");
                is_error != block.end() && is_error->is_boolean() && is_error->get<bool>()) {
              result.extras["is_error"] = true;
            }
            messages.push_back(std::move(result));
          }
        }
        if (!tool_calls.empty()) {
          message.extras["tool_calls"] = std::move(tool_calls);
        }
        if (has_text || message.extras.empty()) {
          message.text = join_text(*content);
        }
        // A user turn made only of tool results is fully represented by its "tool" messages.
        if (!(has_tool_result && !has_text)) {
          messages.push_back(std::move(message));
        }
      } else {
        error = invalid_request(where + ".content: Input should be a valid list");
        return std::nullopt;
      }
      previous_tool_uses = std::move(tool_uses);
    }

    auto tools = body.find("tools");
    const bool has_tools = tools != body.end() && tools->is_array() && !tools->empty();
    if (tool_blocks && !has_tools) {
      error = invalid_request(
          "Requests which include `tool_use` or `tool_result` blocks must define tools.");
      return std::nullopt;
    }
    parsed.conversation.has_tools = has_tools;
    return parsed;
  }

  Reply messages(const ApiRequest& request, Wrong garbage) const {
    Reply error;
    auto body = parse_body(request, error);
    if (!body) {
      return error;
    }
    auto parsed = parse_request(*body, true, error);
    if (!parsed) {
      return error;
    }
    auto answer = make_answer(parsed->conversation, {info_.name, garbage});
    // "!refusal": the model declines (stop_reason refusal, no output), for the gateway's
    // content_filter mapping.
    const bool refusal = garbage == Wrong::none && last_user_text(parsed->conversation) == "!refusal";
    std::string_view stop_reason = answer.finish == FinishReason::length      ? "max_tokens"
                                   : answer.finish == FinishReason::tool_calls ? "tool_use"
                                                                               : "end_turn";
    if (refusal) {
      answer.chunks.clear();
      answer.tool_call.reset();
      answer.argument_fragments.clear();
      answer.completion_tokens = 0;
      stop_reason = "refusal";
    }
    const std::string id = "msg_01" + random_base62(22);
    const std::string tool_id = "toolu_01" + random_base62(22);
    const std::string thinking =
        parsed->thinking ? "The user wrote: " + std::string(last_user_text(parsed->conversation)) : "";
    const std::string signature =
        parsed->thinking ? std::string(kSignaturePrefix) + random_base62(24) : "";
    if (parsed->stream) {
      return stream(answer, parsed->model, id, tool_id, stop_reason, thinking, signature);
    }

    Json content = Json::array();
    if (parsed->thinking) {
      Json block;
      block["type"] = "thinking";
      block["thinking"] = thinking;
      block["signature"] = signature;
      content.push_back(std::move(block));
    }
    if (answer.tool_call) {
      Json caller;
      caller["type"] = "direct";
      Json block;
      block["type"] = "tool_use";
      block["id"] = tool_id;
      block["name"] = answer.tool_call->name;
      block["input"] = arguments_object(answer.tool_call->arguments);
      block["caller"] = std::move(caller);
      content.push_back(std::move(block));
    } else if (!answer.chunks.empty()) {
      Json block;
      block["type"] = "text";
      block["text"] = answer.content();
      content.push_back(std::move(block));
    }
    Json out;
    out["model"] = parsed->model;
    out["id"] = id;
    out["type"] = "message";
    out["role"] = "assistant";
    out["content"] = std::move(content);
    out["stop_reason"] = stop_reason;
    out["stop_sequence"] = nullptr;
    out["usage"] = usage_json(answer.prompt_tokens, answer.completion_tokens);
    Reply reply;
    reply.body = dump(out);
    reply.headers.emplace_back("request-id", "req_011C" + random_base62(20));
    return reply;
  }

  Reply stream(const Answer& answer, const std::string& model, const std::string& id,
               const std::string& tool_id, std::string_view stop_reason,
               const std::string& thinking, const std::string& signature) const {
    Reply reply;
    reply.stream = true;
    reply.content_type = "text/event-stream; charset=utf-8";
    reply.headers.emplace_back("Cache-Control", "no-cache");
    reply.headers.emplace_back("request-id", "req_011C" + random_base62(20));
    reply.events.reserve(answer.chunks.size() + 8);

    Json message;
    message["model"] = model;
    message["id"] = id;
    message["type"] = "message";
    message["role"] = "assistant";
    message["content"] = Json::array();
    message["stop_reason"] = nullptr;
    message["stop_sequence"] = nullptr;
    message["usage"] = usage_json(answer.prompt_tokens, 1);
    Json start;
    start["type"] = "message_start";
    start["message"] = std::move(message);
    append_event(reply.events, "message_start", dump(start));

    std::string json;
    // The answer's block: 0, or 1 after a thinking block.
    const std::string index = thinking.empty() ? "0" : "1";
    if (!thinking.empty()) {
      append_event(reply.events, "content_block_start",
                   R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}})");
      json = R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":)";
      append_json_string(json, thinking);
      json += "}}";
      append_event(reply.events, "content_block_delta", json);
      json = R"({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":)";
      append_json_string(json, signature);
      json += "}}";
      append_event(reply.events, "content_block_delta", json);
      append_event(reply.events, "content_block_stop", R"({"type":"content_block_stop","index":0})");
    }
    if (answer.tool_call) {
      json = "{\"type\":\"content_block_start\",\"index\":" + index +
             ",\"content_block\":{\"type\":\"tool_use\",\"id\":";
      append_json_string(json, tool_id);
      json += ",\"name\":";
      append_json_string(json, answer.tool_call->name);
      json += ",\"input\":{},\"caller\":{\"type\":\"direct\"}}}";
    } else {
      json = R"({"type":"content_block_start","index":)" + index +
             R"(,"content_block":{"type":"text","text":""}})";
    }
    append_event(reply.events, "content_block_start", json);
    reply.events.emplace_back("event: ping\ndata: {\"type\": \"ping\"}\n\n");

    if (answer.tool_call) {
      const std::string kPrefix = R"({"type":"content_block_delta","index":)" + index +
                                  R"(,"delta":{"type":"input_json_delta","partial_json":)";
      // Real tool streams open with an empty fragment; it carries no content, so die_after
      // counts from the fragment after it.
      json.assign(kPrefix).append("\"\"}}");
      append_event(reply.events, "content_block_delta", json);
      reply.first_content_event = reply.events.size();
      for (const auto& fragment : answer.argument_fragments) {
        json.assign(kPrefix);
        append_json_string(json, fragment);
        json.append("}}");
        append_event(reply.events, "content_block_delta", json);
      }
      reply.content_events = answer.argument_fragments.size();
    } else {
      const std::string kPrefix = R"({"type":"content_block_delta","index":)" + index +
                                  R"(,"delta":{"type":"text_delta","text":)";
      reply.first_content_event = reply.events.size();
      for (const auto& piece : answer.chunks) {
        json.assign(kPrefix);
        append_json_string(json, piece);
        json.append("}}");
        append_event(reply.events, "content_block_delta", json);
      }
      reply.content_events = answer.chunks.size();
    }
    append_event(reply.events, "content_block_stop",
                 R"({"type":"content_block_stop","index":)" + index + "}");

    json = R"({"type":"message_delta","delta":{"stop_reason":")";
    json.append(stop_reason).append(R"(","stop_sequence":null},"usage":{"input_tokens":)");
    json.append(std::to_string(answer.prompt_tokens));
    json.append(R"(,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":)");
    json.append(std::to_string(answer.completion_tokens)).append("}}");
    append_event(reply.events, "message_delta", json);
    append_event(reply.events, "message_stop", R"({"type":"message_stop"})");
    reply.event_prefix = "event: content_block_delta\ndata: ";
    reply.terminator = reply.events.back();
    return reply;
  }

  Reply count_tokens(const ApiRequest& request) const {
    Reply error;
    auto body = parse_body(request, error);
    if (!body) {
      return error;
    }
    auto parsed = parse_request(*body, false, error);
    if (!parsed) {
      return error;
    }
    Json out;
    out["input_tokens"] = make_answer(parsed->conversation, {info_.name, Wrong::none}).prompt_tokens;
    Reply reply;
    reply.body = dump(out);
    return reply;
  }

  static Json model_object(std::string_view id) {
    Json model;
    model["type"] = "model";
    model["id"] = id;
    model["display_name"] = id;
    model["created_at"] = kModelCreatedAt;
    return model;
  }

  Reply list_models() const {
    Json data = Json::array();
    for (const auto& id : info_.models) {
      data.push_back(model_object(id));
    }
    Json out;
    out["data"] = std::move(data);
    out["has_more"] = false;
    out["first_id"] = info_.models.empty() ? Json(nullptr) : Json(info_.models.front());
    out["last_id"] = info_.models.empty() ? Json(nullptr) : Json(info_.models.back());
    Reply reply;
    reply.body = dump(out);
    return reply;
  }

  Reply retrieve_model(std::string_view id) const {
    for (const auto& model : info_.models) {
      if (model == id) {
        Reply reply;
        reply.body = dump(model_object(id));
        return reply;
      }
    }
    return error_reply(404, "not_found_error", "model: " + std::string(id));
  }

  SimInfo info_;
};

}  // namespace

std::unique_ptr<WireFormat> make_anthropic_format(const SimInfo& info) {
  return std::make_unique<AnthropicFormat>(info);
}

}  // namespace llmgw::sim
