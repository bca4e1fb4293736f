// The OpenAI face: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models.
// Byte layout follows recordings of api.openai.com (shared/data/fixtures/openai): non-stream
// bodies pretty-printed with two-space indent, stream chunks compact with the recorded key order.
#include <bit>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

#include "answer.hpp"
#include "llmgw/common/strings.hpp"
#include "wire.hpp"

namespace llmgw::sim {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::int64_t kModelCreated = 1700000000;
constexpr std::int64_t kMaxDimensions = 16384;

std::string dump(const Json& value) {
  return value.dump(2, ' ', false, Json::error_handler_t::replace);
}

Reply json_reply(unsigned status, const Json& body) {
  Reply reply;
  reply.status = status;
  reply.body = dump(body);
  return reply;
}

Reply error_reply(unsigned status, std::string_view message, std::string_view type,
                  std::string_view param = {}, std::string_view code = {}) {
  Json error;
  error["message"] = message;
  error["type"] = type;
  error["param"] = param.empty() ? Json(nullptr) : Json(param);
  error["code"] = code.empty() ? Json(nullptr) : Json(code);
  Json body;
  body["error"] = std::move(error);
  return json_reply(status, body);
}

Reply invalid_request(std::string_view message, std::string_view param = {},
                      std::string_view code = {}) {
  return error_reply(400, message, "invalid_request_error", param, code);
}

Reply missing_parameter(std::string_view param) {
  return invalid_request("Missing required parameter: '" + std::string(param) + "'.", param,
                         "missing_required_parameter");
}

Reply invalid_type(std::string_view param, std::string_view expected) {
  return invalid_request(
      "Invalid type for '" + std::string(param) + "': expected " + std::string(expected) + ".",
      param, "invalid_type");
}

// The message real OpenAI sends for an unparseable body, so clients surface the same text.
constexpr std::string_view kBadJson =
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
    "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was "
    "not valid JSON. If you have trouble figuring out how to fix this, please contact us through "
    "our help center at help.openai.com.)";

void append_event(std::vector<std::string>& events, std::string_view json) {
  std::string event;
  event.reserve(json.size() + 8);
  event.append("data: ").append(json).append("\n\n");
  events.push_back(std::move(event));
}

std::string usage_compact(std::int64_t prompt, std::int64_t completion) {
  std::string out;
  out.reserve(320);
  out.append("{\"prompt_tokens\":").append(std::to_string(prompt));
  out.append(",\"completion_tokens\":").append(std::to_string(completion));
  out.append(",\"total_tokens\":").append(std::to_string(prompt + completion));
  out.append(
      ",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
      "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
      "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}");
  return out;
}

Json usage_json(std::int64_t prompt, std::int64_t completion) {
  Json usage;
  usage["prompt_tokens"] = prompt;
  usage["completion_tokens"] = completion;
  usage["total_tokens"] = prompt + completion;
  Json prompt_details;
  prompt_details["cached_tokens"] = 0;
  prompt_details["audio_tokens"] = 0;
  usage["prompt_tokens_details"] = std::move(prompt_details);
  Json completion_details;
  completion_details["reasoning_tokens"] = 0;
  completion_details["audio_tokens"] = 0;
  completion_details["accepted_prediction_tokens"] = 0;
  completion_details["rejected_prediction_tokens"] = 0;
  usage["completion_tokens_details"] = std::move(completion_details);
  return usage;
}

// Text of a message `content`: a string, or the text parts of an array joined by a space.
std::optional<std::string> content_text(const Json& content, bool& was_string) {
  was_string = true;
  if (content.is_string()) {
    return content.get<std::string>();
  }
  if (content.is_null()) {
    return std::nullopt;
  }
  was_string = false;
  std::string text;
  if (content.is_array()) {
    for (const auto& part : content) {
      if (!part.is_object()) {
        continue;
      }
      auto it = part.find("text");
      if (it != part.end() && it->is_string()) {
        if (!text.empty()) {
          text.push_back(' ');
        }
        text += it->get_ref<const std::string&>();
      }
    }
  }
  return text;
}

std::optional<std::int64_t> integer_field(const Json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_number_integer()) {
    return std::nullopt;
  }
  return it->get<std::int64_t>();
}

