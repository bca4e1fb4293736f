#pragma once
// Active health checks (SPEC providers[].health.active): one checker per provider per process,
// running as coroutines on the control thread's io_context with their own upstream client, so
// they never block or load the workers' event loops. TCP checks open a connection; HTTP checks
// GET a path with the provider's credentials and expect a status. Checks run every `interval`
// (±10% jitter), every `unhealthy_interval` (default interval/4) while failing.
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "llmgw/config/config.hpp"
#include "llmgw/health/target_health.hpp"
#include "llmgw/providers/adapter.hpp"

namespace llmgw::health {

struct CheckTarget {
  config::ProviderConfig provider;  // a copy: the checker outlives config snapshots
  std::shared_ptr<const providers::ProviderAdapter> adapter;
  std::shared_ptr<TargetHealth> health;
  std::string identity;
};

/// Called after every check with (provider, passed); for metrics.
using CheckObserver = std::function<void(const std::string&, bool)>;

class ActiveCheckers {
public:
  ActiveCheckers(boost::asio::io_context& control, CheckObserver observer);
  ~ActiveCheckers();

  /// Starts checkers for new targets, stops those no longer listed; unchanged identities keep
  /// running (and keep their state). Call on the control thread.
  void sync(std::vector<CheckTarget> targets);
  void stop_all();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmgw::health
