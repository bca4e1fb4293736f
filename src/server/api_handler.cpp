// The client API (SPEC §2): authentication, the face of the route (api::Face: decoding and
// validation, answers in the client's format), routing to the Router, access log and request
// metrics. No Beast and no wire format here: requests arrive as HttpRequest, answers leave
// through the face's ResponseSink over the connection's ByteSink.
#include <boost/system/system_error.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/face.hpp"
#include "llmgw/api/json.hpp"
#include "llmgw/api/responses.hpp"
#include "llmgw/cache/request_cache.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/pipeline/pipeline.hpp"
#include "llmgw/prompts/prompts.hpp"
#include "llmgw/router/router.hpp"
#include "llmgw/server/server.hpp"
#include "server/access_line.hpp"
#include "server/auth.hpp"
#include "server/count_tokens.hpp"
#include "server/feedback.hpp"
#include "server/prompts_api.hpp"
#include "server/responses_api.hpp"
#include "server/sessions_api.hpp"
#include "server/trace_tap.hpp"

namespace llmgw::server {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::steady_clock;

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) {
      return false;
    }
  }
  return true;
}

// W3C trace-context caps tracestate at 32 list members and 512 characters; a longer one is
// dropped rather than cut (a cut member would be corrupt), as the spec allows.
bool valid_tracestate(std::string_view s) {
  if (s.size() > 512) {
    return false;
  }
  std::size_t members = 1;
  for (char c : s) {
    if (c == ',') {
      ++members;
    } else if (c < 0x20 || c > 0x7e) {
      return false;
    }
  }
  return members <= 32;
}

// JSON bodies are built outside coroutine bodies (g++ 12 and initializer lists, see
// providers::make_headers).
json model_json(const config::ModelConfig& m) {
  return json{{"id", m.name}, {"object", "model"}, {"created", 1700000000}, {"owned_by", "llmgw"}};
}

std::string model_list_body(const config::Config& cfg, const config::KeyConfig* key) {
  json data = json::array();
  for (const auto& m : cfg.models) {
    if (key_allows(key, m.name)) {
      data.push_back(model_json(m));
    }
  }
  return json{{"object", "list"}, {"data", std::move(data)}}.dump();
}

// Empty when some model has a routable target; else why not (SPEC: /readyz).
std::string readiness_problem(const router::RouteTable& table) {
  if (table.config().models.empty()) {
    return "no models are configured";
  }
  auto now = std::chrono::steady_clock::now();
  std::string why;
  for (const auto& m : table.config().models) {
    for (const auto& t : m.targets) {
      const auto* p = table.provider(t.provider);
      if (!p || !p->adapter) {
        continue;
      }
      auto verdict = p->health ? p->health->peek(now) : health::Verdict{};
      if (verdict.routable) {
        return {};
      }
      if (why.find(t.provider + ":") == std::string::npos) {
        why += (why.empty() ? "" : "; ") + t.provider + ": " + verdict.reason;
      }
    }
  }
  return "no model has a routable target (" + (why.empty() ? "no supported providers" : why) + ")";
}

std::string not_ready_body(const std::string& reason) {
  return json{{"status", "not ready"}, {"reason", reason}}.dump();
}

// What the access log says of a request that went through the pipeline.
AccessEntry access_entry(const pipeline::RequestContext& ctx) {
  AccessEntry e;
  e.received = ctx.received;
  e.request_id = ctx.request_id;
  e.method = ctx.method;
  e.route = ctx.route.path;
  e.user_agent = ctx.user_agent;
  e.remote = ctx.remote;
  e.key = ctx.key ? std::string_view(ctx.key->name) : std::string_view();
  if (!ctx.model_name.empty()) {
    e.model = ctx.model_name;
  }
  e.bytes_in = ctx.body_bytes;
  e.bytes_out = ctx.client ? std::optional(ctx.client->bytes_sent()) : std::nullopt;
  e.outcome = ctx.outcome;
  e.total_seconds = ctx.elapsed_seconds;
  e.cache = ctx.cache ? cache::to_string(ctx.cache->result()) : "none";
  e.session = ctx.session_id;
  e.stream = ctx.facts && ctx.facts->stream;
  if (ctx.prompt) {
    e.prompt = ctx.prompt->name;
    e.prompt_version = static_cast<unsigned>(ctx.prompt->version);
  }
  return e;
}

