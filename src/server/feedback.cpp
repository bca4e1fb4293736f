#include "server/feedback.hpp"

#include <nlohmann/json.hpp>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/face.hpp"
#include "llmgw/api/json.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "server/auth.hpp"

namespace llmgw::server {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

constexpr std::size_t kMaxComment = 4096;

api::GatewayError not_found(std::string_view request_id) {
  api::GatewayError e{404, "request_not_found", "invalid_request_error",
                      "No recent request with id '" + api::echo(request_id) +
                          "' that feedback can rate (the gateway remembers recent requests "
                          "served by providers with health.semantic.signals).",
                      "request_id"};
  return e;
}

api::GatewayError not_enabled() {
  return api::GatewayError{404, "feedback_not_enabled", "invalid_request_error",
                           "Feedback is not enabled: no provider has health.semantic.signals "
                           "and no canary rolls back on feedback_below.",
                           {}};
}

// The rating, or what is wrong with the body (the JSON path at fault in `param`).
struct Rating {
  std::string request_id;
  double score = 0;
};

std::variant<Rating, api::GatewayError> parse(std::string_view body, std::size_t max_depth) {
  auto parsed = api::parse_json(body, api::JsonLimits{max_depth});
  if (!parsed || !parsed->is_object()) {
    return api::invalid_request("The body must be a JSON object.");
  }
  const auto& j = *parsed;
  auto id = j.find("request_id");
  if (id == j.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
    return api::invalid_request("'request_id' must be the non-empty x-request-id of an answer.",
                                "request_id");
  }
  auto score = j.find("score");
  if (score == j.end() || !score->is_number() || !(score->get<double>() >= -1.0) ||
      !(score->get<double>() <= 1.0)) {
    return api::invalid_request("'score' must be a number from -1 (bad) to 1 (good).", "score");
  }
  if (auto comment = j.find("comment"); comment != j.end() && !comment->is_null()) {
    if (!comment->is_string() || comment->get_ref<const std::string&>().size() > kMaxComment) {
      return api::invalid_request("'comment' must be a string of at most 4096 bytes.",
                                  "comment");
    }
  }
  return Rating{id->get<std::string>(), score->get<double>()};
}

std::string_view rating_of(double score) {
  return score > 0 ? "positive" : (score < 0 ? "negative" : "neutral");
}

}  // namespace

void remember_for_feedback(GatewayState& state, const router::RouteTable& table,
                           std::string_view request_id, std::string_view model,
                           const config::KeyConfig* key, const router::CallOutcome& outcome) {
  if (!table.wants_feedback() || outcome.status != 200 || outcome.degraded) {
    return;
  }
  const auto* provider = table.provider(outcome.provider);
  const auto* route = table.model_route(model);
  const bool canary_rated = route && route->canary &&
                            route->canary->target() == outcome.provider &&
                            route->config->canary->rollback_on.feedback_below;
  const bool watched = provider && provider->health && provider->health->watches_answers();
  if (!watched && !canary_rated) {
    return;
  }
  state.recent_requests.remember(
      request_id,
      feedback::RecentRequest{outcome.provider, std::string(model), key ? key->name : ""});
}

asio::awaitable<void> answer_feedback(GatewayState& state, const router::RouteTable& table,
                                      HttpRequest& req, api::ByteSink& sink) {
  const auto& face = api::openai_face();
  auto headers = common::make_headers("content-type", "application/json", "x-request-id",
                                      req.request_id);
  std::optional<api::GatewayError> error;
  auto auth = authenticate(table, req.authorization, req.x_api_key);
  std::optional<Rating> rating;
  if (auth.error) {
    error = auth.error;
  } else if (req.method != "POST") {
    error = api::method_not_allowed(req.method, req.path);
  } else if (!table.wants_feedback()) {
    error = not_enabled();
  } else {
    auto parsed = parse(req.body, table.config().server.max_json_depth);
    if (auto* e = std::get_if<api::GatewayError>(&parsed)) {
      error = std::move(*e);
    } else {
      rating = std::get<Rating>(std::move(parsed));
    }
  }
  std::optional<feedback::RecentRequest> served;
  if (rating) {
    served = state.recent_requests.find(rating->request_id);
    // Another key's request is as unknown as a forgotten one: ids are not secrets, but one
    // team must not move another's ratings.
    const std::string key_name = auth.key ? auth.key->name : "";
    if (!served || served->key != key_name) {
      error = not_found(rating->request_id);
    }
  }
  const auto* provider = served ? table.provider(served->provider) : nullptr;
  if (!error && !provider) {
    error = not_found(rating->request_id);  // its provider left the config since
  }
  if (error) {
    auto body = face.error_body(*error, req.request_id);
    co_await sink.send(error->status, std::move(headers), std::move(body));
    co_return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (provider->health) {
    provider->health->record_feedback(now, rating->score);
  }
  const auto* route = table.model_route(served->model);
  if (route && route->canary && route->canary->target() == served->provider) {
    route->canary->on_feedback(now, rating->score);
  }
  state.metrics.feedback(served->provider, rating_of(rating->score));
  json answer = {{"object", "feedback"},
                 {"request_id", rating->request_id},
                 {"provider", served->provider},
                 {"model", served->model},
                 {"score", rating->score}};
  co_await sink.send(200, std::move(headers), answer.dump());
}

}  // namespace llmgw::server
