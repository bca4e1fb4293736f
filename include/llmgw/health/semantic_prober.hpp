#pragma once
// Semantic health probes (SPEC providers[].health.semantic, probes[]): every `interval` (with
// jitter, the first round at a random point of the first interval so a reload does not send
// every probe at once) each probed provider gets one round: every probe it names, one after the
// other, each a single exchange with that provider's `semantic.model` (exchange::ask, no router,
// no retry). A round fails when one probe's answer breaks a rule, passes when every answer
// keeps them; a round that learned nothing (the provider did not answer: availability is the
// active and passive checks' business) changes nothing. An answer that keeps every rule is then
// graded by the models its probe names (judge, similar_to), asked through a ModelAsker that
// never sends them to the provider being judged; a grader that cannot answer makes the probe
// unknown, never failed. TargetHealth turns rounds into a
// verdict (unhealthy_after / healthy_after in a row), and an unhealthy verdict takes the
// provider out of routing like a failing active check.
//
// One prober per process, on the control thread; time, waiting and randomness are injected so
// tests run rounds in simulated time.
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "llmgw/common/clock.hpp"
#include "llmgw/common/timer.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/health/judge.hpp"
#include "llmgw/health/probe_check.hpp"
#include "llmgw/health/target_health.hpp"
#include "llmgw/providers/adapter.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::health {

struct ProbeTarget {
  config::ProviderConfig provider;          // a copy: the prober outlives config snapshots
  std::vector<config::ProbeConfig> probes;  // health.semantic.probes, resolved, in order
  std::shared_ptr<const providers::ProviderAdapter> adapter;
  std::shared_ptr<TargetHealth> health;
  std::string identity;
  // The price of the probed model (the models[].targets entry with this provider and
  // semantic.model), for the probes' cost; zero when no target lists one.
  config::Price price;
};

/// One probe's outcome, for metrics and the log (the prober itself logs nothing).
struct ProbeReport {
  const std::string& provider;
  const std::string& probe;
  const ProbeResult& result;
  std::chrono::milliseconds latency;
  double cost_usd = 0;  // tokens the answer used × the target's price
};

/// Probing of `provider` paused (its max_usd_per_day is spent) or resumed (a new day).
struct BudgetReport {
  const std::string& provider;
  bool paused;
  double spent_usd;
  double max_usd;
};

struct ProbeObserver {
  std::function<void(const ProbeReport&)> probe;
  std::function<void(const BudgetReport&)> budget;
};

struct ProberEnvironment {
  const common::Clock* clock = &common::SteadyClock::instance();
  common::Sleeper* sleeper = &common::SteadySleeper::instance();
  std::uint64_t seed = 0;  // 0: from std::random_device
  // Where `judge` and `similar_to` verdicts are asked; null: those verdicts are unknown.
  ModelAsker* asker = nullptr;
};

/// The canonical (OpenAI) chat request a probe sends.
nlohmann::json probe_request(const config::ProbeConfig& probe, const std::string& model);

class SemanticProbers {
public:
  SemanticProbers(boost::asio::io_context& control, upstream::Transport& transport,
                  ProbeObserver observer, ProberEnvironment env = {});
  ~SemanticProbers();

  /// Starts probing new targets, stops those no longer listed; a target whose identity is
  /// unchanged keeps its schedule and takes the new probe definitions from its next round.
  /// Call on the control thread.
  void sync(std::vector<ProbeTarget> targets);
  void stop_all();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmgw::health