bool bool_field(const Json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_boolean() && it->get<bool>();
}

// Parse the body as a JSON object; on failure `error` holds the 400 to send.
std::optional<Json> parse_object(const ApiRequest& request, Reply& error) {
  auto body = parse_untrusted(request.body);
  if (!body || !body->is_object()) {
    error = invalid_request(kBadJson);
    return std::nullopt;
  }
  return std::move(*body);
}

std::optional<std::string> model_field(const Json& body, Reply& error) {
  auto it = body.find("model");
  if (it == body.end() || !it->is_string()) {
    error = invalid_request("you must provide a model parameter");
    return std::nullopt;
  }
  return it->get<std::string>();
}

// Every model endpoint starts the same way: a JSON object body with a string "model".
struct ModelRequest {
  Json body;
  std::string model;
};

std::optional<ModelRequest> parse_model_request(const ApiRequest& request, Reply& error) {
  auto body = parse_object(request, error);
  if (!body) {
    return std::nullopt;
  }
  auto model = model_field(*body, error);
  if (!model) {
    return std::nullopt;
  }
  return ModelRequest{std::move(*body), std::move(*model)};
}

struct StreamFlags {
  bool stream = false;
  bool include_usage = false;
};

StreamFlags stream_flags(const Json& body) {
  StreamFlags flags;
  flags.stream = bool_field(body, "stream");
  auto options = body.find("stream_options");
  if (flags.stream && options != body.end() && options->is_object()) {
    flags.include_usage = bool_field(*options, "include_usage");
  }
  return flags;
}

class OpenAiFormat final : public WireFormat {
 public:
  explicit OpenAiFormat(SimInfo info) : info_(std::move(info)) {}

  bool owns(std::string_view path) const override {
    return path == "/v1" || path.starts_with("/v1/");
  }

  bool authorized(const ApiRequest& request, std::string_view api_key) const override {
    auto authorization = request.header("authorization");
    constexpr std::string_view kBearer = "bearer ";
    if (authorization.size() > kBearer.size() &&
        common::iequals(authorization.substr(0, kBearer.size()), kBearer) &&
        common::trim(authorization.substr(kBearer.size())) == api_key) {
      return true;
    }
    // Azure-style clients send the key in `api-key`.
    return request.header("api-key") == api_key;
  }

  Reply unauthorized(const ApiRequest& /*request*/) const override {
    return error_reply(401,
                       "Incorrect API key provided. You can find your API key at "
                       "https://platform.openai.com/account/api-keys.",
                       "invalid_request_error", {}, "invalid_api_key");
  }

  Reply not_found(const ApiRequest& request) const override {
    return error_reply(404, "Invalid URL (" + request.method + " " + request.path + ")",
                       "invalid_request_error");
  }

  Reply payload_too_large() const override {
    return error_reply(413, "Request body too large (limit 16 MiB).", "invalid_request_error");
  }

  Reply error(unsigned status, const ErrorFields& fields) const override {
    std::string_view type = fields.type;
    std::string_view code = fields.code;
    std::string_view message = fields.message;
    std::string fallback;
    if (status == 429) {
      type = type.empty() ? "requests" : type;
      code = code.empty() ? "rate_limit_exceeded" : code;
      fallback = "Rate limit reached for requests (simulated by llmgw-sim " + info_.name + ").";
    } else if (status == 529) {
      type = type.empty() ? "overloaded_error" : type;
      fallback = "Overloaded (simulated by llmgw-sim " + info_.name + ").";
    } else if (status >= 500) {
      type = type.empty() ? "server_error" : type;
      fallback =
          "The server had an error while processing your request. Sorry about that! "
          "(simulated by llmgw-sim " +
          info_.name + ")";
    } else {
      type = type.empty() ? "invalid_request_error" : type;
      fallback =
          "Simulated error " + std::to_string(status) + " from llmgw-sim " + info_.name + ".";
    }
    if (message.empty()) {
      message = fallback;
    }
    auto reply = error_reply(status, message, type, {}, code);
    if (!fields.retry_after.empty()) {
      reply.headers.emplace_back("retry-after", fields.retry_after);
    }
    if (!fields.retry_after_ms.empty()) {
      reply.headers.emplace_back("retry-after-ms", fields.retry_after_ms);
    }
    return reply;
  }

