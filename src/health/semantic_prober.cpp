#include "llmgw/health/semantic_prober.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_map>

#include "llmgw/config/probe_template.hpp"
#include "health/jitter.hpp"
#include "llmgw/exchange/exchange.hpp"

namespace llmgw::health {
namespace {

namespace asio = boost::asio;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

// The longest a judge or embeddings call may take (within the probe interval).
constexpr milliseconds kGraderBudget{60'000};

struct Prober {
  ProbeTarget target;
  upstream::Endpoint endpoint;
  config::TargetConfig model;  // the provider's semantic.model, as a target
  asio::cancellation_signal cancel;
  bool stopped = false;
  // Spend against semantic.max_usd_per_day: a day runs from its first probe, on the injected
  // clock (a rolling day, not a calendar one: no time zone to agree on).
  double spent_usd = 0;
  common::Clock::time_point day_started{};
  bool paused = false;

  explicit Prober(ProbeTarget t)
      : target(std::move(t)), endpoint(upstream::Endpoint::from(target.provider, 1)) {
    model.provider = target.provider.name;
    model.model = target.provider.health.semantic->model;
  }
};

// A probe's verdict from what the exchange brought back. Outside the coroutine: g++ 12
// mishandles aggregates built from string literals in coroutine bodies.
ProbeResult judge(const common::Result<exchange::Answer, api::Failure>& asked,
                  const config::ProbeConfig& probe, milliseconds latency, milliseconds budget) {
  if (asked) {
    return check_answer(probe.expect, answer_text(asked.value().body), latency);
  }
  const auto& failure = asked.error();
  const bool slow =
      failure.cls == api::FailureClass::timeout || failure.cls == api::FailureClass::stall;
  if (failure.cls == api::FailureClass::bad_response) {
    return ProbeResult{ProbeVerdict::fail, "bad_response", failure.message};
  }
  if (slow && probe.expect.max_latency) {
    return ProbeResult{ProbeVerdict::fail, "max_latency",
                       "no answer within " + std::to_string(budget.count()) + "ms"};
  }
  // No answer at all (refused, 5xx, 429, timeout): nothing learned about its content.
  return ProbeResult{ProbeVerdict::unknown, std::string(api::to_string(failure.cls)),
                     failure.message};
}

// A grader's (judge, embeddings model) failure to answer: the probe learned nothing.
ProbeResult grader_failed(std::string_view check, const std::string& model,
                          const api::Failure& failure) {
  return ProbeResult{ProbeVerdict::unknown, std::string(check),
                     model + " did not answer: " + std::string(api::to_string(failure.cls)) +
                         ": " + failure.message};
}

ProbeResult no_grader(std::string_view check) {
  return ProbeResult{ProbeVerdict::unknown, std::string(check), "no model to grade answers with"};
}

ProbeResult unknown_round(std::string why) {
  return ProbeResult{ProbeVerdict::unknown, "error", std::move(why)};
}

std::string describe(const std::string& probe, const ProbeResult& r) {
  return "probe " + probe + ": " + r.check + ": " + r.detail;
}

}  // namespace

nlohmann::json probe_request(const config::ProbeConfig& probe, const std::string& model) {
  auto messages = nlohmann::json::array();
  if (!probe.system.empty()) {
    messages.push_back({{"role", "system"}, {"content", probe.system}});
  }
  messages.push_back({{"role", "user"}, {"content", probe.prompt}});
  nlohmann::json body = {{"model", model},
                         {"messages", std::move(messages)},
                         {"max_tokens", probe.max_tokens},
                         {"temperature", probe.temperature},
                         {"stream", false}};
  if (probe.response_format == "json_object") {
    body["response_format"] = {{"type", "json_object"}};
  }
  return body;
}

struct SemanticProbers::Impl {
  Impl(asio::io_context& c, upstream::Transport& t, ProbeObserver o, ProberEnvironment e)
      : control(c),
        transport(t),
        observer(std::move(o)),
        env(e),
        rng(e.seed ? e.seed : std::random_device{}()) {}

