#include "server/count_tokens.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/face.hpp"
#include "llmgw/api/json.hpp"
#include "llmgw/common/http_head.hpp"
#include "llmgw/router/token_count.hpp"
#include "llmgw/tokenizer/library.hpp"
#include "server/auth.hpp"

namespace llmgw::server {

namespace asio = boost::asio;
using Library = tokenizer::Library;

namespace {

// Counting runs on a thread of its own, never on a worker: the tokenizers load the first time
// (megabytes of JSON; a config with a context_window has them loaded at start by the control
// thread), and an exact count of a body of megabytes takes long enough to stall every other
// connection of the worker. The caller's frame keeps `table`, `model` and `body` alive.
asio::awaitable<router::PromptCount> count_off_worker(const router::RouteTable& table,
                                                      const config::ModelConfig& model,
                                                      const nlohmann::json& body) {
  static asio::thread_pool counter(1);
  auto count = co_await asio::co_spawn(
      counter,
      [&]() -> asio::awaitable<router::PromptCount> {
        const Library* library = table.tokenizers();
        std::shared_ptr<const Library> loaded;
        if (library == nullptr) {
          loaded = Library::shared();
          library = loaded.get();
        }
        co_return router::count_prompt(table, library, model, body);
      },
      asio::use_awaitable);
  co_return count;
}

std::string count_body(std::uint64_t tokens) {
  return nlohmann::json{{"input_tokens", tokens}}.dump();
}

}  // namespace

asio::awaitable<void> answer_count_tokens(const router::RouteTable& table, HttpRequest& req,
                                          api::ByteSink& sink) {
  const auto& face = api::anthropic_face();
  auto out = face.open(sink);  // errors in the Anthropic shape, with request-id
  auto headers = common::make_headers("x-request-id", req.request_id);
  std::optional<api::GatewayError> error;
  const config::ModelConfig* model = nullptr;
  nlohmann::json body;
  auto auth = authenticate(table, req.authorization, req.x_api_key);
  if (auth.error) {
    error = auth.error;
  } else if (req.method != "POST") {
    error = api::method_not_allowed(req.method, req.path);
  } else {
    auto parsed =
        api::parse_json(req.body, api::JsonLimits{table.config().server.max_json_depth});
    if (!parsed) {
      error = api::json_error(parsed.error());
    } else if (!parsed->is_object()) {
      error = api::invalid_request("The request body must be a JSON object.");
    } else {
      body = std::move(*parsed);
      // A count has no answer length; the Messages decoder wants one (and checks a thinking
      // budget against it), so it gets the largest.
      if (!body.contains("max_tokens")) {
        body["max_tokens"] = 1 << 30;
      }
      api::RequestFacts facts;
      error = face.decode(api::Operation::chat, body, facts);
    }
  }
  if (!error) {
    const auto name = body["model"].get<std::string>();
    model = table.config().find_model(name);
    if (!model) {
      error = api::model_not_found(name);
    } else if (!key_allows(auth.key, name)) {
      error = api::model_not_allowed(name);
    }
  }
  if (error) {
    co_await out->fail(*error, std::move(headers));
    co_return;
  }
  auto count = co_await count_off_worker(table, *model, body);
  headers.emplace_back("content-type", "application/json");
  face.add_id_headers(headers, req.request_id);
  headers.emplace_back("x-llmgw-token-count", std::string(count.method));
  co_await sink.send(200, std::move(headers), count_body(count.tokens));
}

}  // namespace llmgw::server
