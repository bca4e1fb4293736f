// A managed prompt call (POST /v1/prompts/{name}) as data: the call's body checked and turned
// into its prompt's chat request, the answer shape from the body and the Accept header, and a
// complete chat answer reshaped into that shape. Pure; the stage and the sink use these.
#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

#include "llmgw/api/json.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/prompts/prompts.hpp"
#include "llmgw/prompts/template.hpp"

namespace llmgw::prompts {
namespace {

using nlohmann::json;

// What a call may carry. The sampling fields override the prompt's defaults; everything else
// about the chat request is the prompt's, so an unknown field is refused rather than dropped.
constexpr std::array<std::string_view, 5> kSampling{"temperature", "top_p", "max_tokens", "stop",
                                                    "response_format"};
constexpr std::array<std::string_view, 5> kOwn{"variables", "version", "stream",
                                               "stream_options", "output"};

bool known_field(std::string_view key) {
  return std::find(kSampling.begin(), kSampling.end(), key) != kSampling.end() ||
         std::find(kOwn.begin(), kOwn.end(), key) != kOwn.end();
}

// A member that is present and not null ("null" means absent, as in the OpenAI API).
const json* given(const json& body, std::string_view key) {
  auto it = body.find(key);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

std::optional<unsigned> positive_int(const json& v) {
  if (v.is_number_unsigned()) {
    auto n = v.get<std::uint64_t>();
    if (n >= 1 && n <= std::numeric_limits<unsigned>::max()) {
      return static_cast<unsigned>(n);
    }
  } else if (v.is_number_integer()) {
    auto n = v.get<std::int64_t>();
    if (n >= 1 && n <= std::numeric_limits<unsigned>::max()) {
      return static_cast<unsigned>(n);
    }
  }
  return std::nullopt;
}

std::string describe(const config::PromptConfig& p) {
  return "The prompt '" + p.name + "' (version " + std::to_string(p.version) + ")";
}

// The prompt's own sampling defaults, as chat request fields.
void add_defaults(const config::PromptConfig& p, json& body) {
  if (p.temperature) {
    body["temperature"] = *p.temperature;
  }
  if (p.top_p) {
    body["top_p"] = *p.top_p;
  }
  if (p.max_tokens) {
    body["max_tokens"] = *p.max_tokens;
  }
  if (!p.stop.empty()) {
    body["stop"] = p.stop;
  }
  if (!p.response_format.empty()) {
    body["response_format"] = json{{"type", p.response_format}};
  }
}

std::optional<Output> output_of(std::string_view media_range) {
  auto type = common::to_lower(common::trim(media_range));
  if (type == "text/plain") {
    return Output::text;
  }
  if (type == "application/vnd.llmgw.output+json") {
    return Output::object;
  }
  if (type == "application/json" || type == "*/*" || type == "application/*" ||
      type == "text/event-stream") {
    return Output::chat;
  }
  return std::nullopt;
}

// The q parameter of one Accept member's parameters (";q=0.5;level=1"); 1 when absent.
double quality(std::string_view params) {
  while (!params.empty()) {
    auto semi = params.find(';', 1);
    auto param = common::trim(params.substr(1, semi == std::string_view::npos ? semi : semi - 1));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi);
    if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      double q = 0;
      auto value = param.substr(2);
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), q);
      return ec == std::errc() ? q : 0;
    }
  }
  return 1;
}

}  // namespace

Output output_for_accept(std::string_view accept) {
  Output best = Output::chat;
  double best_q = 0;
  while (!accept.empty()) {
    auto comma = accept.find(',');
    auto member = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    auto semi = member.find(';');
    auto params = semi == std::string_view::npos ? std::string_view() : member.substr(semi);
    auto output = output_of(member.substr(0, semi));
    double q = quality(params);
    if (output && q > best_q) {
      best = *output;
      best_q = q;
    }
  }
  return best;
}

api::GatewayError prompt_not_found(std::string_view name, std::optional<unsigned> version) {
  if (version) {
    return api::GatewayError{404, "prompt_not_found", "invalid_request_error",
                             "The prompt '" + api::echo(name) + "' has no version " +
                                 std::to_string(*version) + ".",
                             "version"};
  }
  return api::GatewayError{404, "prompt_not_found", "invalid_request_error",
                           "The prompt '" + api::echo(name) + "' does not exist.", {}};
}

