// The Gemini face: POST /v1beta/models/{model}:generateContent, :streamGenerateContent (SSE with
// alt=sse, otherwise a JSON array sent piece by piece), :countTokens, :embedContent,
// :batchEmbedContents, and GET /v1beta/models[/{model}]. Byte layout follows recordings of
// generativelanguage.googleapis.com (tests/fixtures/gemini): bodies pretty-printed with a
// two-space indent; SSE events are `data: {json}\r\n\r\n` in Google's compact style (`"key": v`,
// items joined by a bare comma), no `event:` lines and no terminator; usageMetadata is
// cumulative in every chunk and finishReason arrives on the last one.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "answer.hpp"
#include "llmgw/common/strings.hpp"
#include "wire.hpp"

namespace llmgw::sim {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kPrefix = "/v1beta/models";
constexpr std::string_view kJsonType = "application/json; charset=UTF-8";
constexpr std::int64_t kMaxDimensions = 16384;

std::string pretty(const Json& value) {
  return value.dump(2, ' ', false, Json::error_handler_t::replace);
}

// Google's single-line JSON: `{"candidates": [{"content": {"parts": [...]},"index": 0}]}`.
void append_compact(std::string& out, const Json& value) {
  if (value.is_object()) {
    out.push_back('{');
    bool first = true;
    for (const auto& [key, item] : value.items()) {
      if (!first) {
        out.push_back(',');
      }
      first = false;
      append_json_string(out, key);
      out.append(": ");
      append_compact(out, item);
    }
    out.push_back('}');
  } else if (value.is_array()) {
    out.push_back('[');
    bool first = true;
    for (const auto& item : value) {
      if (!first) {
        out.push_back(',');
      }
      first = false;
      append_compact(out, item);
    }
    out.push_back(']');
  } else if (value.is_string()) {
    append_json_string(out, value.get_ref<const std::string&>());
  } else {
    out.append(value.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
}

// Proto JSON accepts both lowerCamelCase and snake_case field names.
const Json* field(const Json& object, std::string_view camel, std::string_view snake) {
  if (!object.is_object()) {
    return nullptr;
  }
  for (auto name : {camel, snake}) {
    auto it = object.find(name);
    if (it != object.end() && !it->is_null()) {
      return &*it;
    }
  }
  return nullptr;
}

std::string string_field(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string_view status_name(unsigned code) {
  switch (code) {
    case 400:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "ABORTED";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 499:
      return "CANCELLED";
    case 501:
      return "UNIMPLEMENTED";
    case 502:
    case 503:
    case 529:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return code >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
  }
}

Reply error_reply(unsigned code, std::string_view message, std::string_view status = {},
                  Json details = Json()) {
  Json error;
  error["code"] = code;
  error["message"] = message;
  error["status"] = status.empty() ? status_name(code) : status;
  if (details.is_array() && !details.empty()) {
    error["details"] = std::move(details);
  }
  Json body;
  body["error"] = std::move(error);
  Reply reply;
  reply.status = code;
  reply.content_type = std::string(kJsonType);
  reply.body = pretty(body);
  return reply;
}

Reply invalid_argument(std::string_view message) {
  return error_reply(400, message);
}

Json error_info(std::string_view reason) {
  Json metadata;
  metadata["service"] = "generativelanguage.googleapis.com";
  Json info;
  info["@type"] = "type.googleapis.com/google.rpc.ErrorInfo";
  info["reason"] = reason;
  info["domain"] = "googleapis.com";
  info["metadata"] = std::move(metadata);
  return info;
}

// "2" (seconds) or "1500" (ms) → "2s" / "1.5s", the google.protobuf.Duration JSON form.
std::string retry_delay(const ErrorFields& fields) {
  auto parse = [](const std::string& text) {
    char* end = nullptr;
    const double value = text.empty() ? -1 : std::strtod(text.c_str(), &end);
    return end != nullptr && end != text.c_str() && *end == '\0' && value >= 0 ? value : -1.0;
  };
  double seconds = parse(fields.retry_after_ms);
  seconds = seconds >= 0 ? seconds / 1000 : parse(fields.retry_after);
  if (seconds < 0) {
    return {};
  }
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%.3f", seconds);
  std::string out = buffer;
  while (out.ends_with('0')) {
    out.pop_back();
  }
  if (out.ends_with('.')) {
    out.pop_back();
  }
  return out + "s";
}

// Percent-decoded value of a query parameter; nullopt when absent.
std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      std::string value;
      const auto raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '%' && i + 2 < raw.size() && common::hex_value(raw[i + 1]) >= 0 &&
            common::hex_value(raw[i + 2]) >= 0) {
          value.push_back(static_cast<char>(common::hex_value(raw[i + 1]) * 16 + common::hex_value(raw[i + 2])));
          i += 2;
        } else {
          value.push_back(raw[i] == '+' ? ' ' : raw[i]);
        }
      }
      return value;
    }
    if (amp == std::string_view::npos) {
      break;
    }
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// The text parts of a Content object joined by a space; thought parts are not the answer.
std::string parts_text(const Json& content) {
  std::string text;
  const Json* parts = field(content, "parts", "parts");
  if (!parts || !parts->is_array()) {
    return text;
  }
  for (const auto& part : *parts) {
    if (!part.is_object()) {
      continue;
    }
    auto thought = part.find("thought");
    if (thought != part.end() && thought->is_boolean() && thought->get<bool>()) {
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
  return text;
}

Json usage_json(std::int64_t prompt, std::int64_t candidates) {
  Json details;
  details["modality"] = "TEXT";
  details["tokenCount"] = prompt;
  Json usage;
  usage["promptTokenCount"] = prompt;
  if (candidates > 0) {
    usage["candidatesTokenCount"] = candidates;  // proto3 JSON leaves zero counts out
  }
  usage["totalTokenCount"] = prompt + candidates;
  usage["promptTokensDetails"] = Json::array({std::move(details)});
  return usage;
}

Json safety_ratings(bool blocked) {
  Json ratings = Json::array();
  for (const char* category : {"HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_HATE_SPEECH",
                               "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_DANGEROUS_CONTENT"}) {
    const bool hit = blocked && std::string_view(category) == "HARM_CATEGORY_HATE_SPEECH";
    Json rating;
    rating["category"] = category;
    rating["probability"] = hit ? "HIGH" : "NEGLIGIBLE";
    if (hit) {
      rating["blocked"] = true;
    }
    ratings.push_back(std::move(rating));
  }
  return ratings;
}

// A candidate with the given parts (none: no `content`, as on SAFETY/RECITATION stops).
Json candidate(Json parts, std::string_view finish) {
  Json out;
  if (!parts.is_null()) {
    Json content;
    content["parts"] = std::move(parts);
    content["role"] = "model";
    out["content"] = std::move(content);
  }
  if (!finish.empty()) {
    out["finishReason"] = finish;
  }
  out["index"] = 0;
  return out;
}

Json text_parts(std::string_view text) {
  Json part;
  part["text"] = text;
  return Json::array({std::move(part)});
}

enum class Special { none, blocked, safety, recitation };

class GeminiFormat final : public WireFormat {
 public:
  explicit GeminiFormat(SimInfo info) : info_(std::move(info)) {}

  bool owns(std::string_view path) const override {
    return path == "/v1beta" || path.starts_with("/v1beta/");
  }

  bool authorized(const ApiRequest& request, std::string_view api_key) const override {
    return request.header("x-goog-api-key") == api_key ||
           query_param(request.query, "key") == api_key;
  }

  Reply unauthorized(const ApiRequest& request) const override {
    const auto key = query_param(request.query, "key");
    if (request.header("x-goog-api-key").empty() && (!key || key->empty())) {
      return error_reply(403,
                         "Method doesn't allow unregistered callers (callers without established "
                         "identity). Please use API Key or other form of API consumer identity "
                         "to call this API.");
    }
    // The real service answers a wrong key with 400, not 401.
    constexpr std::string_view kMessage = "API key not valid. Please pass a valid API key.";
    Json localized;
    localized["@type"] = "type.googleapis.com/google.rpc.LocalizedMessage";
    localized["locale"] = "en-US";
    localized["message"] = kMessage;
    return error_reply(400, kMessage, "INVALID_ARGUMENT",
                       Json::array({error_info("API_KEY_INVALID"), std::move(localized)}));
  }

  Reply not_found(const ApiRequest& request) const override {
    return error_reply(404, "Method not found: " + request.method + " " + request.path + ".");
  }

  Reply payload_too_large() const override {
    return invalid_argument("Request payload size exceeds the limit: 16777216 bytes.");
  }

  Reply error(unsigned status, const ErrorFields& fields) const override {
    std::string message = fields.message;
    if (message.empty()) {
      switch (status) {
        case 429:
          message = "Resource has been exhausted (e.g. check quota). (simulated by llmgw-sim " +
                    info_.name + ")";
          break;
        case 503:
          message = "The model is overloaded. Please try again later. (simulated by llmgw-sim " +
                    info_.name + ")";
          break;
        case 500:
          message =
              "An internal error has occurred. Please retry or report in "
              "https://developers.generativeai.google/guide/troubleshooting (simulated by "
              "llmgw-sim " +
              info_.name + ")";
          break;
        default:
          message = "Simulated error " + std::to_string(status) + " from llmgw-sim " +
                    info_.name + ".";
          break;
      }
    }
    Json details = Json::array();
    if (!fields.code.empty()) {
      details.push_back(error_info(fields.code));
    }
    if (status == 429) {
      Json violation;
      violation["quotaMetric"] = "generativelanguage.googleapis.com/generate_content_requests";
      violation["quotaId"] = "GenerateRequestsPerMinutePerProjectPerModel";
      Json quota;
      quota["@type"] = "type.googleapis.com/google.rpc.QuotaFailure";
      quota["violations"] = Json::array({std::move(violation)});
      details.push_back(std::move(quota));
    }
    // No retry-after headers on this API: the delay travels only as RetryInfo.
    if (auto delay = retry_delay(fields); !delay.empty()) {
      Json retry;
      retry["@type"] = "type.googleapis.com/google.rpc.RetryInfo";
      retry["retryDelay"] = delay;
      details.push_back(std::move(retry));
    }
    return error_reply(status, message, fields.type, std::move(details));
  }

  Reply handle(const ApiRequest& request, Wrong garbage) const override {
    const std::string_view path = request.path;
    if (request.method == "GET" && path == kPrefix) {
      return list_models();
    }
    if (!path.starts_with(kPrefix) || path.size() <= kPrefix.size() + 1 ||
        path[kPrefix.size()] != '/') {
      return not_found(request);
    }
    const std::string_view rest = path.substr(kPrefix.size() + 1);
    const auto colon = rest.find(':');
    const std::string model(rest.substr(0, colon));
    if (colon == std::string_view::npos) {
      return request.method == "GET" ? get_model(model) : not_found(request);
    }
    const std::string_view method = rest.substr(colon + 1);
    if (request.method != "POST" || model.empty()) {
      return not_found(request);
    }
    if (method == "generateContent") {
      return generate(request, model, Mode::unary, garbage);
    }
    if (method == "streamGenerateContent") {
      const bool sse = query_param(request.query, "alt") == "sse";
      return generate(request, model, sse ? Mode::sse : Mode::array, garbage);
    }
    if (method == "countTokens") {
      return count_tokens(request, model);
    }
    if (method == "embedContent") {
      return embed_content(request, model, garbage != Wrong::none);
    }
    if (method == "batchEmbedContents") {
      return batch_embed_contents(request, model, garbage != Wrong::none);
    }
    return not_found(request);
  }

 private:
  enum class Mode { unary, sse, array };

  static std::optional<Json> parse_body(const ApiRequest& request, Reply& error) {
    auto body = parse_untrusted(request.body);
    if (!body || !body->is_object()) {
      error = invalid_argument("Invalid JSON payload received. Unexpected token.");
      return std::nullopt;
    }
    return std::move(*body);
  }

  // Maps a GenerateContentRequest onto the neutral conversation: systemInstruction parts become
  // system messages, "model" turns assistant ones (functionCall parts → tool_calls), and
  // functionResponse parts "tool" messages, so !history reads the same on every face.
  static std::optional<Conversation> parse_conversation(const Json& body, std::string_view model,
                                                        Reply& error) {
    Conversation conversation;
    auto& messages = conversation.messages;
    if (const Json* system = field(body, "systemInstruction", "system_instruction")) {
      const Json* parts = field(*system, "parts", "parts");
      if (parts && parts->is_array()) {
        for (const auto& part : *parts) {
          if (part.is_object() && part.contains("text") && part["text"].is_string()) {
            Message message;
            message.role = "system";
            message.text = part["text"].get<std::string>();
            message.content_was_string = false;
            messages.push_back(std::move(message));
          }
        }
      }
    }

    const Json* contents = field(body, "contents", "contents");
    if (!contents || (contents->is_array() && contents->empty())) {
      error = invalid_argument("* GenerateContentRequest.contents: contents is not specified\n");
      return std::nullopt;
    }
    if (!contents->is_array()) {
      error = invalid_argument(
          "Invalid value at 'contents' (type.googleapis.com/google.ai.generativelanguage.v1beta."
          "Content), expected a list");
      return std::nullopt;
    }
    // Gemini 3 rejects a history whose function-call turn lost its thought signature.
    const bool needs_signature = model.starts_with("gemini-3");
    for (std::size_t i = 0; i < contents->size(); ++i) {
      const auto& content = (*contents)[i];
      const std::string where = "contents[" + std::to_string(i) + "]";
      if (!content.is_object()) {
        error = invalid_argument("Invalid value at '" + where + "'");
        return std::nullopt;
      }
      const std::string role = string_field(content, "role");
      if (!role.empty() && role != "user" && role != "model" && role != "function") {
        error = invalid_argument("Please use a valid role: user, model.");
        return std::nullopt;
      }
      const Json* parts = field(content, "parts", "parts");
      if (!parts || !parts->is_array() || parts->empty()) {
        error = invalid_argument("* GenerateContentRequest." + where +
                                 ".parts: contents.parts must not be empty.\n");
        return std::nullopt;
      }
      bool has_text = false;
      bool has_response = false;
      bool first_call = true;
      Json tool_calls = Json::array();
      for (const auto& part : *parts) {
        if (!part.is_object()) {
          continue;
        }
        if (part.contains("text")) {
          has_text = true;
        }
        if (const Json* call = field(part, "functionCall", "function_call");
            call && role == "model") {
          const Json* signature = field(part, "thoughtSignature", "thought_signature");
          if (needs_signature && first_call && (!signature || !signature->is_string() ||
                                                signature->get_ref<const std::string&>().empty())) {
            error = invalid_argument(
                "Function call is missing a thought_signature in functionCall parts. This is "
                "required for tools to work correctly, and missing thought_signature may lead "
                "to degraded model performance. Additional data, function call `default_api:" +
                string_field(*call, "name") + "` , position " + std::to_string(i + 1) +
                ". Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for "
                "more details.");
            return std::nullopt;
          }
          first_call = false;
          Json function;
          function["name"] = string_field(*call, "name");
          const Json* args = field(*call, "args", "args");
          function["arguments"] = args ? args->dump(-1, ' ', false, Json::error_handler_t::replace)
                                       : std::string("{}");
          Json entry;
          if (auto id = string_field(*call, "id"); !id.empty()) {
            entry["id"] = id;
          }
          entry["type"] = "function";
          entry["function"] = std::move(function);
          tool_calls.push_back(std::move(entry));
        }
        if (const Json* response = field(part, "functionResponse", "function_response");
            response && role != "model") {
          has_response = true;
          Message result;
          result.role = "tool";
          result.content_was_string = false;
          const Json* payload = field(*response, "response", "response");
          if (!payload) {
            result.text = std::string();
          } else if (payload->is_object() && payload->contains("content") &&
                     (*payload)["content"].is_string()) {
            // The usual wrapping of a plain-text result: {"content": "..."}.
            result.text = (*payload)["content"].get<std::string>();
          } else {
            result.text = payload->dump(-1, ' ', false, Json::error_handler_t::replace);
          }
          if (auto id = string_field(*response, "id"); !id.empty()) {
            result.extras["tool_call_id"] = id;
          }
          result.extras["name"] = string_field(*response, "name");
          messages.push_back(std::move(result));
        }
      }
      Message message;
      message.role = role == "model" ? "assistant" : "user";
      message.content_was_string = false;
      if (!tool_calls.empty()) {
        message.extras["tool_calls"] = std::move(tool_calls);
      }
      if (has_text || message.extras.empty()) {
        message.text = parts_text(content);
      }
      if (!(has_response && !has_text)) {
        messages.push_back(std::move(message));
      }
    }

    if (const Json* tools = field(body, "tools", "tools"); tools && tools->is_array()) {
      for (const auto& tool : *tools) {
        const Json* declarations = field(tool, "functionDeclarations", "function_declarations");
        if (declarations && declarations->is_array() && !declarations->empty()) {
          conversation.has_tools = true;
        }
      }
    }
    if (const Json* config = field(body, "generationConfig", "generation_config")) {
      const Json* limit = field(*config, "maxOutputTokens", "max_output_tokens");
      if (limit && limit->is_number_integer() && limit->get<std::int64_t>() > 0) {
        conversation.max_tokens = limit->get<std::int64_t>();
      }
      const Json* mime = field(*config, "responseMimeType", "response_mime_type");
      conversation.json_mode = mime && mime->is_string() && *mime == "application/json";
    }
    return conversation;
  }

  static std::string thought_signature(const ToolCall& call) {
    // Opaque bytes like the real ones; clients must replay them untouched.
    return common::base64_encode("llmgw-sim:" + call.name + ":" + common::random_hex(48));
  }

  Reply generate(const ApiRequest& request, const std::string& model, Mode mode,
                 Wrong garbage) const {
    Reply error;
    auto body = parse_body(request, error);
    if (!body) {
      return error;
    }
    auto conversation = parse_conversation(*body, model, error);
    if (!conversation) {
      return error;
    }
    auto answer = make_answer(*conversation, {info_.name, garbage});
    Special special = Special::none;
    if (garbage == Wrong::none) {
      const auto text = last_user_text(*conversation);
      special = text == "!blocked"      ? Special::blocked
                : text == "!safety"     ? Special::safety
                : text == "!recitation" ? Special::recitation
                                        : Special::none;
    }
    if (special != Special::none) {
      answer.chunks.clear();
      answer.tool_call.reset();
      answer.completion_tokens = 0;
    }

    const std::string response_id = random_base62(23);
    const auto prompt = answer.prompt_tokens;
    // Each response shares the tail; candidates and usage vary.
    auto response = [&](Json candidate_json, std::int64_t completion) {
      Json out;
      if (!candidate_json.is_null()) {
        out["candidates"] = Json::array({std::move(candidate_json)});
      }
      out["usageMetadata"] = usage_json(prompt, completion);
      out["modelVersion"] = model;
      out["responseId"] = response_id;
      return out;
    };

    std::vector<Json> responses;  // the unary answer, or the stream's chunks
    std::size_t content_events = 0;
    const std::string_view finish = answer.finish == FinishReason::length ? "MAX_TOKENS" : "STOP";
    if (special == Special::blocked) {
      // The prompt is refused: no candidates at all.
      Json feedback;
      feedback["blockReason"] = "SAFETY";
      feedback["safetyRatings"] = safety_ratings(true);
      Json out;
      out["promptFeedback"] = std::move(feedback);
      out["usageMetadata"] = usage_json(prompt, 0);
      out["modelVersion"] = model;
      out["responseId"] = response_id;
      responses.push_back(std::move(out));
    } else if (special == Special::safety) {
      auto blocked = candidate(Json(), "SAFETY");
      blocked["safetyRatings"] = safety_ratings(true);
      responses.push_back(response(std::move(blocked), 0));
    } else if (special == Special::recitation) {
      responses.push_back(response(candidate(Json(), "RECITATION"), 0));
    } else if (answer.tool_call) {
      Json call;
      call["name"] = answer.tool_call->name;
      call["args"] = arguments_object(answer.tool_call->arguments);
      Json part;
      part["functionCall"] = std::move(call);
      part["thoughtSignature"] = thought_signature(*answer.tool_call);
      Json parts = Json::array({std::move(part)});
      if (mode == Mode::unary) {
        auto whole = candidate(std::move(parts), "STOP");
        whole["finishMessage"] = "Model generated function call(s).";
        responses.push_back(response(std::move(whole), answer.completion_tokens));
      } else {
        // As recorded: the call arrives whole in one chunk, finishReason in a later one.
        responses.push_back(response(candidate(std::move(parts), ""), answer.completion_tokens));
        responses.push_back(response(candidate(text_parts(""), "STOP"), answer.completion_tokens));
        content_events = 1;
      }
    } else if (mode == Mode::unary) {
      responses.push_back(
          response(candidate(text_parts(answer.content()), finish), answer.completion_tokens));
    } else {
      std::int64_t emitted = 0;
      for (const auto& piece : answer.chunks) {
        responses.push_back(response(candidate(text_parts(piece), ""), ++emitted));
      }
      content_events = answer.chunks.size();
      // The closing chunk: empty text with the finish reason (so a cut stream has none).
      responses.push_back(response(candidate(text_parts(""), finish), emitted));
    }

    Reply reply;
    if (mode == Mode::unary) {
      reply.content_type = std::string(kJsonType);
      reply.body = pretty(responses.front());
      return reply;
    }
    reply.stream = true;
    reply.first_content_event = 0;
    reply.content_events = content_events;
    reply.events.reserve(responses.size() + 1);
    if (mode == Mode::sse) {
      reply.content_type = "text/event-stream";
      reply.event_suffix = "\r\n\r\n";
      for (const auto& chunk : responses) {
        std::string event = "data: ";
        append_compact(event, chunk);
        event.append("\r\n\r\n");
        reply.events.push_back(std::move(event));
      }
    } else {
      // Without alt=sse the stream is one JSON array whose elements arrive one by one.
      reply.content_type = std::string(kJsonType);
      reply.json_array = true;
      for (std::size_t i = 0; i < responses.size(); ++i) {
        reply.events.push_back((i == 0 ? "[" : ",\r\n") + pretty(responses[i]));
      }
      reply.events.back().append("]");
    }
    return reply;
  }

  Reply count_tokens(const ApiRequest& request, const std::string& model) const {
    Reply error;
    auto body = parse_body(request, error);
    if (!body) {
      return error;
    }
    const Json* inner = field(*body, "generateContentRequest", "generate_content_request");
    auto conversation = parse_conversation(inner ? *inner : *body, model, error);
    if (!conversation) {
      return error;
    }
    const auto tokens = make_answer(*conversation, {info_.name, Wrong::none}).prompt_tokens;
    Json details;
    details["modality"] = "TEXT";
    details["tokenCount"] = tokens;
    Json out;
    out["totalTokens"] = tokens;
    out["promptTokensDetails"] = Json::array({std::move(details)});
    Reply reply;
    reply.content_type = std::string(kJsonType);
    reply.body = pretty(out);
    return reply;
  }

  // One EmbedContentRequest → (text, dimensions); on failure `error` holds the 400.
  static bool embed_request(const Json& request, std::string_view where, std::string& text,
                            std::int64_t& dimensions, Reply& error) {
    const Json* content = field(request, "content", "content");
    if (!content || !content->is_object()) {
      error = invalid_argument("* " + std::string(where) +
                               ".content: content is not specified\n");
      return false;
    }
    text = parts_text(*content);
    dimensions = kDefaultEmbeddingDimensions;
    if (const Json* size = field(request, "outputDimensionality", "output_dimensionality")) {
      if (!size->is_number_integer() || size->get<std::int64_t>() < 1 ||
          size->get<std::int64_t>() > kMaxDimensions) {
        error = invalid_argument("* " + std::string(where) +
                                 ".output_dimensionality: must be between 1 and " +
                                 std::to_string(kMaxDimensions) + "\n");
        return false;
      }
      dimensions = size->get<std::int64_t>();
    }
    return true;
  }

  static void append_values(std::string& out, std::string_view text, std::int64_t dimensions,
                            bool garbage, std::string_view indent) {
    // Hand-rendered so floats print as float32 shortest round-trip, like the real service.
    std::vector<float> vector(static_cast<std::size_t>(dimensions));
    embed_text(text, garbage, vector);
    char number[32];
    out.append(indent).append("\"values\": [");
    for (std::size_t i = 0; i < vector.size(); ++i) {
      out.append(i == 0 ? "\n" : ",\n").append(indent).append("  ");
      auto result = std::to_chars(number, number + sizeof(number), vector[i]);
      out.append(number, result.ptr);
    }
    out.append("\n").append(indent).append("]\n");
  }

  Reply embed_content(const ApiRequest& request, const std::string& /*model*/,
                      bool garbage) const {
    Reply error;
    auto body = parse_body(request, error);
    if (!body) {
      return error;
    }
    std::string text;
    std::int64_t dimensions = 0;
    if (!embed_request(*body, "EmbedContentRequest", text, dimensions, error)) {
      return error;
    }
    std::string out = "{\n  \"embedding\": {\n";
    append_values(out, text, dimensions, garbage, "    ");
    out.append("  }\n}");
    Reply reply;
    reply.content_type = std::string(kJsonType);
    reply.body = std::move(out);
    return reply;
  }

  Reply batch_embed_contents(const ApiRequest& request, const std::string& model,
                             bool garbage) const {
    Reply error;
    auto body = parse_body(request, error);
    if (!body) {
      return error;
    }
    const Json* requests = field(*body, "requests", "requests");
    if (!requests || !requests->is_array() || requests->empty()) {
      return invalid_argument("* BatchEmbedContentsRequest.requests: requests is not specified\n");
    }
    std::vector<std::pair<std::string, std::int64_t>> inputs;
    for (std::size_t i = 0; i < requests->size(); ++i) {
      const auto& item = (*requests)[i];
      const std::string where = "BatchEmbedContentsRequest.requests[" + std::to_string(i) + "]";
      if (!item.is_object()) {
        return invalid_argument("Invalid value at 'requests[" + std::to_string(i) + "]'");
      }
      if (auto named = string_field(item, "model"); !named.empty() && named != "models/" + model) {
        return invalid_argument("* " + where + ".model: model in the request (" + named +
                                ") does not match the model in the URL (models/" + model + ")\n");
      }
      std::string text;
      std::int64_t dimensions = 0;
      if (!embed_request(item, where, text, dimensions, error)) {
        return error;
      }
      inputs.emplace_back(std::move(text), dimensions);
    }
    std::string out = "{\n  \"embeddings\": [";
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      out.append(i == 0 ? "\n    {\n" : ",\n    {\n");
      append_values(out, inputs[i].first, inputs[i].second, garbage, "      ");
      out.append("    }");
    }
    out.append("\n  ]\n}");
    Reply reply;
    reply.content_type = std::string(kJsonType);
    reply.body = std::move(out);
    return reply;
  }

  Json model_object(std::string_view id) const {
    Json model;
    model["name"] = "models/" + std::string(id);
    model["version"] = "001";
    model["displayName"] = id;
    model["description"] = "Simulated by llmgw-sim " + info_.name;
    model["inputTokenLimit"] = 1048576;
    model["outputTokenLimit"] = 65536;
    model["supportedGenerationMethods"] =
        Json::array({"generateContent", "countTokens", "embedContent", "batchEmbedContents"});
    model["temperature"] = 1;
    model["topP"] = 0.95;
    model["topK"] = 64;
    model["maxTemperature"] = 2;
    return model;
  }

  Reply list_models() const {
    Json models = Json::array();
    for (const auto& id : info_.models) {
      models.push_back(model_object(id));
    }
    Json out;
    out["models"] = std::move(models);
    Reply reply;
    reply.content_type = std::string(kJsonType);
    reply.body = pretty(out);
    return reply;
  }

  Reply get_model(const std::string& id) const {
    for (const auto& model : info_.models) {
      if (model == id) {
        Reply reply;
        reply.content_type = std::string(kJsonType);
        reply.body = pretty(model_object(id));
        return reply;
      }
    }
    return error_reply(404, "models/" + id +
                                " is not found for API version v1beta, or is not supported for "
                                "generateContent. Call ListModels to see the list of available "
                                "models and their supported methods.");
  }

  SimInfo info_;
};

}  // namespace

std::unique_ptr<WireFormat> make_gemini_format(const SimInfo& info) {
  return std::make_unique<GeminiFormat>(info);
}

}  // namespace llmgw::sim
