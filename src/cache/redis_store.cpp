// The response cache on Redis (redis_store.hpp).
#include "llmgw/cache/redis_store.hpp"

#include <atomic>
#include <boost/asio/this_coro.hpp>
#include <charconv>
#include <spdlog/spdlog.h>

#include "llmgw/metrics/metrics.hpp"
#include "llmgw/state/availability.hpp"
#include "llmgw/state/redis.hpp"

namespace llmgw::cache {
namespace {

namespace asio = boost::asio;
using state::RedisReply;

std::int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

state::RedisOptions client_options(const RedisStoreOptions& o) {
  state::RedisOptions r;
  r.url = o.url;
  r.command_timeout = o.command_timeout;
  r.connect_timeout = std::max(o.command_timeout, std::chrono::milliseconds(250));
  return r;
}

std::string where_of(const std::string& url) {
  auto a = state::parse_redis_url(url);
  return a ? "redis " + a->describe() : "redis";
}

// "<fresh until, unix ms>\n<answer>": one GET gives both.
std::string encode(std::int64_t fresh_until, std::string_view answer) {
  std::string out = std::to_string(fresh_until);
  out += '\n';
  out += answer;
  return out;
}

// Commands are built here, outside the coroutines (g++ 12 and initializer lists in coroutine
// bodies).
std::vector<std::string> get_command(const std::string& prefix, const std::string& key) {
  return {"GET", prefix + key};
}

std::vector<std::string> set_command(const std::string& prefix, const std::string& key,
                                     std::string value, std::chrono::milliseconds expire) {
  return {"SET", prefix + key, std::move(value), "PX",
          std::to_string(std::max<std::int64_t>(expire.count(), 1))};
}

class RedisStore final : public CacheStore {
public:
  explicit RedisStore(RedisStoreOptions options)
      : opt_(std::move(options)), pool_(client_options(opt_)), where_(where_of(opt_.url)) {
    if (!opt_.wall_clock_ms) {
      opt_.wall_clock_ms = system_ms;
    }
  }

  std::string_view kind() const override { return "redis"; }

  asio::awaitable<std::optional<Found>> get(std::string key) override {
    auto ex = co_await asio::this_coro::executor;
    auto client = pool_.client(ex);
    auto args = get_command(opt_.prefix, key);
    auto reply = co_await client->command(std::move(args));
    if (!reply || reply->is_error()) {
      failed("get", reply ? "redis refused: " + reply->str : reply.error().message);
      co_return std::nullopt;
    }
    recovered();
    if (reply->type != RedisReply::Type::string) {
      co_return std::nullopt;
    }
    co_return decode(std::move(reply->str));
  }

  asio::awaitable<void> put(std::string key, std::string answer,
                            std::chrono::milliseconds ttl) override {
    auto ex = co_await asio::this_coro::executor;
    auto client = pool_.client(ex);
    const auto fresh_until = opt_.wall_clock_ms() + ttl.count();
    const auto keep = ttl + opt_.max_stale;
    auto args = set_command(opt_.prefix, key, encode(fresh_until, answer), keep);
    auto reply = co_await client->command(std::move(args));
    if (!reply || reply->is_error()) {
      failed("put", reply ? "redis refused: " + reply->str : reply.error().message);
      co_return;
    }
    recovered();
  }

private:
  std::optional<Found> decode(std::string value) const {
    auto nl = value.find('\n');
    if (nl == std::string::npos) {
      return std::nullopt;  // not ours
    }
    std::int64_t fresh_until = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + nl, fresh_until);
    if (ec != std::errc() || end != value.data() + nl) {
      return std::nullopt;
    }
    value.erase(0, nl + 1);
    Found found;
    found.stale = opt_.wall_clock_ms() >= fresh_until;
    found.answer = std::make_shared<const std::string>(std::move(value));
    return found;
  }

  // Logged once per change of state, not once per request: a down Redis under load would
  // otherwise fill the log.
  void failed(std::string_view op, const std::string& why) {
    if (opt_.metrics) {
      opt_.metrics->cache_store_error("redis", op);
    }
    if (opt_.availability) {
      opt_.availability->report_down(state::Feature::cache, where_, why,
                                     "lookups are misses (or refused: on_unavailable.cache: "
                                     "deny), answers are not stored");
      return;
    }
    if (!failing_.exchange(true)) {
      spdlog::warn("cache: the redis store failed ({}: {}); lookups are misses until it is "
                   "back", op, why);
    }
  }

  void recovered() {
    if (opt_.availability) {
      opt_.availability->report_ok(state::Feature::cache, where_);
      return;
    }
    if (failing_.load(std::memory_order_relaxed) && failing_.exchange(false)) {
      spdlog::info("cache: the redis store is back");
    }
  }

  RedisStoreOptions opt_;
  state::RedisPool pool_;
  std::string where_;
  std::atomic<bool> failing_{false};
};

}  // namespace

std::shared_ptr<CacheStore> make_redis_store(RedisStoreOptions options) {
  return std::make_shared<RedisStore>(std::move(options));
}

}  // namespace llmgw::cache