  asio::awaitable<void> run(std::shared_ptr<Prober> prober) {
    const auto interval = prober->target.provider.health.semantic->interval;
    // The first round somewhere in the first interval: a reload that adds many probed
    // providers does not fire every probe at once.
    std::uniform_int_distribution<long long> first(0, std::max<long long>(0, interval.count() - 1));
    auto wait = milliseconds(first(rng));
    for (;;) {
      const bool slept = co_await env.sleeper->sleep_for(wait);
      if (!slept || prober->stopped) {
        co_return;
      }
      wait = jittered(interval, rng);
      if (over_budget(*prober)) {
        continue;  // not a verdict either way: the last one stands
      }
      ProbeResult round;
      try {
        round = co_await run_round(*prober);
      } catch (const std::exception& e) {
        // A bug on our side must not end this provider's probing for good: the round learned
        // nothing, the next one runs.
        round = unknown_round(e.what());
      }
      if (prober->stopped) {
        co_return;
      }
      if (round.verdict != ProbeVerdict::unknown) {
        prober->target.health->set_semantic(round.verdict == ProbeVerdict::pass, round.detail);
      }
    }
  }

  // Whether this round must be skipped because the day's probe budget is spent; starts a new
  // day when the last one is over.
  bool over_budget(Prober& prober) {
    const auto& cap = prober.target.provider.health.semantic->max_usd_per_day;
    const auto now = env.clock->now();
    if (prober.day_started == common::Clock::time_point{} ||
        now - prober.day_started >= std::chrono::hours(24)) {
      prober.day_started = now;
      prober.spent_usd = 0;
      if (prober.paused) {
        prober.paused = false;
        report_budget(prober, cap.value_or(0));
      }
    }
    if (!cap || prober.spent_usd < *cap) {
      return false;
    }
    if (!prober.paused) {
      prober.paused = true;
      report_budget(prober, *cap);
    }
    return true;
  }

  void report_budget(const Prober& prober, double cap) {
    if (observer.budget) {
      observer.budget(
          BudgetReport{prober.target.provider.name, prober.paused, prober.spent_usd, cap});
    }
  }

  // Every probe once; the first failing one decides the round.
  asio::awaitable<ProbeResult> run_round(Prober& prober) {
    auto probes = prober.target.probes;  // sync() may replace the list while we wait
    ProbeResult round{ProbeVerdict::unknown, {}, {}};
    for (const auto& listed : probes) {
      // A templated probe asks a new question every run (values 10..99).
      std::uniform_int_distribution<std::int64_t> value(10, 99);
      config::TemplateValues values{value(rng), value(rng)};
      const auto probe =
          config::is_templated(listed) ? config::instantiate(listed, values) : listed;
      auto result = co_await run_probe(prober, probe);
      if (prober.stopped) {
        co_return round;
      }
      if (result.verdict == ProbeVerdict::fail && round.verdict != ProbeVerdict::fail) {
        round = ProbeResult{ProbeVerdict::fail, result.check, describe(probe.name, result)};
      } else if (result.verdict == ProbeVerdict::pass && round.verdict == ProbeVerdict::unknown) {
        round.verdict = ProbeVerdict::pass;
      }
    }
    co_return round;
  }

  asio::awaitable<ProbeResult> run_probe(Prober& prober, const config::ProbeConfig& probe) {
    const auto& semantic = *prober.target.provider.health.semantic;
    auto body = probe_request(probe, semantic.model);
    const auto started = env.clock->now();
    // A probe slower than max_latency has failed; without one, a probe may take the interval
    // (never more: the next round is due).
    auto budget = probe.expect.max_latency
                      ? *probe.expect.max_latency
                      : std::min(prober.target.provider.timeouts.total, semantic.interval);
    exchange::Target to{prober.target.adapter.get(), &prober.target.provider, &prober.endpoint,
                        &prober.model};
    std::string request_id = "probe-" + prober.target.provider.name + "-" + probe.name;
    exchange::Correlation correlation{request_id, {}, {}};
    auto asked = co_await exchange::ask(transport, *env.clock, to, providers::Operation::chat,
                                        body, providers::RequestOptions{}, correlation,
                                        started + budget);
    const auto latency = duration_cast<milliseconds>(env.clock->now() - started);
    double cost = 0;
    if (asked) {
      cost = providers::cost_usd(asked->usage, prober.target.price);
      prober.spent_usd += cost;
    }
    ProbeResult result = judge(asked, probe, latency, budget);
    if (asked && result.verdict == ProbeVerdict::pass && !prober.stopped) {
      // (Named, never a temporary in the co_await expression: g++ 12.)
      std::string answer = answer_text(asked->body);
      const double before = prober.spent_usd;
      result = co_await grade(prober, probe, std::move(answer));
      cost += prober.spent_usd - before;  // the judge's and the embeddings model's calls
    }
    if (observer.probe && !prober.stopped) {
      observer.probe(ProbeReport{prober.target.provider.name, probe.name, result, latency, cost});
    }
    co_return result;
  }

