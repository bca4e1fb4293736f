// The redis session store against a real redis-server: the conformance suite (Redis expires
// keys itself, so the simulated-clock TTL case is skipped for it), plus what only Redis does —
// the key layout, expiry on Redis's own clock, the lock's lease and token, a Redis that is
// down, and several workers (executors, threads) sharing one store.
#include <boost/asio/this_coro.hpp>
#include <map>
#include <thread>

#include "llmgw/state/redis.hpp"
#include "store_conformance.hpp"
#include "unit/state/redis_server.hpp"

namespace llmgw::session::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using llmgw::testing::RedisServer;

// One server for the whole executable; tests keep apart by their session ids.
RedisServer* shared_server() {
  static std::unique_ptr<RedisServer> server = [] {
    auto s = std::make_unique<RedisServer>();
    return s->start() ? std::move(s) : nullptr;
  }();
  return server.get();
}

std::vector<StoreMaker> redis_makers() {
  if (RedisServer::binary().empty()) {
    return {};  // RedisStore.NeedsRedisServer says why
  }
  return {StoreMaker{"redis",
                     [](std::chrono::milliseconds ttl, WallClock clock) {
                       auto* server = shared_server();
                       if (!server) {
                         return std::shared_ptr<SessionStore>();
                       }
                       RedisStoreOptions o;
                       o.url = server->url();
                       o.ttl = ttl;
                       o.prefix = "test:conformance:";
                       return std::shared_ptr<SessionStore>(make_redis_store(o, std::move(clock)));
                     },
                     true}};
}

INSTANTIATE_TEST_SUITE_P(Redis, StoreConformance, ::testing::ValuesIn(redis_makers()),
                         [](const auto& i) { return i.param.name; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StoreConformance);

class RedisStore : public ::testing::Test {
protected:
  void SetUp() override {
    if (RedisServer::binary().empty()) {
      GTEST_SKIP() << "no redis-server on PATH";
    }
    ASSERT_TRUE(shared_server());
  }

  std::unique_ptr<SessionStore> make(RedisStoreOptions o = {}) {
    o.url = shared_server()->url();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    o.prefix = "test:" + std::string(info->name()) + ":";
    return make_redis_store(std::move(o));
  }
  std::shared_ptr<state::RedisClient> raw() {
    state::RedisOptions o;
    o.url = shared_server()->url();
    return std::make_shared<state::RedisClient>(io_.get_executor(), o);
  }
  state::RedisReply raw_call(state::RedisClient& c, std::vector<std::string> args) {
    auto r = run(io_, c.command(std::move(args)));
    EXPECT_TRUE(r.ok());
    return r.ok() ? std::move(*r) : state::RedisReply();
  }
  static Append turn(std::string user, std::string assistant) {
    Append a;
    a.messages = {std::move(user), std::move(assistant)};
    a.meta.owner = "team-a";
    a.meta.last_provider = "p1";
    a.meta.last_model = "m1";
    a.meta.tokens = 7;
    return a;
  }

  asio::io_context io_;
};

TEST(RedisStoreSetup, NeedsRedisServer) {
  if (RedisServer::binary().empty()) {
    GTEST_SKIP() << "no redis-server on PATH: the redis store's tests are skipped";
  }
  EXPECT_TRUE(shared_server()) << "redis-server is on PATH but did not start";
}

TEST_F(RedisStore, KeysAreAHashAndAListThatExpireTogether) {
  RedisStoreOptions o;
  o.ttl = 10min;
  auto store = make(o);
  auto a = turn(R"({"n":1})", R"({"n":2})");
  a.summary = "so far";
  ASSERT_TRUE(run(io_, store->append("s1", std::move(a))).ok());
  auto c = raw();
  const std::string prefix = "test:KeysAreAHashAndAListThatExpireTogether:s1";
  auto meta = raw_call(*c, {"HGETALL", prefix + ":meta"});
  std::map<std::string, std::string> fields;
  for (std::size_t i = 0; i + 1 < meta.elements.size(); i += 2) {
    fields[meta.elements[i].str] = meta.elements[i + 1].str;
  }
  EXPECT_EQ(fields["owner"], "team-a");
  EXPECT_EQ(fields["last_provider"], "p1");
  EXPECT_EQ(fields["last_model"], "m1");
  EXPECT_EQ(fields["tokens"], "7");
  EXPECT_EQ(fields["summary"], "so far");
  EXPECT_FALSE(fields["created_ms"].empty());
  EXPECT_FALSE(fields["last_used_ms"].empty());
  auto msgs = raw_call(*c, {"LRANGE", prefix + ":msgs", "0", "-1"});
  ASSERT_EQ(msgs.elements.size(), 2u);
  EXPECT_EQ(msgs.elements[1].str, R"({"n":2})");
  for (const char* suffix : {":meta", ":msgs"}) {
    auto ttl = raw_call(*c, {"PTTL", prefix + suffix});
    EXPECT_GT(ttl.integer, 9 * 60 * 1000) << suffix;
    EXPECT_LE(ttl.integer, 10 * 60 * 1000) << suffix;
  }
  EXPECT_EQ(store->active(), 1u);
  ASSERT_TRUE(run(io_, store->append("s1", turn("{}", "{}"))).ok());
  EXPECT_EQ(store->active(), 1u);  // not new
  EXPECT_TRUE(*run(io_, store->remove("s1")));
  EXPECT_EQ(store->active(), 0u);
  EXPECT_EQ(raw_call(*c, {"EXISTS", prefix + ":meta", prefix + ":msgs"}).integer, 0);
}

TEST_F(RedisStore, RedisExpiresTheSessionAfterItsTtl) {
  RedisStoreOptions o;
  o.ttl = 300ms;
  auto store = make(o);
  ASSERT_TRUE(run(io_, store->append("short", turn("{}", "{}"))).ok());
  auto first = run(io_, store->load("short"));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_value()) << "gone before its 300 ms";
  bool gone = false;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       !gone && std::chrono::steady_clock::now() < deadline;) {
    io_.restart();
    io_.run_for(50ms);
    auto r = run(io_, store->load("short"));
    ASSERT_TRUE(r.ok());
    gone = !r->has_value();
  }
  EXPECT_TRUE(gone);
}

