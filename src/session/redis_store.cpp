// sessions.store: redis. A session is two keys that expire together — `{prefix}{id}:meta` (a
// hash) and `{prefix}{id}:msgs` (a list of message texts) — changed in one MULTI ... EXEC, so
// every gateway instance on the Redis sees whole turns only. The lease is a Redis lock
// (`{prefix}{id}:lock`, SET NX PX with a random token) so instances serialise too.
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <random>

#include "llmgw/session/store.hpp"
#include "llmgw/state/redis.hpp"

namespace llmgw::session {
namespace {

namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using state::RedisReply;
using Args = std::vector<std::string>;
using Commands = std::vector<Args>;

constexpr std::string_view kRelease =
    "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 "
    "end";

StoreError store_error(const state::RedisError& e) {
  return StoreError{"session store: " + e.message};
}

StoreError reply_error(const RedisReply& r) {
  return StoreError{"session store: redis refused: " + r.str};
}

// 128 random bits: another holder (another instance) can never release our lock.
std::string random_token() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 2; ++i) {
    auto v = engine();
    for (int j = 0; j < 16; ++j) {
      out += kHex[(v >> (j * 4)) & 0xf];
    }
  }
  return out;
}

template <class Int>
Int to_int(const std::string& s) {
  Int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

Args args(std::initializer_list<std::string> list) { return Args(list); }

// A few tries over ~4 s: a release that meets the client's reconnect back-off (or a Redis
// that stalled and runs a late SET NX) would otherwise leave the session locked for the whole
// lease time. What still fails frees itself when the lease ends.
asio::awaitable<void> send_release(std::shared_ptr<state::RedisClient> client, Args release,
                                   PendingWrite pending) {
  asio::steady_timer wait(client->get_executor());
  auto delay = std::chrono::milliseconds(250);
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto copy = release;
    auto r = co_await client->command(std::move(copy));
    if (r.ok()) {
      break;
    }
    wait.expires_after(delay);
    auto waited = co_await wait.async_wait(use_tuple);
    (void)waited;
    delay *= 2;
  }
  (void)pending;
}

// Detached on the client's executor: a destructor cannot wait, and may run on another thread.
void release_lock(const std::shared_ptr<state::RedisClient>& client, const std::string& key,
                  const std::string& token) {
  try {
    auto release = args({"EVAL", std::string(kRelease), "1", key, token});
    PendingWrite pending;
    asio::co_spawn(client->get_executor(),
                   send_release(client, std::move(release), std::move(pending)),
                   asio::detached);
  } catch (...) {  // out of memory: the lease time ends it
  }
}

// Extends the lock's lease while its request runs (a stream may take longer than the lease):
// only a holder that died lets it lapse.
constexpr std::string_view kRenew =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

struct Renewal {
  explicit Renewal(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool stopped = false;  // only touched on the client's executor
};

asio::awaitable<void> renew(std::shared_ptr<state::RedisClient> client,
                            std::shared_ptr<Renewal> renewal, Args command,
                            std::chrono::milliseconds every) {
  while (!renewal->stopped) {
    renewal->timer.expires_after(every);
    auto waited = co_await renewal->timer.async_wait(use_tuple);
    (void)waited;
    if (renewal->stopped) {
      break;
    }
    auto copy = command;
    auto reply = co_await client->command(std::move(copy));
    (void)reply;  // a missed renewal is tried again; the lease is three renewals long
  }
}

class RedisLease final : public Lease {
public:
  RedisLease(std::shared_ptr<state::RedisClient> client, std::string key, std::string token,
             std::chrono::milliseconds lease)
      : client_(std::move(client)), key_(std::move(key)), token_(std::move(token)),
        renewal_(std::make_shared<Renewal>(client_->get_executor())) {
    auto command = args({"EVAL", std::string(kRenew), "1", key_, token_,
                         std::to_string(lease.count())});
    asio::co_spawn(client_->get_executor(),
                   renew(client_, renewal_, std::move(command), lease / 3), asio::detached);
  }
  ~RedisLease() override {
    try {
      asio::post(client_->get_executor(), [r = renewal_] {
        r->stopped = true;
        r->timer.cancel();
      });
    } catch (...) {  // out of memory: the renewal ends with the io_context
    }
    release_lock(client_, key_, token_);
  }

private:
  std::shared_ptr<state::RedisClient> client_;
  std::string key_;
  std::string token_;
  std::shared_ptr<Renewal> renewal_;
};

state::RedisOptions client_options(const RedisStoreOptions& o) {
  state::RedisOptions r;
  r.url = o.url;
  r.connect_timeout = o.timeout;
  r.command_timeout = o.timeout;
  return r;
}

class RedisStore final : public SessionStore {
public:
  RedisStore(RedisStoreOptions options, WallClock clock)
      : opt_(std::move(options)), clock_(std::move(clock)), pool_(client_options(opt_)) {}