class InflightGuard {
public:
  explicit InflightGuard(GatewayState& s) : s_(s) {
    s_.inflight.fetch_add(1, std::memory_order_relaxed);
    s_.metrics.inflight_add(1);
  }
  ~InflightGuard() {
    s_.inflight.fetch_sub(1, std::memory_order_relaxed);
    s_.metrics.inflight_add(-1);
  }
  InflightGuard(const InflightGuard&) = delete;
  InflightGuard& operator=(const InflightGuard&) = delete;

private:
  GatewayState& s_;
};

// Request metrics. Only configured model names become label values: a client must not be able
// to mint series.
class MetricsTap final : public pipeline::ResponseTap {
public:
  explicit MetricsTap(metrics::Metrics& metrics) : metrics_(metrics) {}
  std::string_view name() const override { return "metrics"; }
  void on_response(const pipeline::RequestContext& ctx) override {
    const auto& outcome = *ctx.outcome;
    std::string_view model = ctx.model ? ctx.model_name : std::string_view("_unknown");
    metrics_.request_finished(ctx.route.path, model, outcome.provider, outcome.status,
                              ctx.elapsed_seconds);
    if (outcome.ttft_seconds >= 0) {
      metrics_.time_to_first_token(model, outcome.provider, outcome.ttft_seconds);
    }
    if (outcome.cost_usd > 0) {
      metrics_.cost(outcome.provider, outcome.served_model,
                    ctx.key ? std::string_view(ctx.key->name) : std::string_view("_none"),
                    outcome.cost_usd);
    }
  }

private:
  metrics::Metrics& metrics_;
};

class AccessLogTap final : public pipeline::ResponseTap {
public:
  explicit AccessLogTap(AccessLog& log) : log_(log) {}
  std::string_view name() const override { return "access_log"; }
  void on_response(const pipeline::RequestContext& ctx) override {
    const auto entry = access_entry(ctx);
    log_.write([&](std::string& out) { format_access_line(entry, out); });
  }

private:
  AccessLog& log_;
};

class ApiHandler final : public Handler {
public:
  explicit ApiHandler(GatewayState& state)
      : state_(state),
        pipeline_(pipeline::make_pipeline(pipeline::Services{
            &state.sessions, &state.metrics, &state.limits, nullptr, &state.cache,
            &state.state_availability})) {
    // The server's own taps come last: they see what the others recorded.
    pipeline_.add(std::make_unique<MetricsTap>(state_.metrics));
    if (state_.access_log) {
      pipeline_.add(std::make_unique<AccessLogTap>(*state_.access_log));
    }
    if (state_.tracer) {
      pipeline_.add(make_trace_tap(*state_.tracer));
    }
  }

  // A wrong key is refused from the request head: the body is never read.
  std::optional<EarlyAnswer> screen(const HttpRequest& head) override {
    const auto* route = api::find_route(head.path);
    if (!route || head.method != "POST") {
      return std::nullopt;
    }
    const auto& table = head.table;
    auto auth = authenticate(*table, head.authorization, head.x_api_key);
    if (!auth.error) {
      return std::nullopt;
    }
    std::string request_id =
        valid_request_id(head.request_id) ? head.request_id : common::random_hex(32);
    // The refused request still passes the taps: metrics and the access log stay whole.
    router::CallOutcome outcome;
    outcome.status = auth.error->status;
    outcome.error_code = auth.error->code;
    pipeline::RequestContext ctx{table->config(), *route};
    ctx.request_id = request_id;
    ctx.remote = head.remote;
    ctx.method = head.method;
    ctx.user_agent = head.user_agent;
    ctx.received = std::chrono::system_clock::now();
    ctx.outcome = &outcome;
    pipeline_.run_taps(ctx);
    EarlyAnswer answer;
    answer.status = auth.error->status;
    answer.headers = providers::make_headers("content-type", "application/json", "x-request-id",
                                             request_id);
    route->face->add_id_headers(answer.headers, request_id);
    answer.body = route->face->error_body(*auth.error, request_id);
    return answer;
  }