TEST_F(RedisStore, AnExpiredLockFreesItselfAndAStaleHolderCannotReleaseANewOne) {
  // The holder "dies": its worker's event loop never runs again, so its lease is neither
  // renewed nor released. (Declared before the store: the store's client for it is closed on
  // it.)
  boost::asio::io_context dead;
  RedisStoreOptions o;
  o.lock_lease = 200ms;
  auto store = make(o);
  auto crashed = run(dead, store->acquire("s", 0ms));
  ASSERT_TRUE(crashed.ok() && *crashed);
  const auto t0 = std::chrono::steady_clock::now();
  auto next = run(io_, store->acquire("s", 3s));
  ASSERT_TRUE(next.ok() && *next) << "the lease should have ended the lock";
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
  crashed->reset();  // its release must not free the lock `next` holds now (other token)
  dead.restart();
  dead.run_for(100ms);
  auto third = run(io_, store->acquire("s", 0ms));
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(*third);
}

TEST_F(RedisStore, ALiveHolderKeepsItsLockPastTheLease) {
  RedisStoreOptions o;
  o.lock_lease = 300ms;  // renewed every 100 ms while held
  auto store = make(o);
  auto held = run(io_, store->acquire("long", 0ms));
  ASSERT_TRUE(held.ok() && *held);
  // A request waiting three leases long on the same event loop never gets it.
  auto other = run(io_, store->acquire("long", 900ms));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(*other) << "a renewed lock must not lapse under a live request";
  held->reset();
  auto after = run(io_, store->acquire("long", 1s));
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(*after);
}

TEST_F(RedisStore, ADownRedisIsAStoreErrorWithoutThePassword) {
  RedisStoreOptions o;
  auto port = RedisServer::free_port();
  o.url = "redis://user:hunter2-secret@127.0.0.1:" + std::to_string(port) + "/0";
  auto store = make_redis_store(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run(io_, store->load("x"));
  ASSERT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().message.find("hunter2"), std::string::npos);
  auto a = run(io_, store->append("x", turn("{}", "{}")));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().message.find("hunter2"), std::string::npos);
  auto l = run(io_, store->acquire("x", 100ms));
  EXPECT_FALSE(l.ok());
}

TEST_F(RedisStore, RedissIsRefusedPerCall) {
  RedisStoreOptions o;
  o.url = "rediss://127.0.0.1:6380/0";
  auto store = make_redis_store(o);
  EXPECT_EQ(store->kind(), "redis");
  auto r = run(io_, store->load("x"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not supported"), std::string::npos) << r.error().message;
}

// Workers on their own threads and executors append to one session under its lease: every
// turn lands once, none is lost to a lost update.
TEST_F(RedisStore, WorkersOnSeveralThreadsShareOneStore) {
  constexpr int kThreads = 4;
  constexpr int kTurns = 15;
  std::vector<std::unique_ptr<asio::io_context>> ios;  // outlive the store, as Asio requires
  for (int t = 0; t < kThreads; ++t) {
    ios.push_back(std::make_unique<asio::io_context>());
  }
  auto store = make();
  std::atomic<int> failures{0};
  auto worker = [&](int t) {
    auto& io = *ios[static_cast<std::size_t>(t)];
    asio::co_spawn(
        io,
        [&, t]() -> asio::awaitable<void> {
          for (int i = 0; i < kTurns; ++i) {
            auto lease = co_await store->acquire("shared", 10s);
            if (!lease.ok() || !*lease) {
              ++failures;
              continue;
            }
            auto before = co_await store->load("shared");
            const auto had = before.ok() && *before ? (*before)->messages.size() : 0;
            Append a;
            a.messages.push_back(std::to_string(t) + ":" + std::to_string(i));
            a.meta.tokens = had + 1;  // what this worker saw: the lease keeps it exact
            auto done = co_await store->append("shared", std::move(a));
            if (!done.ok()) {
              ++failures;
            }
          }
          io.stop();
        },
        asio::detached);
    io.run();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back(worker, t);
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(failures.load(), 0);
  auto got = run(io_, store->load("shared"));
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ((*got)->messages.size(), static_cast<std::size_t>(kThreads * kTurns));
  EXPECT_EQ((*got)->meta.tokens, static_cast<std::uint64_t>(kThreads * kTurns));
  EXPECT_TRUE(*run(io_, store->remove("shared")));
}

}  // namespace
}  // namespace llmgw::session::testing