  Reply handle(const ApiRequest& request, Wrong garbage) const override {
    const std::string_view path = request.path;
    const bool post = request.method == "POST";
    if (post && path == "/v1/chat/completions") {
      return chat(request, garbage);
    }
    if (post && path == "/v1/completions") {
      return legacy(request, garbage);
    }
    if (post && path == "/v1/embeddings") {
      return embeddings(request, garbage != Wrong::none);
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
  Reply chat(const ApiRequest& request, Wrong garbage) const {
    Reply error;
    auto parsed = parse_model_request(request, error);
    if (!parsed) {
      return error;
    }
    auto& [body_json, model_name] = *parsed;
    Json* body = &body_json;
    std::string* model = &model_name;
    auto messages = body->find("messages");
    if (messages == body->end()) {
      return missing_parameter("messages");
    }
    if (!messages->is_array()) {
      return invalid_type("messages", "an array of objects");
    }
    if (messages->empty()) {
      return invalid_request(
          "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
          "empty array instead.",
          "messages", "empty_array");
    }

    Conversation conversation;
    conversation.messages.reserve(messages->size());
    for (std::size_t i = 0; i < messages->size(); ++i) {
      const auto& raw = (*messages)[i];
      const std::string param = "messages[" + std::to_string(i) + "]";
      if (!raw.is_object()) {
        return invalid_type(param, "an object");
      }
      auto role = raw.find("role");
      if (role == raw.end() || !role->is_string()) {
        return missing_parameter(param + ".role");
      }
      Message message;
      message.role = role->get<std::string>();
      auto content = raw.find("content");
      if (content != raw.end()) {
        message.text = content_text(*content, message.content_was_string);
      }
      for (const char* key : {"tool_calls", "tool_call_id", "name"}) {
        auto it = raw.find(key);
        if (it != raw.end()) {
          message.extras[key] = *it;
        }
      }
      conversation.messages.push_back(std::move(message));
    }
    auto tools = body->find("tools");
    conversation.has_tools = tools != body->end() && tools->is_array() && !tools->empty();
    if (auto rf = body->find("response_format"); rf != body->end() && rf->is_object()) {
      auto type = rf->find("type");
      conversation.json_mode = type != rf->end() && type->is_string() &&
                               (*type == "json_object" || *type == "json_schema");
    }
    auto limit = integer_field(*body, "max_completion_tokens");
    if (!limit) {
      limit = integer_field(*body, "max_tokens");
    }
    conversation.max_tokens = limit.value_or(0);

    const auto answer = make_answer(conversation, {info_.name, garbage});
    const auto flags = stream_flags(*body);
    const std::string id = "chatcmpl-" + common::random_hex(29);
    const auto created = static_cast<std::int64_t>(std::time(nullptr));
    if (flags.stream) {
      return chat_stream(answer, *model, id, created, flags.include_usage);
    }

    Json message;
    message["role"] = "assistant";
    if (answer.tool_call) {
      message["content"] = nullptr;
      Json function;
      function["name"] = answer.tool_call->name;
      function["arguments"] = answer.tool_call->arguments;
      Json call;
      call["id"] = answer.tool_call->id;
      call["type"] = "function";
      call["function"] = std::move(function);
      message["tool_calls"] = Json::array({std::move(call)});
    } else {
      message["content"] = answer.content();
    }
    message["refusal"] = nullptr;
    message["annotations"] = Json::array();
    Json choice;
    choice["index"] = 0;
    choice["message"] = std::move(message);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finish_reason_name(answer.finish);
    Json out;
    out["id"] = id;
    out["object"] = "chat.completion";
    out["created"] = created;
    out["model"] = *model;
    out["choices"] = Json::array({std::move(choice)});
    out["usage"] = usage_json(answer.prompt_tokens, answer.completion_tokens);
    out["service_tier"] = "default";
    out["system_fingerprint"] = info_.fingerprint;
    return json_reply(200, out);
  }

  Reply chat_stream(const Answer& answer, const std::string& model, const std::string& id,
                    std::int64_t created, bool include_usage) const {
    // Every chunk shares this prefix and (with include_usage) the `"usage":null` suffix.
    std::string prefix =
        "{\"id\":\"" + id +
        "\",\"object\":\"chat.completion.chunk\",\"created\":" + std::to_string(created) +
        ",\"model\":";
    append_json_string(prefix, model);
    prefix += ",\"service_tier\":\"default\",\"system_fingerprint\":";
    append_json_string(prefix, info_.fingerprint);
    prefix += ",\"choices\":[";
    const std::string_view suffix = include_usage ? "],\"usage\":null}" : "]}";
    constexpr std::string_view kTail = ",\"logprobs\":null,\"finish_reason\":null}";

    Reply reply = stream_reply();
    reply.events.reserve(answer.chunks.size() + 5);
    std::string chunk;
    auto emit = [&](std::string_view choice_body) {
      chunk.assign(prefix).append(choice_body).append(suffix);
      append_event(reply.events, chunk);
    };

    std::string choice;
    if (answer.tool_call) {
      const auto& call = *answer.tool_call;
      choice =
          "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
          "[{\"index\":0,\"id\":";
      append_json_string(choice, call.id);
      choice += ",\"type\":\"function\",\"function\":{\"name\":";
      append_json_string(choice, call.name);
      choice.append(",\"arguments\":\"\"}}],\"refusal\":null}").append(kTail);
      emit(choice);
      reply.first_content_event = reply.events.size();
      for (const auto& fragment : answer.argument_fragments) {
        choice =
            "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
            "{\"arguments\":";
        append_json_string(choice, fragment);
        choice.append("}}]}").append(kTail);
        emit(choice);
      }
      reply.content_events = answer.argument_fragments.size();
    } else {
      choice =
          "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
          "\"refusal\":null}";
      choice.append(kTail);
      emit(choice);
      reply.first_content_event = reply.events.size();
      for (const auto& piece : answer.chunks) {
        choice = "{\"index\":0,\"delta\":{\"content\":";
        append_json_string(choice, piece);
        choice.append("}").append(kTail);
        emit(choice);
      }
      reply.content_events = answer.chunks.size();
    }
    choice = "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"";
    choice.append(finish_reason_name(answer.finish)).append("\"}");
    emit(choice);
    if (include_usage) {
      chunk.assign(prefix).append("],\"usage\":");
      chunk.append(usage_compact(answer.prompt_tokens, answer.completion_tokens)).append("}");
      append_event(reply.events, chunk);
    }
    reply.events.emplace_back("data: [DONE]\n\n");
    return reply;
  }

  Reply legacy(const ApiRequest& request, Wrong garbage) const {
    Reply error;
    auto parsed = parse_model_request(request, error);
    if (!parsed) {
      return error;
    }
    auto& [body_json, model_name] = *parsed;
    Json* body = &body_json;
    std::string* model = &model_name;
    auto prompt = body->find("prompt");
    if (prompt == body->end()) {
      return missing_parameter("prompt");
    }
    Message message;
    message.role = "user";
    if (prompt->is_string()) {
      message.text = prompt->get<std::string>();
    } else if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_string()) {
      // One choice per prompt is not simulated: the first prompt answers.
      message.text = (*prompt)[0].get<std::string>();
    } else {
      return invalid_type("prompt", "a string or an array of strings");
    }
    Conversation conversation;
    conversation.messages.push_back(std::move(message));
    conversation.tokens_per_message = 0;
    conversation.max_tokens = integer_field(*body, "max_tokens").value_or(0);

    const auto answer = make_answer(conversation, {info_.name, garbage});
    const auto flags = stream_flags(*body);
    const std::string id = "cmpl-" + common::random_hex(29);
    const auto created = static_cast<std::int64_t>(std::time(nullptr));
    if (flags.stream) {
      return legacy_stream(answer, *model, id, created, flags.include_usage);
    }
    Json choice;
    choice["text"] = answer.content();
    choice["index"] = 0;
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finish_reason_name(answer.finish);
    Json usage;
    usage["prompt_tokens"] = answer.prompt_tokens;
    usage["completion_tokens"] = answer.completion_tokens;
    usage["total_tokens"] = answer.prompt_tokens + answer.completion_tokens;
    Json out;
    out["id"] = id;
    out["object"] = "text_completion";
    out["created"] = created;
    out["model"] = *model;
    out["choices"] = Json::array({std::move(choice)});
    out["usage"] = std::move(usage);
    return json_reply(200, out);
  }

  Reply legacy_stream(const Answer& answer, const std::string& model, const std::string& id,
                      std::int64_t created, bool include_usage) const {
    // Recorded legacy chunks put "choices" before "model" and, on a length cut, carry
    // finish_reason on the last text chunk instead of a separate one.
    std::string head = "{\"id\":\"" + id +
                       "\",\"object\":\"text_completion\",\"created\":" + std::to_string(created);
    std::string model_json;
    append_json_string(model_json, model);
    std::string tail = "],\"model\":" + model_json + (include_usage ? ",\"usage\":null}" : "}");

    Reply reply = stream_reply();
    std::string chunk;
    auto emit = [&](std::string_view text, std::string_view finish) {
      chunk.assign(head).append(",\"choices\":[{\"text\":");
      append_json_string(chunk, text);
      chunk.append(",\"index\":0,\"logprobs\":null,\"finish_reason\":");
      if (finish.empty()) {
        chunk.append("null");
      } else {
        chunk.append("\"").append(finish).append("\"");
      }
      chunk.append("}").append(tail);
      append_event(reply.events, chunk);
    };
    const bool cut = answer.finish == FinishReason::length && !answer.chunks.empty();
    for (std::size_t i = 0; i < answer.chunks.size(); ++i) {
      const bool last = i + 1 == answer.chunks.size();
      emit(answer.chunks[i], cut && last ? "length" : "");
    }
    reply.content_events = answer.chunks.size();
    if (!cut) {
      emit("", finish_reason_name(answer.finish));
    }
    if (include_usage) {
      chunk.assign(head).append(",\"model\":").append(model_json);
      chunk.append(",\"usage\":{\"prompt_tokens\":").append(std::to_string(answer.prompt_tokens));
      chunk.append(",\"completion_tokens\":").append(std::to_string(answer.completion_tokens));
      chunk.append(",\"total_tokens\":");
      chunk.append(std::to_string(answer.prompt_tokens + answer.completion_tokens));
      chunk.append("},\"choices\":[]}");
      append_event(reply.events, chunk);
    }
    reply.events.emplace_back("data: [DONE]\n\n");
    return reply;
  }

  Reply embeddings(const ApiRequest& request, bool garbage) const {
    Reply error;
    auto parsed = parse_model_request(request, error);
    if (!parsed) {
      return error;
    }
    auto& [body_json, model_name] = *parsed;
    Json* body = &body_json;
    std::string* model = &model_name;
    auto input = body->find("input");
    if (input == body->end()) {
      return missing_parameter("input");
    }
    // Each input's identity (what the vector is derived from) and its text for usage.
    std::vector<std::string> inputs;
    std::int64_t prompt_tokens = 0;
    if (input->is_string()) {
      inputs.push_back(input->get<std::string>());
      prompt_tokens += static_cast<std::int64_t>(count_words(inputs.back()));
    } else if (input->is_array() && !input->empty()) {
      if ((*input)[0].is_number_integer()) {
        // A single pre-tokenised input.
        inputs.push_back(input->dump());
        prompt_tokens += static_cast<std::int64_t>(input->size());
      } else {
        for (const auto& item : *input) {
          if (item.is_string()) {
            inputs.push_back(item.get<std::string>());
            prompt_tokens += static_cast<std::int64_t>(count_words(inputs.back()));
          } else if (item.is_array()) {
            inputs.push_back(item.dump());
            prompt_tokens += static_cast<std::int64_t>(item.size());
          } else {
            return invalid_type("input", "a string or an array of strings or tokens");
          }
        }
      }
    } else {
      return invalid_type("input", "a non-empty string or array");
    }

    std::int64_t dimensions = kDefaultEmbeddingDimensions;
    if (auto it = body->find("dimensions"); it != body->end() && !it->is_null()) {
      if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
          it->get<std::int64_t>() > kMaxDimensions) {
        return invalid_request(
            "Invalid value for 'dimensions': expected an integer between 1 and " +
                std::to_string(kMaxDimensions) + ".",
            "dimensions", "invalid_value");
      }
      dimensions = it->get<std::int64_t>();
    }
    bool base64 = false;
    if (auto it = body->find("encoding_format"); it != body->end() && !it->is_null()) {
      if (*it == "base64") {
        base64 = true;
      } else if (*it != "float") {
        return invalid_request(
            "Invalid value for 'encoding_format': expected one of 'float' or 'base64'.",
            "encoding_format", "invalid_value");
      }
    }

    // Hand-rendered so floats print as float32 shortest round-trip (like OpenAI), not as the
    // 17-digit doubles a JSON DOM would produce.
    std::string out = "{\n  \"object\": \"list\",\n  \"data\": [";
    std::vector<float> vector(static_cast<std::size_t>(dimensions));
    std::string bytes;
    char number[32];
    for (std::size_t index = 0; index < inputs.size(); ++index) {
      embed_text(inputs[index], garbage, vector);
      out.append(index == 0 ? "\n" : ",\n");
      out.append("    {\n      \"object\": \"embedding\",\n      \"index\": ");
      out.append(std::to_string(index)).append(",\n      \"embedding\": ");
      if (base64) {
        bytes.clear();
        for (float value : vector) {
          const auto bits = std::bit_cast<std::uint32_t>(value);
          for (int shift = 0; shift < 32; shift += 8) {
            bytes.push_back(static_cast<char>((bits >> shift) & 0xFF));
          }
        }
        out.append("\"").append(common::base64_encode(bytes)).append("\"");
      } else {
        out.append("[");
        for (std::size_t i = 0; i < vector.size(); ++i) {
          out.append(i == 0 ? "\n        " : ",\n        ");
          auto result = std::to_chars(number, number + sizeof(number), vector[i]);
          out.append(number, result.ptr);
        }
        out.append("\n      ]");
      }
      out.append("\n    }");
    }
    out.append("\n  ],\n  \"model\": ");
    append_json_string(out, *model);
    out.append(",\n  \"usage\": {\n    \"prompt_tokens\": ").append(std::to_string(prompt_tokens));
    out.append(",\n    \"total_tokens\": ").append(std::to_string(prompt_tokens));
    out.append("\n  }\n}");
    Reply reply;
    reply.body = std::move(out);
    return reply;
  }