common::Result<Call, api::GatewayError> build_call(const config::Config& config,
                                                   std::string_view name, const json& request,
                                                   std::string_view accept) {
  if (!request.is_object()) {
    return common::err(api::invalid_request("The request body must be a JSON object."));
  }
  for (const auto& [key, value] : request.items()) {
    if (!known_field(key)) {
      return common::err(api::invalid_request(
          "Unknown field '" + api::echo(key) +
              "': a prompt call takes variables, version, stream, stream_options, output and "
              "the sampling fields temperature, top_p, max_tokens, stop and response_format.",
          key));
    }
  }
  std::optional<unsigned> version;
  if (const auto* v = given(request, "version")) {
    version = positive_int(*v);
    if (!version) {
      return common::err(api::invalid_request("'version' must be a positive integer.", "version"));
    }
  }
  const auto* prompt = config.find_prompt(name, version.value_or(0));
  if (!prompt) {
    bool name_exists = version && config.find_prompt(name);
    return common::err(prompt_not_found(name, name_exists ? version : std::nullopt));
  }
  Call call;
  call.prompt = prompt;
  call.output = output_for_accept(accept);
  if (const auto* o = given(request, "output")) {
    if (!o->is_string() || o->get_ref<const std::string&>() != "plain") {
      return common::err(api::invalid_request(
          "'output' must be \"plain\" (the answer as {\"output\": <text>, ...}).", "output"));
    }
    call.output = Output::object;
  }
  bool stream = false;
  if (const auto* s = given(request, "stream")) {
    if (!s->is_boolean()) {
      return common::err(api::invalid_request("'stream' must be a boolean.", "stream"));
    }
    stream = s->get<bool>();
  }
  if (stream && call.output != Output::chat) {
    return common::err(api::invalid_request(
        call.output == Output::text
            ? "Accept: text/plain is for a complete answer: set \"stream\": false, or accept "
              "application/json for the chat answer's SSE chunks."
            : "'output': \"plain\" is for a complete answer: set \"stream\": false.",
        "stream"));
  }
  static const json kNoVariables = json::object();
  const json* variables = &kNoVariables;
  if (const auto* v = given(request, "variables")) {
    if (!v->is_object()) {
      return common::err(api::invalid_request(
          "'variables' must be an object of the template's variables.", "variables"));
    }
    variables = v;
  }
  auto parsed = parse(prompt->template_text);
  if (!parsed) {  // the loader refuses such a config: a bug if seen
    return common::err(api::internal_error(describe(*prompt) + " has an invalid template."));
  }
  auto rendered = render(*parsed, *variables);
  if (!rendered) {
    const auto& e = rendered.error();
    std::string param = "variables." + e.variable;
    return common::err(api::invalid_request(
        e.kind == RenderError::Kind::missing
            ? describe(*prompt) + " needs the variable '" + e.variable + "': '" + param +
                  "' is missing."
            : "'" + param + "' must be a string, a number or a boolean.",
        param));
  }
  json messages = json::array();
  if (!prompt->system.empty()) {
    messages.push_back(json{{"role", "system"}, {"content", prompt->system}});
  }
  messages.push_back(json{{"role", "user"}, {"content", std::move(*rendered)}});
  call.body = json::object();
  call.body["model"] = prompt->model;
  call.body["messages"] = std::move(messages);
  add_defaults(*prompt, call.body);
  // The call's overrides as it wrote them: the face validates them as chat fields, and its
  // errors name the same field names.
  for (auto key : kSampling) {
    const auto* v = given(request, key);
    if (!v) {
      continue;
    }
    if (key == "response_format" && v->is_string()) {
      call.body[std::string(key)] = json{{"type", *v}};  // the config's short form
    } else {
      call.body[std::string(key)] = *v;
    }
  }
  if (stream) {
    call.body["stream"] = true;
    if (const auto* so = given(request, "stream_options")) {
      call.body["stream_options"] = *so;
    }
  }
  return call;
}

namespace {

// For both JSON flavours: the output object keeps the provider's order of the usage fields.
template <class Json>
std::optional<std::string> text_of(const Json& completion) {
  if (!completion.is_object()) {
    return std::nullopt;
  }
  auto choices = completion.find("choices");
  if (choices == completion.end() || !choices->is_array() || choices->empty() ||
      !(*choices)[0].is_object()) {
    return std::nullopt;
  }
  auto message = (*choices)[0].find("message");
  if (message == (*choices)[0].end() || !message->is_object()) {
    return std::nullopt;
  }
  auto content = message->find("content");
  if (content == message->end() || content->is_null()) {
    return std::string();  // tool calls only, or a refusal
  }
  if (content->is_string()) {
    return content->template get<std::string>();
  }
  std::string text;
  if (content->is_array()) {
    for (const auto& part : *content) {
      if (part.is_object()) {
        auto t = part.find("text");
        if (t != part.end() && t->is_string()) {
          text += t->template get_ref<const std::string&>();
        }
      }
    }
  }
  return text;
}

}  // namespace

std::optional<std::string> answer_text(const json& completion) {
  return text_of(completion);
}

Shaped shape_answer(Output output, const config::PromptConfig& prompt, std::string_view body,
                    std::size_t max_json_depth) {
  using Ordered = nlohmann::ordered_json;
  auto parsed = api::parse_ordered_json(body, api::JsonLimits{max_json_depth});
  Ordered doc = parsed ? std::move(*parsed) : Ordered();
  auto text = text_of(doc).value_or(std::string());
  if (output == Output::text) {
    return Shaped{"text/plain; charset=utf-8", std::move(text)};
  }
  std::string model;
  Ordered usage = Ordered::object();
  if (doc.is_object()) {
    if (auto m = doc.find("model"); m != doc.end() && m->is_string()) {
      model = m->get<std::string>();
    }
    if (auto u = doc.find("usage"); u != doc.end() && u->is_object()) {
      usage = std::move(*u);
    }
  }
  Ordered out = Ordered::object();
  out["output"] = std::move(text);
  out["prompt"] = prompt.name;
  out["version"] = prompt.version;
  out["model"] = std::move(model);
  out["usage"] = std::move(usage);
  return Shaped{"application/json", out.dump()};
}

}  // namespace llmgw::prompts