  std::string_view kind() const override { return "redis"; }

  asio::awaitable<StoreResult<std::optional<Session>>> load(std::string id) override {
    auto ex = co_await asio::this_coro::executor;
    auto client = pool_.client(ex);
    auto commands = load_commands(id);
    auto replies = co_await client->pipeline(std::move(commands));
    if (!replies) {
      co_return common::err(store_error(replies.error()));
    }
    auto session = parse_session(std::move(replies->back()));
    co_return std::move(session);
  }

  asio::awaitable<StoreResult<bool>> append(std::string id, Append change) override {
    auto ex = co_await asio::this_coro::executor;
    auto client = pool_.client(ex);
    auto commands = append_commands(id, change);
    auto replies = co_await client->pipeline(std::move(commands));
    if (!replies) {
      co_return common::err(store_error(replies.error()));
    }
    const auto& exec = replies->back();
    if (exec.type != RedisReply::Type::array) {
      co_return common::err(exec.is_error() ? reply_error(exec)
                                            : StoreError{"session store: redis aborted"});
    }
    for (const auto& r : exec.elements) {
      if (r.is_error()) {
        co_return common::err(reply_error(r));
      }
    }
    if (!exec.elements.empty() && exec.elements.front().integer == 1) {
      active_.fetch_add(1, std::memory_order_relaxed);  // HSETNX owner: the session is new
    }
    co_return true;
  }

  asio::awaitable<StoreResult<bool>> remove(std::string id) override {
    auto ex = co_await asio::this_coro::executor;
    auto client = pool_.client(ex);
    auto del = remove_command(id);
    auto reply = co_await client->command(std::move(del));
    if (!reply) {
      co_return common::err(store_error(reply.error()));
    }
    if (reply->is_error()) {
      co_return common::err(reply_error(*reply));
    }
    const bool removed = reply->integer > 0;
    if (removed) {
      auto n = active_.load(std::memory_order_relaxed);
      // Another instance's session is not in our count: never below zero.
      while (n > 0 && !active_.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
      }
    }
    co_return removed;
  }

  asio::awaitable<StoreResult<std::unique_ptr<Lease>>> acquire(
      std::string id, std::chrono::milliseconds wait) override {
    auto ex = co_await asio::this_coro::executor;
    auto client = pool_.client(ex);
    auto lock = key(id, ":lock");
    auto token = random_token();
    const auto set = lock_command(lock, token);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    asio::steady_timer pause(ex);
    std::minstd_rand jitter(static_cast<std::uint32_t>(std::hash<std::string>{}(token)));
    for (;;) {
      auto attempt = set;
      auto reply = co_await client->command(std::move(attempt));
      if (!reply) {
        // The SET may have reached Redis even though its reply did not reach us.
        release_lock(client, lock, token);
        co_return common::err(store_error(reply.error()));
      }
      if (reply->is_status("OK")) {
        std::unique_ptr<Lease> lease =
            std::make_unique<RedisLease>(client, lock, token, opt_.lock_lease);
        co_return std::move(lease);
      }
      if (reply->is_error()) {
        co_return common::err(reply_error(*reply));
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        co_return std::unique_ptr<Lease>();
      }
      // 10-20 ms with jitter: waiters on several instances do not retry in step.
      const auto step = std::chrono::milliseconds(10 + jitter() % 11);
      pause.expires_after(std::min<std::chrono::steady_clock::duration>(step, deadline - now));
      auto [ec] = co_await pause.async_wait(use_tuple);
      if (ec) {
        co_return std::unique_ptr<Lease>();  // cancelled: the caller is gone
      }
    }
  }

  std::uint64_t active() const override { return active_.load(std::memory_order_relaxed); }

private:
  std::string key(const std::string& id, std::string_view suffix) const {
    std::string k;
    k.reserve(opt_.prefix.size() + id.size() + suffix.size());
    k += opt_.prefix;
    k += id;
    k += suffix;
    return k;
  }

