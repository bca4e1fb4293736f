#pragma once
// The response cache on Redis (state.backend: redis): one entry per key under
// `llmgw:cache:<sha256>`, shared by every gateway instance on that Redis. The value is the
// entry's fresh-until time (Unix ms, wall clock: instances share it) and the answer; the key
// expires (SET ... PX) at fresh-until + max_stale, so Redis itself drops what could no longer
// be served even stale. No LRU of ours: Redis's own maxmemory policy bounds it.
//
// A Redis that fails (down, slow past the command timeout) makes every lookup a miss and
// every store a no-op: the request goes on to the providers (state.on_unavailable.cache: deny
// refuses it instead, in the lookup stage). The change of state is reported once each way to
// the state::Availability (a log line and llmgw_state_available{feature="cache"}), and each
// failure counts in llmgw_cache_store_errors_total{store,op}.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "llmgw/cache/store.hpp"

namespace llmgw::metrics {
class Metrics;
}
namespace llmgw::state {
class Availability;
}

namespace llmgw::cache {

struct RedisStoreOptions {
  std::string url = "redis://127.0.0.1:6379/0";
  std::string prefix = "llmgw:cache:";
  std::chrono::milliseconds max_stale{std::chrono::hours(24)};
  // A cache must never make a request wait long: past this, a lookup is a miss.
  std::chrono::milliseconds command_timeout{250};
  metrics::Metrics* metrics = nullptr;
  state::Availability* availability = nullptr;  // null: the store logs its state itself
  // Unix time in ms; tests inject their own.
  std::function<std::int64_t()> wall_clock_ms;
};

/// Must be used only from the workers' executors, and dropped before their io_contexts.
std::shared_ptr<CacheStore> make_redis_store(RedisStoreOptions options);

}  // namespace llmgw::cache
