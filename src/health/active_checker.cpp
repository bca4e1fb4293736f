#include "llmgw/health/active_checker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>
#include <unordered_map>

#include "health/jitter.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::health {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

struct Checker {
  CheckTarget target;
  upstream::Endpoint endpoint;
  asio::steady_timer timer;
  bool stopped = false;

  Checker(CheckTarget t, asio::io_context& ioc)
      : target(std::move(t)), endpoint(upstream::Endpoint::from(target.provider, 1)), timer(ioc) {}
};

}  // namespace

struct ActiveCheckers::Impl {
  Impl(asio::io_context& c, CheckObserver o)
      : control(c), client(c.get_executor()), observer(std::move(o)), rng(std::random_device{}()) {}

  asio::awaitable<void> run(std::shared_ptr<Checker> checker) {
    const auto& check = *checker->target.provider.health.active;
    auto unhealthy_interval =
        check.unhealthy_interval.count() > 0
            ? check.unhealthy_interval
            : std::max(milliseconds(100), milliseconds(check.interval.count() / 4));
    while (!checker->stopped) {
      auto [passed, detail] = co_await probe(*checker, check);
      if (checker->stopped) {
        break;
      }
      checker->target.health->set_active(passed, detail);
      auto healthy = checker->target.health->snapshot(std::chrono::steady_clock::now())
                         .active_healthy.value_or(true);
      if (observer) {
        observer(checker->target.provider.name, healthy);
      }
      checker->timer.expires_after(jittered(healthy ? check.interval : unhealthy_interval, rng));
      co_await checker->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  asio::awaitable<std::pair<bool, std::string>> probe(Checker& checker,
                                                      const config::ActiveHealthConfig& check) {
    auto deadline = std::chrono::steady_clock::now() + check.timeout;
    if (check.kind == config::ActiveHealthConfig::Kind::tcp) {
      auto r = co_await client.probe_connect(checker.endpoint, deadline);
      if (!r) {
        co_return std::pair<bool, std::string>{false, r.error().message};
      }
      co_return std::pair<bool, std::string>{true, std::string()};
    }
    auto request = checker.target.adapter->build_health_request(checker.target.provider, check);
    auto resp = co_await client.send(checker.endpoint, request, deadline);
    if (!resp) {
      co_return std::pair<bool, std::string>{false, resp.error().message};
    }
    int status = resp->status();
    auto body = co_await resp->read_all(1u << 20);  // drain so the connection is reusable
    if (static_cast<unsigned>(status) != check.expected_status) {
      co_return std::pair<bool, std::string>{
          false, "GET " + check.path + " answered HTTP " + std::to_string(status) + ", expected " +
                     std::to_string(check.expected_status)};
    }
    if (!body) {
      co_return std::pair<bool, std::string>{false, body.error().message};
    }
    co_return std::pair<bool, std::string>{true, std::string()};
  }

  asio::io_context& control;
  upstream::Client client;
  CheckObserver observer;
  std::mt19937_64 rng;
  std::unordered_map<std::string, std::shared_ptr<Checker>> checkers;  // by identity
};

ActiveCheckers::ActiveCheckers(asio::io_context& control, CheckObserver observer)
    : impl_(std::make_unique<Impl>(control, std::move(observer))) {}

ActiveCheckers::~ActiveCheckers() { stop_all(); }

void ActiveCheckers::sync(std::vector<CheckTarget> targets) {
  std::unordered_map<std::string, std::shared_ptr<Checker>> next;
  for (auto& t : targets) {
    if (!t.provider.health.active || !t.adapter) {
      continue;
    }
    auto it = impl_->checkers.find(t.identity);
    if (it != impl_->checkers.end()) {
      next.emplace(t.identity, it->second);
      impl_->checkers.erase(it);
      continue;
    }
    auto id = t.identity;
    auto checker = std::make_shared<Checker>(std::move(t), impl_->control);
    asio::co_spawn(impl_->control, impl_->run(checker), asio::detached);
    next.emplace(std::move(id), std::move(checker));
  }
  for (auto& [_, old] : impl_->checkers) {
    old->stopped = true;
    old->timer.cancel();
  }
  impl_->checkers = std::move(next);
}

void ActiveCheckers::stop_all() {
  for (auto& [_, c] : impl_->checkers) {
    c->stopped = true;
    c->timer.cancel();
  }
  impl_->checkers.clear();
}

}  // namespace llmgw::health
