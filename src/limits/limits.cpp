#include "llmgw/limits/limits.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <cstdio>

#include "llmgw/common/strings.hpp"
#include "llmgw/state/availability.hpp"
#include "shared_limits.hpp"

namespace llmgw::limits {
namespace {

std::atomic<int> g_pending{0};

bool has_rate(const config::KeyConfig& k) { return k.rate_limit.rpm || k.rate_limit.tpm; }
bool has_budget(const config::KeyConfig& k) {
  return k.budget && (k.budget->usd_per_day > 0 || k.budget->usd_per_month > 0);
}

std::string usd_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10f", v);
  return buf;
}

std::string_view policy_text(config::OnUnavailable p, bool budgets) {
  if (p == config::OnUnavailable::deny) {
    return "deny: refused with 503 state_unavailable";
  }
  return budgets ? "allow: admitted unchecked" : "allow: this instance's own buckets";
}

// Held by a detached settlement: the drain waits until none is left.
struct PendingSettle {
  PendingSettle() { g_pending.fetch_add(1); }
  ~PendingSettle() { g_pending.fetch_sub(1); }
  PendingSettle(const PendingSettle&) = delete;
  PendingSettle& operator=(const PendingSettle&) = delete;
};

boost::asio::awaitable<void> settle_shared(std::shared_ptr<SharedLimits> shared,
                                           std::string key, std::uint64_t tpm, double token_delta,
                                           std::string member, double cost, Periods periods,
                                           bool budget, state::Availability* availability,
                                           std::unique_ptr<PendingSettle> pending) {
  auto done = co_await shared->settle(key, tpm, token_delta, member, cost, periods);
  if (availability) {
    const auto feature = budget ? state::Feature::budgets : state::Feature::limits;
    if (done) {
      availability->report_ok(feature, shared->where());
    } else {
      availability->report_down(feature, shared->where(), done.error().message,
                                 "the settlement is lost");
    }
  }
  pending.reset();
}

}  // namespace

Limits::Limits() = default;
Limits::~Limits() = default;

int Limits::pending() { return g_pending.load(); }

std::optional<std::string> Limits::configure(const config::StateConfig& cfg) {
  std::shared_ptr<SharedLimits> made;
  if (cfg.backend == config::StateBackend::redis) {
    if (auto address = state::parse_redis_url(cfg.redis_url); !address) {
      return "state.redis.url: " + address.error().message;
    }
  }
  std::shared_ptr<SharedLimits> old;
  {
    std::lock_guard lock(mu_);
    on_unavailable_ = cfg.on_unavailable;
    const std::string url = cfg.backend == config::StateBackend::redis ? cfg.redis_url : "";
    if (url == shared_url_) {
      return std::nullopt;
    }
    if (!url.empty()) {
      state::RedisOptions o;
      o.url = url;
      // A request waits for its admission: a stalled Redis must not stall it long.
      o.command_timeout = std::chrono::milliseconds(250);
      o.connect_timeout = std::chrono::milliseconds(250);
      made = std::make_shared<SharedLimits>(o);
    }
    old = std::move(shared_);
    shared_ = std::move(made);
    shared_url_ = url;
  }
  return std::nullopt;
}

void Limits::set_clocks(const common::Clock* steady, WallClock wall) {
  steady_ = steady;
  wall_ = std::move(wall);
}

void Limits::shutdown() {
  std::lock_guard lock(mu_);
  shared_.reset();
  shared_url_.clear();
}

std::shared_ptr<SharedLimits> Limits::shared() const {
  std::lock_guard lock(mu_);
  return shared_;
}

TimePoint Limits::steady_now() const {
  return steady_ ? steady_->now() : std::chrono::steady_clock::now();
}

WallTime Limits::wall_now() const { return wall_ ? wall_() : std::chrono::system_clock::now(); }

Decision Limits::admit_local(const AdmitInput& in, Ticket& ticket, bool rate, bool budget) {
  Decision d;
  if (budget) {
    auto check = budget_.reserve(in.key, in.usd, wall_now());
    if (check.exceeded != BudgetPeriod::none) {
      d.refused = Refusal::budget;
      d.budget = check;
      return d;
    }
    ticket.budget = Ticket::Where::local;
    ticket.usd = in.usd;
  }
  if (rate) {
    auto a = rate_.admit(in.key, in.tokens, steady_now());
    d.requests = a.requests;
    d.tokens = a.tokens;
    if (!a.allowed) {
      d.refused = a.refused_by == "tokens" ? Refusal::tokens : Refusal::requests;
      d.retry_after = a.retry_after;
      if (ticket.budget == Ticket::Where::local) {
        budget_.settle(in.key, ticket.usd, 0, wall_now());
        ticket.budget = Ticket::Where::none;
      }
      return d;
    }
    ticket.limits = Ticket::Where::local;
    ticket.tokens = in.tokens;
  }
  return d;
}

