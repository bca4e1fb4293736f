#pragma once
// The health module's ModelAsker over the live route table: a judge or embeddings call goes
// to the named model's targets (then its fallbacks') in config order, skipping the provider
// being judged and every target its health says is not routable, one try each (at most
// kMaxTries), like a client call without retries, hedging or a balancer's state. It records
// nothing in the targets' health: it is the prober's side channel, not traffic.
#include <functional>
#include <memory>

#include "llmgw/common/clock.hpp"
#include "llmgw/health/judge.hpp"
#include "llmgw/router/route_table.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::router {

class RoutedModelAsker final : public health::ModelAsker {
public:
  using TableSource = std::function<std::shared_ptr<const RouteTable>()>;
  static constexpr unsigned kMaxTries = 3;

  RoutedModelAsker(upstream::Transport& transport, const common::Clock& clock,
                   TableSource tables)
      : transport_(transport), clock_(clock), tables_(std::move(tables)) {}

  boost::asio::awaitable<common::Result<health::ModelAnswer, api::Failure>> ask(
      std::string model, providers::Operation op, nlohmann::json body, std::string avoid,
      upstream::Deadline deadline) override;

private:
  upstream::Transport& transport_;
  const common::Clock& clock_;
  TableSource tables_;
};

}  // namespace llmgw::router