  // One call to a grader (judge or embeddings model), never to the probed provider, within
  // the interval (at most kGraderBudget); its cost is the prober's.
  asio::awaitable<common::Result<ModelAnswer, api::Failure>> ask_grader(
      Prober& prober, std::string model, providers::Operation op, nlohmann::json request) {
    const auto& semantic = *prober.target.provider.health.semantic;
    const auto deadline =
        env.clock->now() + std::min<milliseconds>(semantic.interval, kGraderBudget);
    std::string avoid = prober.target.provider.name;
    auto asked = co_await env.asker->ask(std::move(model), op, std::move(request),
                                         std::move(avoid), deadline);
    if (asked) {
      prober.spent_usd += asked->cost_usd;
    }
    co_return asked;
  }

  // The model-graded verdicts of an answer that kept every rule: the judge's grade, then the
  // similarity to the reference. Their cost counts against the prober's daily budget.
  asio::awaitable<ProbeResult> grade(Prober& prober, const config::ProbeConfig& probe,
                                     std::string answer) {
    const auto& expect = probe.expect;
    ProbeResult result{ProbeVerdict::pass, {}, {}};
    if (!expect.judge && !expect.similar_to) {
      co_return result;
    }
    if (!env.asker) {
      result = no_grader(expect.judge ? "judge" : "similar_to");
      co_return result;
    }
    if (expect.judge) {
      // (Named arguments, never temporaries in a co_await expression: g++ 12.)
      std::string model = expect.judge->model;
      auto request = judge_request(*expect.judge, probe.prompt, answer);
      auto asked = co_await ask_grader(prober, std::move(model), providers::Operation::chat,
                                       std::move(request));
      if (!asked) {
        result = grader_failed("judge", expect.judge->model, asked.error());
        co_return result;
      }
      result = judge_verdict(*expect.judge, answer_text(asked->body));
      if (result.verdict != ProbeVerdict::pass) {
        co_return result;
      }
    }
    if (expect.similar_to) {
      std::string model = expect.similar_to->model;
      auto request = similarity_request(*expect.similar_to, answer);
      auto asked = co_await ask_grader(prober, std::move(model), providers::Operation::embeddings,
                                       std::move(request));
      if (!asked) {
        result = grader_failed("similar_to", expect.similar_to->model, asked.error());
        co_return result;
      }
      result = similarity_verdict(*expect.similar_to, asked->body, answer);
    }
    co_return result;
  }

  void start(const std::shared_ptr<Prober>& prober) {
    asio::co_spawn(control, run(prober),
                   asio::bind_cancellation_slot(prober->cancel.slot(), asio::detached));
  }

  static void stop(Prober& prober) {
    prober.stopped = true;
    prober.cancel.emit(asio::cancellation_type::terminal);
  }

  asio::io_context& control;
  upstream::Transport& transport;
  ProbeObserver observer;
  ProberEnvironment env;
  std::mt19937_64 rng;
  std::unordered_map<std::string, std::shared_ptr<Prober>> probers;  // by identity
};

SemanticProbers::SemanticProbers(asio::io_context& control, upstream::Transport& transport,
                                 ProbeObserver observer, ProberEnvironment env)
    : impl_(std::make_unique<Impl>(control, transport, std::move(observer), env)) {}

SemanticProbers::~SemanticProbers() { stop_all(); }

void SemanticProbers::sync(std::vector<ProbeTarget> targets) {
  std::unordered_map<std::string, std::shared_ptr<Prober>> next;
  for (auto& t : targets) {
    if (!t.provider.health.semantic || !t.adapter || !t.health || t.probes.empty()) {
      continue;
    }
    auto it = impl_->probers.find(t.identity);
    if (it != impl_->probers.end()) {
      // Same identity: same endpoint and semantic settings. What may change in place is read
      // afresh at the next round.
      it->second->target.probes = std::move(t.probes);
      it->second->target.price = t.price;
      next.emplace(t.identity, it->second);
      impl_->probers.erase(it);
      continue;
    }
    auto id = t.identity;
    auto prober = std::make_shared<Prober>(std::move(t));
    impl_->start(prober);
    next.emplace(std::move(id), std::move(prober));
  }
  for (auto& [_, old] : impl_->probers) {
    Impl::stop(*old);
  }
  impl_->probers = std::move(next);
}

void SemanticProbers::stop_all() {
  for (auto& [_, p] : impl_->probers) {
    Impl::stop(*p);
  }
  impl_->probers.clear();
}

}  // namespace llmgw::health
