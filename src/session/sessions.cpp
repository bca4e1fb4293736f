#include "llmgw/session/sessions.hpp"

#include "llmgw/state/redis.hpp"

namespace llmgw::session {
namespace {

std::string identity_of(const config::SessionsConfig& c) {
  std::string id;
  switch (c.store) {
    case config::SessionStoreKind::memory:
      id = "memory";
      break;
    case config::SessionStoreKind::sqlite:
      id = "sqlite:" + c.sqlite_path;
      break;
    case config::SessionStoreKind::redis:
      id = "redis:" + c.redis_url;
      break;
  }
  return id + "|" + std::to_string(c.ttl.count()) + "|" + std::to_string(c.max_sessions) + "|" +
         std::to_string(c.max_bytes);
}

}  // namespace

std::optional<std::string> Sessions::configure(const config::SessionsConfig& cfg) {
  auto identity = identity_of(cfg);
  {
    std::lock_guard lock(mu_);
    if (store_ && identity == identity_) {
      return std::nullopt;
    }
  }
  const auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.ttl);
  std::shared_ptr<SessionStore> made;
  switch (cfg.store) {
    case config::SessionStoreKind::memory: {
      MemoryStoreOptions o;
      o.ttl = ttl;
      o.max_sessions = cfg.max_sessions;
      o.max_bytes = cfg.max_bytes;
      made = make_memory_store(o);
      break;
    }
    case config::SessionStoreKind::sqlite: {
      SqliteStoreOptions o;
      o.path = cfg.sqlite_path;
      o.ttl = ttl;
      auto opened = make_sqlite_store(std::move(o));
      if (!opened) {
        return "sessions.store: sqlite: " + opened.error().message;
      }
      made = std::move(*opened);
      break;
    }
    case config::SessionStoreKind::redis: {
      if (auto address = state::parse_redis_url(cfg.redis_url); !address) {
        return "sessions.redis.url: " + address.error().message;
      }
      RedisStoreOptions o;
      o.url = cfg.redis_url;
      o.ttl = ttl;
      made = make_redis_store(std::move(o));
      break;
    }
  }
  std::vector<std::shared_ptr<SessionStore>> done;
  {
    std::lock_guard lock(mu_);
    if (store_) {
      retired_.push_back(std::move(store_));
    }
    store_ = std::move(made);
    identity_ = std::move(identity);
    for (auto it = retired_.begin(); it != retired_.end();) {
      if (it->use_count() == 1) {
        done.push_back(std::move(*it));
        it = retired_.erase(it);
      } else {
        ++it;
      }
    }
  }
  return std::nullopt;  // `done` is destroyed here, outside the lock
}

void Sessions::shutdown() {
  std::shared_ptr<SessionStore> last;
  std::vector<std::shared_ptr<SessionStore>> retired;
  {
    std::lock_guard lock(mu_);
    last = std::move(store_);
    retired = std::move(retired_);
  }
}

std::shared_ptr<SessionStore> Sessions::store() const {
  std::lock_guard lock(mu_);
  return store_;
}

}  // namespace llmgw::session
