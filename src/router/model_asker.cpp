#include "llmgw/router/model_asker.hpp"

#include <nlohmann/json.hpp>

#include "llmgw/exchange/exchange.hpp"

namespace llmgw::router {
namespace {

namespace asio = boost::asio;

struct Candidate {
  const config::TargetConfig* target = nullptr;
  const ProviderRoute* provider = nullptr;
};

// The targets that may answer, in the order to ask them. Outside the coroutine: g++ 12 and
// the vectors of aggregates built in coroutine bodies do not get along.
std::vector<Candidate> candidates(const RouteTable& table, const config::ModelConfig& model,
                                  providers::Operation op, const std::string& avoid,
                                  common::Clock::time_point now) {
  std::vector<Candidate> out;
  std::vector<const config::ModelConfig*> models{&model};
  for (const auto& name : model.fallbacks) {
    if (const auto* fb = table.model(name)) {
      models.push_back(fb);
    }
  }
  for (const auto* m : models) {
    for (const auto& t : m->targets) {
      const auto* p = table.provider(t.provider);
      if (!p || !p->adapter || t.provider == avoid || !p->adapter->supports(op)) {
        continue;
      }
      if (p->health && !p->health->peek(now).routable) {
        continue;
      }
      out.push_back(Candidate{&t, p});
    }
  }
  return out;
}

api::Failure nobody(const std::string& model, const std::string& avoid) {
  api::Failure f;
  f.cls = api::FailureClass::server_error;
  f.message = "model '" + model + "' has no routable target other than '" + avoid + "'";
  return f;
}

api::Failure unknown_model(const std::string& model) {
  api::Failure f;
  f.cls = api::FailureClass::model_not_found;
  f.message = "model '" + model + "' is not configured";
  return f;
}

api::Failure out_of_time(const std::string& model) {
  api::Failure f;
  f.cls = api::FailureClass::timeout;
  f.message = "no answer from model '" + model + "' within the grader's time";
  return f;
}

}  // namespace

asio::awaitable<common::Result<health::ModelAnswer, api::Failure>> RoutedModelAsker::ask(
    std::string model, providers::Operation op, nlohmann::json body, std::string avoid,
    upstream::Deadline deadline) {
  // Held for the whole call: the pointers below live in this snapshot.
  const auto table = tables_();
  const auto* configured = table ? table->model(model) : nullptr;
  if (!configured) {
    co_return common::err(unknown_model(model));
  }
  const auto order = candidates(*table, *configured, op, avoid, clock_.now());
  if (order.empty()) {
    co_return common::err(nobody(model, avoid));
  }
  std::optional<api::Failure> last;
  unsigned tries = 0;
  for (const auto& c : order) {
    if (tries++ == kMaxTries) {
      break;
    }
    if (clock_.now() >= deadline) {
      last = out_of_time(model);
      break;
    }
    // Each target gets the request as it was: an adapter may rewrite the body in place.
    auto copy = body;
    copy["model"] = c.target->model;
    exchange::Target to{c.provider->adapter.get(), c.provider->config, &c.provider->endpoint,
                        c.target};
    std::string request_id = "grader-" + avoid;
    exchange::Correlation correlation{request_id, {}, {}};
    auto asked = co_await exchange::ask(transport_, clock_, to, op, copy,
                                        providers::RequestOptions{}, correlation, deadline);
    if (asked) {
      health::ModelAnswer answer;
      answer.body = std::move(asked->body);
      answer.provider = c.target->provider;
      answer.cost_usd = providers::cost_usd(asked->usage, c.target->price);
      co_return answer;
    }
    last = std::move(asked.error());
  }
  co_return common::err(last ? std::move(*last) : nobody(model, avoid));
}

}  // namespace llmgw::router