  Json model_object(std::string_view id) const {
    Json model;
    model["id"] = id;
    model["object"] = "model";
    model["created"] = kModelCreated;
    model["owned_by"] = "llmgw-sim";
    return model;
  }

  Reply list_models() const {
    Json data = Json::array();
    for (const auto& id : info_.models) {
      data.push_back(model_object(id));
    }
    Json out;
    out["object"] = "list";
    out["data"] = std::move(data);
    return json_reply(200, out);
  }

  Reply retrieve_model(std::string_view id) const {
    for (const auto& model : info_.models) {
      if (model == id) {
        return json_reply(200, model_object(id));
      }
    }
    return error_reply(404, "The model '" + std::string(id) + "' does not exist",
                       "invalid_request_error", "model", "model_not_found");
  }

  static Reply stream_reply() {
    Reply reply;
    reply.stream = true;
    reply.content_type = "text/event-stream; charset=utf-8";
    reply.headers.emplace_back("Cache-Control", "no-cache");
    reply.terminator = "data: [DONE]\n\n";
    return reply;
  }

  SimInfo info_;
};

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;  // start of the pending run of characters that need no escaping
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      continue;
    }
    out.append(text.substr(run, i - run));
    run = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        out.append("\\u00").push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
        break;
    }
  }
  out.append(text.substr(run));
  out.push_back('"');
}

std::unique_ptr<WireFormat> make_openai_format(const SimInfo& info) {
  return std::make_unique<OpenAiFormat>(info);
}

}  // namespace llmgw::sim