  asio::awaitable<void> handle(HttpRequest& req, api::ByteSink& sink,
                               router::Router* router) override {
    auto started = steady_clock::now();
    const auto received = std::chrono::system_clock::now();
    if (!valid_request_id(req.request_id)) {
      req.request_id = common::random_hex(32);
    }
    auto table = req.table;  // the one snapshot of this request (taken by the session)
    if (req.path == "/healthz") {
      co_await sink.send(200, providers::make_headers("content-type", "application/json"), R"({"status":"ok"})");
      co_return;
    }
    if (req.path == "/readyz") {
      co_await readyz(*table, sink);
      co_return;
    }
    if (req.path == "/v1/feedback") {
      co_await answer_feedback(state_, *table, req, sink);
      co_return;
    }
    if (req.path.starts_with("/v1/sessions/")) {
      co_await answer_session(state_, *table, req, sink);
      co_return;
    }
    if (req.path.starts_with(api::responses::kPath) &&
        req.path.size() > api::responses::kPath.size() &&
        req.path[api::responses::kPath.size()] == '/') {
      co_await answer_stored_response(state_, *table, req, sink);
      co_return;
    }
    if (req.path == kCountTokensPath) {
      co_await answer_count_tokens(*table, req, sink);
      co_return;
    }
    if (req.path == "/v1/models" || req.path.starts_with("/v1/models/")) {
      if (req.method != "GET") {
        co_await send_error(sink, req, api::method_not_allowed(req.method, req.path));
        co_return;
      }
      co_await models(*table, req, sink);
      co_return;
    }
    // Managed prompts are listed here and called (POST) through their proxied route.
    if (req.path == "/v1/prompts" ||
        (req.path.starts_with(prompts::kPathPrefix) && req.method == "GET")) {
      co_await answer_prompts(*table, req, sink);
      co_return;
    }
    if (const auto* route = api::find_route(req.path)) {
      // Every answer of a proxied route (errors included) leaves through its face's sink.
      auto out = route->face->open(sink);
      if (req.method != "POST") {
        auto e = api::method_not_allowed(req.method, req.path);
        auto headers = request_headers(req);
        co_await out->fail(e, std::move(headers));
        log_unrouted(req, route->path, e, sink, received, started);
        co_return;
      }
      InflightGuard guard(state_);
      co_await proxy(table, *route, req, *out, sink, *router, started, received);
      co_return;
    }
    auto unknown = api::not_found_route(req.path);
    co_await send_error(sink, req, unknown);
    log_unrouted(req, kUnmatched, unknown, sink, received, started);
  }

private:
  static constexpr std::string_view kUnmatched = "unmatched";

  // A request refused before the pipeline (an unknown path, a wrong method): logged and
  // counted too, so a scanner or a misconfigured client shows up.
  void log_unrouted(const HttpRequest& req, std::string_view route, const api::GatewayError& e,
                    const api::ByteSink& sink, std::chrono::system_clock::time_point received,
                    steady_clock::time_point started) {
    const double seconds = std::chrono::duration<double>(steady_clock::now() - started).count();
    state_.metrics.request_finished(route, "_unknown", "", e.status, seconds);
    if (!state_.access_log) {
      return;
    }
    router::CallOutcome outcome;
    outcome.status = e.status;
    outcome.error_code = e.code;
    AccessEntry entry;
    entry.received = received;
    entry.request_id = req.request_id;
    entry.method = req.method;
    entry.route = route;
    if (route == kUnmatched) {
      entry.path = req.path;
    }
    entry.user_agent = req.user_agent;
    entry.remote = req.remote;
    entry.bytes_in = req.body.size();
    entry.bytes_out = sink.bytes_sent();
    entry.outcome = &outcome;
    entry.total_seconds = seconds;
    state_.access_log->write([&](std::string& out) { format_access_line(entry, out); });
  }

  static std::vector<common::Header> request_headers(const HttpRequest& req) {
    return common::make_headers("x-request-id", req.request_id);
  }

  // The answers of the gateway's own routes (/v1/models, unknown paths): the shape of the face
  // the path belongs to (Anthropic under /v1/messages/, else OpenAI).
  asio::awaitable<void> send_error(api::ByteSink& sink, const HttpRequest& req,
                                   const api::GatewayError& e) {
    auto headers = common::make_headers("content-type", "application/json", "x-request-id",
                                        req.request_id);
    const auto& face = api::face_for_path(req.path);
    face.add_id_headers(headers, req.request_id);
    auto body = face.error_body(e, req.request_id);
    co_await sink.send(e.status, std::move(headers), std::move(body));
  }