  Args remove_command(const std::string& id) const {
    return args({"DEL", key(id, ":meta"), key(id, ":msgs")});
  }

  Args lock_command(const std::string& lock, const std::string& token) const {
    return args({"SET", lock, token, "NX", "PX", std::to_string(opt_.lock_lease.count())});
  }

  // One transaction, so the hash and the list are read as of the same moment.
  Commands load_commands(const std::string& id) const {
    Commands c;
    c.push_back(args({"MULTI"}));
    c.push_back(args({"HGETALL", key(id, ":meta")}));
    c.push_back(args({"LRANGE", key(id, ":msgs"), "0", "-1"}));
    c.push_back(args({"EXEC"}));
    return c;
  }

  Commands append_commands(const std::string& id, Append& change) const {
    const auto now = clock_();
    const auto meta = key(id, ":meta");
    const auto msgs = key(id, ":msgs");
    const auto ttl = std::to_string(opt_.ttl.count());
    const auto created = change.meta.created_ms ? change.meta.created_ms : now;
    Commands c;
    c.push_back(args({"MULTI"}));
    // HSETNX first: its reply (1 = a new session) is the first element of EXEC's array.
    c.push_back(args({"HSETNX", meta, "owner", change.meta.owner}));
    c.push_back(args({"HSETNX", meta, "created_ms", std::to_string(created)}));
    auto set = args({"HSET", meta, "last_used_ms", std::to_string(now), "last_provider",
                     change.meta.last_provider, "last_model", change.meta.last_model, "tokens",
                     std::to_string(change.meta.tokens)});
    if (change.summary) {
      set.push_back("summary");
      set.push_back(std::move(*change.summary));
    }
    c.push_back(std::move(set));
    if (change.drop_first > 0) {
      c.push_back(args({"LTRIM", msgs, std::to_string(change.drop_first), "-1"}));
    }
    if (!change.messages.empty()) {
      Args push;
      push.reserve(change.messages.size() + 2);
      push.push_back("RPUSH");
      push.push_back(msgs);
      for (auto& m : change.messages) {
        push.push_back(std::move(m));
      }
      c.push_back(std::move(push));
    }
    c.push_back(args({"PEXPIRE", meta, ttl}));
    c.push_back(args({"PEXPIRE", msgs, ttl}));
    c.push_back(args({"EXEC"}));
    return c;
  }

  static StoreResult<std::optional<Session>> parse_session(RedisReply exec) {
    if (exec.type != RedisReply::Type::array || exec.elements.size() != 2) {
      return common::err(exec.is_error() ? reply_error(exec)
                                         : StoreError{"session store: redis aborted a read"});
    }
    auto& hash = exec.elements[0];
    auto& list = exec.elements[1];
    if (hash.is_error()) {
      return common::err(reply_error(hash));
    }
    if (list.is_error()) {
      return common::err(reply_error(list));
    }
    if (hash.elements.empty()) {
      return std::optional<Session>();  // absent or expired
    }
    Session s;
    for (std::size_t i = 0; i + 1 < hash.elements.size(); i += 2) {
      const auto& field = hash.elements[i].str;
      auto& value = hash.elements[i + 1].str;
      if (field == "owner") {
        s.meta.owner = std::move(value);
      } else if (field == "created_ms") {
        s.meta.created_ms = to_int<std::int64_t>(value);
      } else if (field == "last_used_ms") {
        s.meta.last_used_ms = to_int<std::int64_t>(value);
      } else if (field == "last_provider") {
        s.meta.last_provider = std::move(value);
      } else if (field == "last_model") {
        s.meta.last_model = std::move(value);
      } else if (field == "tokens") {
        s.meta.tokens = to_int<std::uint64_t>(value);
      } else if (field == "summary") {
        s.summary = std::move(value);
      }
    }
    s.messages.reserve(list.elements.size());
    for (auto& m : list.elements) {
      s.messages.push_back(std::move(m.str));
    }
    return std::optional<Session>(std::move(s));
  }

  RedisStoreOptions opt_;
  WallClock clock_;
  state::RedisPool pool_;
  std::atomic<std::uint64_t> active_{0};
};

}  // namespace

std::unique_ptr<SessionStore> make_redis_store(RedisStoreOptions options, WallClock clock) {
  return std::make_unique<RedisStore>(std::move(options), std::move(clock));
}

}  // namespace llmgw::session
