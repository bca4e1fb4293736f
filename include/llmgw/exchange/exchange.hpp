#pragma once
// One exchange with one target: render the request through the target's adapter, send it,
// classify a failure, translate an answer. The router's attempts are built from these pieces;
// a caller that needs one answer from one named target (a semantic probe, a judge call) uses
// ask() and needs no router, plan or health state.
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "llmgw/api/failure.hpp"
#include "llmgw/common/clock.hpp"
#include "llmgw/common/result.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/providers/adapter.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::exchange {

/// Who is asked: a provider (its adapter, config and endpoint) and the model id on it.
struct Target {
  const providers::ProviderAdapter* adapter = nullptr;
  const config::ProviderConfig* provider = nullptr;
  const upstream::Endpoint* endpoint = nullptr;
  const config::TargetConfig* target = nullptr;
};

/// Headers that follow a request to every upstream it reaches. Empty ones are not sent.
struct Correlation {
  std::string_view request_id;
  std::string_view traceparent;  // already carries the gateway's own span id
  std::string_view tracestate;
};

/// The request as `to` expects it, with the correlation headers. `body` is the client's
/// parsed request; the adapter may touch it in place (see ProviderAdapter::build_request).
providers::UpstreamRequest render(const Target& to, providers::Operation op, nlohmann::json& body,
                                  const providers::RequestOptions& options,
                                  const Correlation& correlation);

/// When one attempt on `provider` must be over: its timeouts.total from `now`, within the
/// request's own deadline.
upstream::Deadline attempt_deadline(const config::ProviderConfig& provider,
                                    common::Clock::time_point now, upstream::Deadline request);

/// A non-2xx answer: its body read (bounded) and classified by the adapter, with the
/// provider's retry-after.
boost::asio::awaitable<api::Failure> classify_error(upstream::Response& response,
                                                    const providers::ProviderAdapter& adapter);

/// A 2xx non-streamed answer read and translated to the ingress body, filling `usage`. A
/// transport failure while reading, or a 2xx that is no answer, is the failure.
boost::asio::awaitable<providers::Translated> read_answer(upstream::Response& response,
                                                          const providers::ProviderAdapter& adapter,
                                                          providers::Operation op,
                                                          const providers::RequestOptions& options,
                                                          providers::Usage& usage);

/// One complete non-streamed answer from one target.
struct Answer {
  std::string body;  // the ingress (OpenAI) shape
  providers::Usage usage;
  double header_ms = 0;  // time to the response header
};

/// render → send → classify → translate, once, on `to`, within `deadline` and the provider's
/// timeouts.total. A non-2xx answer comes back as its classified failure (client faults
/// included: the caller decides what they mean to it). No retry, no health record.
boost::asio::awaitable<common::Result<Answer, api::Failure>> ask(
    upstream::Transport& transport, const common::Clock& clock, const Target& to,
    providers::Operation op, nlohmann::json& body, const providers::RequestOptions& options,
    const Correlation& correlation, upstream::Deadline deadline);

}  // namespace llmgw::exchange