  asio::awaitable<void> readyz(const router::RouteTable& table, api::ByteSink& sink) {
    if (state_.draining.load()) {
      co_await sink.send(503, providers::make_headers("content-type", "application/json"),
                         R"({"status":"draining","reason":"the gateway is shutting down"})");
      co_return;
    }
    auto reason = readiness_problem(table);
    if (reason.empty()) {
      co_await sink.send(200, providers::make_headers("content-type", "application/json"),
                         R"({"status":"ready"})");
      co_return;
    }
    co_await sink.send(503, providers::make_headers("content-type", "application/json"),
                       not_ready_body(reason));
  }

  asio::awaitable<void> models(const router::RouteTable& table, const HttpRequest& req,
                               api::ByteSink& sink) {
    auto auth = authenticate(table, req.authorization, req.x_api_key);
    const auto* key = auth.key;
    if (auth.error) {
      co_await send_error(sink, req, *auth.error);
      co_return;
    }
    if (req.path.size() > std::string_view("/v1/models/").size()) {
      auto id = req.path.substr(std::string_view("/v1/models/").size());
      const auto* m = table.model(id);
      if (!m || !key_allows(key, id)) {
        co_await send_error(sink, req, api::model_not_found(id));
        co_return;
      }
      auto body = model_json(*m).dump();
      co_await sink.send(200, providers::make_headers("content-type", "application/json", "x-request-id", req.request_id),
                         std::move(body));
      co_return;
    }
    co_await sink.send(200, providers::make_headers("content-type", "application/json", "x-request-id", req.request_id),
                       model_list_body(table.config(), key));
  }

