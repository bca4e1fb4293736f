// The process's response cache store (cache.hpp).
#include "llmgw/cache/cache.hpp"

#include <algorithm>

#include "llmgw/cache/memory_store.hpp"
#include "llmgw/cache/redis_store.hpp"
#include "llmgw/state/redis.hpp"

namespace llmgw::cache {
namespace {

std::string identity(const config::Config& cfg) {
  if (cfg.state.backend == config::StateBackend::redis) {
    return "redis:" + cfg.state.redis_url + ":" + std::to_string(cfg.cache.max_entry_bytes) +
           ":" + std::to_string(cfg.cache.max_stale.count());
  }
  return "memory:" + std::to_string(cfg.cache.max_bytes) + ":" +
         std::to_string(cfg.cache.max_entries) + ":" +
         std::to_string(cfg.cache.max_stale.count());
}

}  // namespace

std::optional<std::string> Cache::configure(const config::Config& cfg,
                                            metrics::Metrics* metrics) {
  auto id = identity(cfg);
  {
    std::lock_guard lock(mu_);
    if (store_ && id == identity_) {
      return std::nullopt;
    }
  }
  std::shared_ptr<CacheStore> made;
  const auto max_stale = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.cache.max_stale);
  if (cfg.state.backend == config::StateBackend::redis) {
    if (auto address = state::parse_redis_url(cfg.state.redis_url); !address) {
      return "state.redis.url: " + address.error().message;
    }
    RedisStoreOptions o;
    o.url = cfg.state.redis_url;
    o.max_stale = max_stale;
    o.metrics = metrics;
    o.availability = availability_;
    made = make_redis_store(std::move(o));
  } else {
    made = std::make_shared<MemoryStore>(
        MemoryLimits{cfg.cache.max_bytes, cfg.cache.max_entries, max_stale});
  }
  std::lock_guard lock(mu_);
  // Retired stores no request holds any more go now (here, on the control thread).
  std::erase_if(retired_, [](const auto& s) { return s.use_count() == 1; });
  if (store_) {
    retired_.push_back(std::move(store_));
  }
  store_ = std::move(made);
  identity_ = std::move(id);
  return std::nullopt;
}

void Cache::use(std::shared_ptr<CacheStore> store) {
  std::lock_guard lock(mu_);
  store_ = std::move(store);
  identity_ = "injected";
}

std::shared_ptr<CacheStore> Cache::store() const {
  std::lock_guard lock(mu_);
  return store_;
}

void Cache::shutdown() {
  std::lock_guard lock(mu_);
  store_.reset();
  retired_.clear();
}

}  // namespace llmgw::cache
