#include "llmgw/exchange/exchange.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace llmgw::exchange {
namespace {

namespace asio = boost::asio;
constexpr std::size_t kMaxErrorBody = 1u << 20;
constexpr std::size_t kMaxResponseBody = 64u << 20;

api::Failure transport_failure(const upstream::Error& e, int status) {
  api::Failure f;
  f.cls = e.cls;
  f.status = status;
  f.message = e.message;
  return f;
}

}  // namespace

providers::UpstreamRequest render(const Target& to, providers::Operation op, nlohmann::json& body,
                                  const providers::RequestOptions& options,
                                  const Correlation& correlation) {
  auto request = to.adapter->build_request(op, body, *to.provider, *to.target, options);
  if (!correlation.request_id.empty()) {
    request.headers.emplace_back("x-request-id", std::string(correlation.request_id));
  }
  if (!correlation.traceparent.empty()) {
    request.headers.emplace_back("traceparent", std::string(correlation.traceparent));
    if (!correlation.tracestate.empty()) {
      request.headers.emplace_back("tracestate", std::string(correlation.tracestate));
    }
  }
  return request;
}

upstream::Deadline attempt_deadline(const config::ProviderConfig& provider,
                                    common::Clock::time_point now, upstream::Deadline request) {
  return std::min(request, now + provider.timeouts.total);
}

asio::awaitable<api::Failure> classify_error(upstream::Response& response,
                                             const providers::ProviderAdapter& adapter) {
  auto body = co_await response.read_all(kMaxErrorBody);
  auto retry_after =
      api::parse_retry_after(response.header("retry-after-ms"), response.header("retry-after"));
  // An error body that cannot be read is still the status's failure; the status decides.
  auto failure =
      adapter.classify_error(response.status(), body ? *body : std::string_view(), retry_after);
  co_return failure;
}

asio::awaitable<providers::Translated> read_answer(upstream::Response& response,
                                                   const providers::ProviderAdapter& adapter,
                                                   providers::Operation op,
                                                   const providers::RequestOptions& options,
                                                   providers::Usage& usage) {
  auto body = co_await response.read_all(kMaxResponseBody);
  if (!body) {
    co_return common::err(transport_failure(body.error(), response.status()));
  }
  auto translated = adapter.translate_response(op, std::move(*body), options, usage);
  co_return translated;
}

asio::awaitable<common::Result<Answer, api::Failure>> ask(
    upstream::Transport& transport, const common::Clock& clock, const Target& to,
    providers::Operation op, nlohmann::json& body, const providers::RequestOptions& options,
    const Correlation& correlation, upstream::Deadline deadline) {
  auto request = render(to, op, body, options, correlation);
  const auto t0 = clock.now();
  auto sent =
      co_await transport.send(*to.endpoint, request, attempt_deadline(*to.provider, t0, deadline));
  if (!sent) {
    co_return common::err(transport_failure(sent.error(), 0));
  }
  auto& response = *sent;
  Answer answer;
  answer.header_ms = std::chrono::duration<double, std::milli>(clock.now() - t0).count();
  if (response.status() < 200 || response.status() >= 300) {
    auto failure = co_await classify_error(response, *to.adapter);
    co_return common::err(std::move(failure));
  }
  auto translated = co_await read_answer(response, *to.adapter, op, options, answer.usage);
  if (!translated) {
    co_return common::err(std::move(translated.error()));
  }
  answer.body = std::move(*translated);
  co_return answer;
}

}  // namespace llmgw::exchange