  asio::awaitable<void> proxy(std::shared_ptr<const router::RouteTable> table,
                              const api::Route& route,
                              HttpRequest& req, api::ResponseSink& sink,
                              const api::ByteSink& client, router::Router& router,
                              steady_clock::time_point started,
                              std::chrono::system_clock::time_point received) {
    const auto& cfg = table->config();
    auto auth = authenticate(*table, req.authorization, req.x_api_key);
    pipeline::RequestContext ctx{cfg, route};
    ctx.key = auth.key;
    ctx.request_id = req.request_id;
    ctx.session_id = req.session_id;
    ctx.user = req.user;
    ctx.remote = req.remote;
    ctx.select_headers = req.select_headers;
    ctx.body_bytes = req.body.size();
    ctx.path = req.path;
    ctx.accept = req.accept;
    ctx.cache_control = req.cache_control;
    ctx.method = req.method;
    ctx.user_agent = req.user_agent;
    ctx.received = received;
    ctx.started = started;
    ctx.client = &client;
    // Decided before anything can refuse the request, so a refused request is traced too.
    const auto traceparent = tracing::outgoing_traceparent(
        req.traceparent, state_.tracer != nullptr,
        state_.tracer ? state_.tracer->sample_ratio() : 0.0);
    ctx.traceparent_in = req.traceparent;
    ctx.traceparent = traceparent;
    std::optional<api::GatewayError> error = auth.error;
    json body;
    api::RequestFacts facts;
    std::string model;
    if (!error) {
      auto parsed = api::parse_json(req.body, api::JsonLimits{cfg.server.max_json_depth});
      if (!parsed) {
        error = api::json_error(parsed.error());
      } else {
        body = std::move(*parsed);
        ctx.body = &body;
        // A route's own body (a prompt call) becomes the face's before the face decodes it.
        if (pipeline_.has_prepare_work(ctx)) {
          auto stopped = co_await pipeline_.run_prepare(ctx);
          error = std::move(stopped);
        }
        // The model the client asked for is logged even when the body is refused.
        if (auto it = body.find("model"); it != body.end() && it->is_string()) {
          model = it->get<std::string>();
          ctx.model_name = model;
        }
        if (!error) {
          error = route.face->decode(route.op, body, facts);
          ctx.facts = &facts;
          if (!error) {
            sink.decoded(facts);
          }
        }
      }
    }
    if (!error) {
      model = body["model"].get<std::string>();
      ctx.model_name = model;
      ctx.model = table->model(model);
      if (!ctx.model) {
        error = api::model_not_found(model);
      } else if (!key_allows(ctx.key, model)) {
        error = api::model_not_allowed(model);
      }
    }
    auto hint = router::RouteHint::none;
    if (!error && !req.route_hint.empty()) {
      if (auto parsed_hint = router::parse_route_hint(req.route_hint)) {
        hint = *parsed_hint;
      } else {
        error = api::GatewayError{400, "invalid_request", "invalid_request_error",
                                  "x-llmgw-route-hint must be 'cheapest' or 'fastest', not '" +
                                      api::echo(req.route_hint, 32) + "'.",
                                  {}};
      }
    }
    if (!error && pipeline_.has_ingress_work(ctx)) {
      auto stopped = co_await pipeline_.run_ingress(ctx);
      error = std::move(stopped);
    }
    router::CallOutcome outcome;
    bool crashed = false;
    if (error) {
      outcome.status = error->status;
      outcome.error_code = error->code;
      auto headers = request_headers(req);
      headers.insert(headers.end(), ctx.response_headers.begin(), ctx.response_headers.end());
      co_await sink.fail(*error, std::move(headers));
    } else {
      router::CallRequest call;
      call.op = route.op;
      call.route = route.path;
      call.body = &body;
      call.model = model;
      call.stream = facts.stream;
      call.client_wants_usage = facts.include_usage || route.face->needs_stream_usage();
      call.request_id = req.request_id;
      call.traceparent = traceparent;
      // A tracestate belongs to the client's trace: without a valid traceparent it goes.
      if (tracing::parse_traceparent(req.traceparent) && valid_tracestate(req.tracestate)) {
        call.tracestate = req.tracestate;
      }
      call.body_bytes = req.body.size();
      call.preferred_region = req.region;
      call.route_hint = hint;
      call.select_headers = req.select_headers;
      call.base64_embeddings = facts.base64_embeddings;
      call.max_output_tokens = facts.max_output_tokens;
      call.max_json_depth = cfg.server.max_json_depth;
      call.extra_headers = &ctx.response_headers;
      // A stored response keeps the answer as the conversation's next turn.
      call.capture_answer = ctx.stored_response != nullptr;
      if (ctx.session) {
        call.capture_answer = true;
        call.session_id = ctx.session_id;
        call.session_history_begin = ctx.session_view.history_begin;
        call.session_history = ctx.session_view.history;
        call.session_summary = ctx.session_view.summary;
      }
      call.started = started;
      call.deadline = started + cfg.server.request_timeout;
      // A prompt call that wants the answer's text or its output object answers through a
      // sink that reshapes the chat answer; errors pass through it in the face's shape.
      std::unique_ptr<api::ResponseSink> shaped;
      if (ctx.prompt && ctx.output != prompts::Output::chat) {
        shaped = prompts::make_output_sink(sink, ctx.output, *ctx.prompt,
                                           cfg.server.max_json_depth);
      }
      api::ResponseSink& answer_sink = shaped ? *shaped : sink;
      // The response cache: a hit is replayed and no provider is called; a miss's answer is
      // captured on its way out (for the store tap), and its stale entry, if any, is the
      // router's last resort.
      std::unique_ptr<api::ResponseSink> captured;
      if (ctx.cache) {
        captured = ctx.cache->capture(answer_sink);
        call.last_resort = ctx.cache.get();
      }
      try {
        if (ctx.cache && ctx.cache->has_hit()) {
          outcome = co_await ctx.cache->replay(call, answer_sink);
        } else {
          outcome = co_await router.call(*table, call, captured ? *captured : answer_sink);
        }
      } catch (const boost::system::system_error&) {
        outcome.status = 499;  // cancelled: the client hung up (nginx's code for it)
        outcome.error_code = "client_closed_request";
      } catch (const std::exception& e) {
        // A bug, not the client's or a provider's fault: answer 500 (when nothing went out
        // yet), log it, and keep the access log and metrics whole.
        spdlog::error("request {}: router failed: {}", req.request_id, e.what());
        state_.metrics.request_refused("exception");
        crashed = true;
      }
    }
    if (crashed) {
      auto e = api::internal_error("The gateway failed to handle this request.");
      outcome.status = e.status;
      outcome.error_code = e.code;
      auto headers = request_headers(req);
      co_await sink.fail(e, std::move(headers));
    }
    ctx.outcome = &outcome;
    ctx.elapsed_seconds = std::chrono::duration<double>(steady_clock::now() - started).count();
    pipeline_.run_taps(ctx);
    remember_for_feedback(state_, *table, req.request_id, model, ctx.key, outcome);
  }

  GatewayState& state_;
  pipeline::Pipeline pipeline_;
};

}  // namespace

std::unique_ptr<Handler> make_api_handler(GatewayState& state) {
  return std::make_unique<ApiHandler>(state);
}

}  // namespace llmgw::server
