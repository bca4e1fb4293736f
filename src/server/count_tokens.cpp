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

// The tokenizers, loaded the first time on a thread of their own: loading parses megabytes of
// JSON, which no worker may wait for. (A config with a context_window has them loaded at start
// by the control thread.)
asio::awaitable<std::shared_ptr<const Library>> load_library() {
  static asio::thread_pool loader(1);
  auto lib = co_await asio::co_spawn(
      loader, []() -> asio::awaitable<std::shared_ptr<const Library>> {
        co_return Library::shared();
      },
      asio::use_awaitable);
  co_return lib;
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
  const Library* library = table.tokenizers();
  std::shared_ptr<const Library> loaded;
  if (!library) {
    loaded = co_await load_library();
    library = loaded.get();
  }
  auto count = router::count_prompt(table, library, *model, body);
  headers.emplace_back("content-type", "application/json");
  face.add_id_headers(headers, req.request_id);
  headers.emplace_back("x-llmgw-token-count", std::string(count.method));
  co_await sink.send(200, std::move(headers), count_body(count.tokens));
}

}  // namespace llmgw::server