boost::asio::awaitable<Decision> Limits::admit(const AdmitInput& in, Ticket& ticket) {
  const bool rate = has_rate(in.key);
  const bool budget = has_budget(in.key);
  auto shared_now = shared();
  if (!shared_now) {
    co_return admit_local(in, ticket, rate, budget);
  }
  config::OnUnavailableConfig policy;
  {
    std::lock_guard lock(mu_);
    policy = on_unavailable_;
  }
  const auto periods = periods_at(wall_now());
  // The request id is the client's (x-request-id) and may repeat: the reservation's name gets
  // a part of ours, so two requests never share (and half-release) one hold.
  std::string member = std::string(in.request_id) + "." + common::random_hex(8);
  auto result = co_await shared_now->admit(in, periods, member, rate, budget);
  if (!result) {
    // A client that hung up cancels its admission: Redis did not fail.
    auto cancelled = co_await boost::asio::this_coro::cancellation_state;
    if (cancelled.cancelled() != boost::asio::cancellation_type::none) {
      Decision gone;
      gone.refused = Refusal::unavailable;
      gone.unavailable = "limits";
      co_return gone;
    }
  }
  if (result) {
    if (availability_) {
      if (rate) {
        availability_->report_ok(state::Feature::limits, shared_now->where());
      }
      if (budget) {
        availability_->report_ok(state::Feature::budgets, shared_now->where());
      }
    }
    Decision d = std::move(*result);
    if (d.refused == Refusal::none) {
      ticket.shared = shared_now;
      ticket.executor = co_await boost::asio::this_coro::executor;
      if (rate) {
        ticket.limits = Ticket::Where::shared;
        ticket.tokens = in.tokens;
      }
      if (budget) {
        ticket.budget = Ticket::Where::shared;
        ticket.usd = in.usd;
        ticket.member = member + "|" + usd_text(in.usd);
      }
    }
    co_return d;
  }
  // Redis did not answer: each feature as state.on_unavailable says.
  const auto& why = result.error().message;
  if (availability_) {
    if (rate) {
      availability_->report_down(state::Feature::limits, shared_now->where(), why,
                                 policy_text(policy.limits, false));
    }
    if (budget) {
      availability_->report_down(state::Feature::budgets, shared_now->where(), why,
                                 policy_text(policy.budgets, true));
    }
  }
  Decision d;
  if (budget && policy.budgets == config::OnUnavailable::deny) {
    d.refused = Refusal::unavailable;
    d.unavailable = "budgets";
    co_return d;
  }
  if (rate && policy.limits == config::OnUnavailable::deny) {
    d.refused = Refusal::unavailable;
    d.unavailable = "limits";
    co_return d;
  }
  // Limits on this instance's buckets meanwhile; an unchecked budget still records the spend
  // when Redis is back by the time the answer is out.
  d = admit_local(in, ticket, rate, false);
  if (d.refused == Refusal::none && budget) {
    ticket.shared = shared_now;
    ticket.executor = co_await boost::asio::this_coro::executor;
    ticket.budget = Ticket::Where::shared;
  }
  co_return d;
}

void Limits::settle(const config::KeyConfig& key, const Ticket& ticket, double tokens,
                    double cost) {
  if (ticket.limits == Ticket::Where::local) {
    rate_.settle(key, ticket.tokens, tokens, steady_now());
  }
  if (ticket.budget == Ticket::Where::local) {
    budget_.settle(key, ticket.usd, cost, wall_now());
  }
  const bool shared_tokens = ticket.limits == Ticket::Where::shared && key.rate_limit.tpm &&
                             tokens != ticket.tokens;
  const bool shared_budget = ticket.budget == Ticket::Where::shared;
  if ((shared_tokens || shared_budget) && ticket.shared && ticket.executor) {
    const double delta = shared_tokens ? tokens - ticket.tokens : 0;
    boost::asio::co_spawn(ticket.executor,
                          settle_shared(ticket.shared, key.name, key.rate_limit.tpm.value_or(0),
                                        delta, ticket.member,
                                        shared_budget ? cost : 0, periods_at(wall_now()),
                                        shared_budget, availability_,
                                        std::make_unique<PendingSettle>()),
                          boost::asio::detached);
  }
}

}  // namespace llmgw::limits
