#pragma once
// The process's response cache store, built from the config (the top-level `cache` for its
// limits, `state.backend` for where it lives) and rebuilt by a reload only when those change:
// a reload that touches models keeps every entry. A request takes the current store once; a
// store a reload replaced lives until its last request is done.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "llmgw/cache/store.hpp"
#include "llmgw/config/config.hpp"

namespace llmgw::metrics {
class Metrics;
}
namespace llmgw::state {
class Availability;
}

namespace llmgw::cache {

class Cache {
public:
  /// Control thread, at start and on reload. An error (a bad Redis URL) keeps the previous
  /// store and says why. `metrics` (may be null) counts the store's failures.
  std::optional<std::string> configure(const config::Config& cfg,
                                       metrics::Metrics* metrics = nullptr);
  /// Where a Redis store reports outages (before configure()).
  void set_availability(state::Availability* availability) { availability_ = availability; }
  /// Uses `store` as it is (tests: a store on a manual clock).
  void use(std::shared_ptr<CacheStore> store);
  /// The current store; null before configure().
  std::shared_ptr<CacheStore> store() const;
  /// Drops the store while the workers' io_contexts still exist (a Redis store's connections
  /// belong to them).
  void shutdown();

private:
  mutable std::mutex mu_;
  std::shared_ptr<CacheStore> store_;
  std::string identity_;  // what the current store was built from
  std::vector<std::shared_ptr<CacheStore>> retired_;
  state::Availability* availability_ = nullptr;
};

}  // namespace llmgw::cache
