// The listing of managed prompts (GET /v1/prompts[/{name}]), in the OpenAI list shape.
#include "server/prompts_api.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "llmgw/api/face.hpp"
#include "llmgw/prompts/prompts.hpp"
#include "llmgw/prompts/template.hpp"
#include "server/auth.hpp"

namespace llmgw::server {
namespace {

using Json = nlohmann::ordered_json;

struct Answer {
  int status = 200;
  std::string body;
};

Json prompt_json(const config::PromptConfig& p, bool is_default) {
  Json variables = Json::array();
  if (auto parsed = prompts::parse(p.template_text)) {
    for (auto& v : parsed->variables()) {
      variables.push_back(std::move(v));
    }
  }
  Json j = Json::object();
  j["name"] = p.name;
  j["version"] = p.version;
  j["model"] = p.model;
  j["variables"] = std::move(variables);
  j["default"] = is_default;
  return j;
}

// Built outside the coroutine (g++ 12 and initializer lists in coroutine bodies).
Answer answer(const router::RouteTable& table, const HttpRequest& req) {
  auto error_answer = [&](const api::GatewayError& e) {
    return Answer{e.status, api::openai_face().error_body(e, req.request_id)};
  };
  auto auth = authenticate(table, req.authorization, req.x_api_key);
  if (auth.error) {
    return error_answer(*auth.error);
  }
  if (req.method != "GET") {
    return error_answer(api::method_not_allowed(req.method, req.path));
  }
  const auto& cfg = table.config();
  std::string_view name;
  if (req.path.size() > prompts::kPathPrefix.size()) {
    name = std::string_view(req.path).substr(prompts::kPathPrefix.size());
  }
  // What a key may not call, it does not see.
  std::vector<const config::PromptConfig*> shown;
  for (const auto& p : cfg.prompts) {
    if ((name.empty() || p.name == name) && key_allows(auth.key, p.model)) {
      shown.push_back(&p);
    }
  }
  if (!name.empty() && shown.empty()) {
    return error_answer(prompts::prompt_not_found(name));
  }
  // By name, the highest version of each first.
  std::sort(shown.begin(), shown.end(), [](const auto* a, const auto* b) {
    return a->name != b->name ? a->name < b->name : a->version > b->version;
  });
  Json data = Json::array();
  for (const auto* p : shown) {
    // The version a call without "version" gets (a key may see a lower one only).
    data.push_back(prompt_json(*p, cfg.find_prompt(p->name) == p));
  }
  Json list = Json::object();
  list["object"] = "list";
  list["data"] = std::move(data);
  return Answer{200, list.dump()};
}

}  // namespace

boost::asio::awaitable<void> answer_prompts(const router::RouteTable& table,
                                            const HttpRequest& req, api::ByteSink& sink) {
  auto headers = common::make_headers("content-type", "application/json", "x-request-id",
                                      req.request_id);
  auto out = answer(table, req);
  co_await sink.send(out.status, std::move(headers), std::move(out.body));
}

}  // namespace llmgw::server
