// The Redis client against a real redis-server (tests/unit/state/redis_server.hpp): reply
// types, pipelining order under many concurrent callers, transactions, a server that dies and
// comes back, a server that never answers, cancellation, AUTH/SELECT, unix sockets, and the
// per-executor pool. URL parsing and redaction need no server.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

#include "llmgw/state/redis.hpp"
#include "unit/state/redis_server.hpp"

namespace llmgw::state {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using Args = std::vector<std::string>;
using SteadyClock = std::chrono::steady_clock;

Args cmd(std::initializer_list<std::string> list) { return Args(list); }

// Runs `io` until `done()` holds; false when `limit` passed first.
template <class Done>
bool run_until(asio::io_context& io, Done done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = SteadyClock::now() + limit;
  while (!done()) {
    if (SteadyClock::now() >= deadline) {
      return false;
    }
    io.restart();
    io.run_for(5ms);
  }
  return true;
}

template <class T>
T run(asio::io_context& io, asio::awaitable<T> a) {
  std::optional<T> out;
  asio::co_spawn(
      io, [&out, a = std::move(a)]() mutable -> asio::awaitable<void> {
        out.emplace(co_await std::move(a));
      },
      asio::detached);
  if (!run_until(io, [&] { return out.has_value(); })) {
    throw std::runtime_error("no answer within 10 s");
  }
  return std::move(*out);
}

double ms_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

TEST(RedisUrl, ParsesTheForms) {
  auto a = parse_redis_url("redis://127.0.0.1:6380/3");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 3);
  EXPECT_TRUE(a->password.empty());
  EXPECT_EQ(a->describe(), "127.0.0.1:6380");

  auto b = parse_redis_url("redis://cache.internal");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->db, 0);

  auto c = parse_redis_url("redis://alice:p%40ss:w/rd@[::1]:7000/2");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->user, "alice");
  EXPECT_EQ(c->password, "p@ss:w/rd");
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->describe(), "[::1]:7000");

  auto d = parse_redis_url("redis://justapassword@h:1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->user, "");
  EXPECT_EQ(d->password, "justapassword");

  auto e = parse_redis_url("unix:///run/redis/redis.sock?db=4");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->is_unix());
  EXPECT_EQ(e->socket_path, "/run/redis/redis.sock");
  EXPECT_EQ(e->db, 4);
  EXPECT_EQ(e->describe(), "unix:/run/redis/redis.sock");
}

TEST(RedisUrl, RefusesWhatItCannotServe) {
  auto tls = parse_redis_url("rediss://h:6380/0");
  ASSERT_FALSE(tls.ok());
  EXPECT_NE(tls.error().message.find("not supported"), std::string::npos);
  EXPECT_FALSE(parse_redis_url("http://h:1").ok());
  EXPECT_FALSE(parse_redis_url("redis://h:0").ok());
  EXPECT_FALSE(parse_redis_url("redis://h:99999").ok());
  EXPECT_FALSE(parse_redis_url("redis://h:1/x").ok());
  EXPECT_FALSE(parse_redis_url("redis://:pw@:1").ok());
  EXPECT_FALSE(parse_redis_url("unix://relative.sock").ok());
  EXPECT_FALSE(parse_redis_url("redis://u:%zz@h").ok());
}

TEST(RedisUrl, RedactsThePassword) {
  EXPECT_EQ(redact_redis_url("redis://alice:secret@h:1/0"), "redis://alice:<redacted>@h:1/0");
  EXPECT_EQ(redact_redis_url("redis://secret@h:1/0"), "redis://<redacted>@h:1/0");
  EXPECT_EQ(redact_redis_url("redis://h:1/0"), "redis://h:1/0");
  EXPECT_EQ(redact_redis_url("redis://u:se@cret@h"), "redis://u:<redacted>@h");
}

TEST(RedisClientNoServer, RedissFailsEachCommandSayingWhy) {
  asio::io_context io;
  RedisOptions o;
  o.url = "rediss://127.0.0.1:1/0";
  auto c = std::make_shared<RedisClient>(io.get_executor(), o);
  auto r = run(io, c->command(cmd({"PING"})));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not supported"), std::string::npos);
}

TEST(RedisClientNoServer, NobodyListeningFailsFastThenBacksOff) {
  asio::io_context io;
  RedisOptions o;
  o.url = "redis://127.0.0.1:" + std::to_string(llmgw::testing::RedisServer::free_port());
  o.retry_min = 500ms;
  auto c = std::make_shared<RedisClient>(io.get_executor(), o);
  auto t0 = SteadyClock::now();
  auto r = run(io, c->command(cmd({"PING"})));
  ASSERT_FALSE(r.ok());
  EXPECT_LT(ms_since(t0), 500);
  EXPECT_NE(r.error().message.find("127.0.0.1"), std::string::npos) << r.error().message;
  EXPECT_EQ(c->stats().failures, 1u);
  // In back-off: refused without another connect.
  auto again = run(io, c->command(cmd({"PING"})));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("not retried"), std::string::npos)
      << again.error().message;
  EXPECT_EQ(c->stats().failures, 1u);
}

class RedisClientTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (llmgw::testing::RedisServer::binary().empty()) {
      GTEST_SKIP() << "no redis-server on PATH";
    }
    ASSERT_TRUE(server_.start());
  }

  std::shared_ptr<RedisClient> client(RedisOptions o = {}) {
    o.url = server_.url();
    return std::make_shared<RedisClient>(io_.get_executor(), std::move(o));
  }
  RedisResult<RedisReply> call(RedisClient& c, Args a) {
    return run(io_, c.command(std::move(a)));
  }

  asio::io_context io_;
  llmgw::testing::RedisServer server_;
};

TEST_F(RedisClientTest, RepliesOfEveryType) {
  auto c = client();
  auto set = call(*c, cmd({"SET", "t:s", std::string("a\r\nb\0c", 6)}));
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_TRUE(set->is_status("OK"));
  auto get = call(*c, cmd({"GET", "t:s"}));
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->type, RedisReply::Type::string);
  EXPECT_EQ(get->str, std::string("a\r\nb\0c", 6));
  EXPECT_TRUE(call(*c, cmd({"GET", "t:none"}))->is_nil());
  auto n = call(*c, cmd({"INCRBY", "t:n", "41"}));
  EXPECT_EQ(n->type, RedisReply::Type::integer);
  EXPECT_EQ(n->integer, 41);
  ASSERT_TRUE(call(*c, cmd({"RPUSH", "t:l", "x", "", "z"})).ok());
  auto list = call(*c, cmd({"LRANGE", "t:l", "0", "-1"}));
  ASSERT_EQ(list->type, RedisReply::Type::array);
  ASSERT_EQ(list->elements.size(), 3u);
  EXPECT_EQ(list->elements[1].str, "");
  EXPECT_EQ(list->elements[2].str, "z");
}

TEST_F(RedisClientTest, AnErrorReplyIsAReplyAndTheConnectionGoesOn) {
  auto c = client();
  ASSERT_TRUE(call(*c, cmd({"SET", "e:s", "text"})).ok());
  auto wrong = call(*c, cmd({"INCR", "e:s"}));
  ASSERT_TRUE(wrong.ok());
  EXPECT_TRUE(wrong->is_error());
  EXPECT_EQ(wrong->str.rfind("ERR", 0), 0u) << wrong->str;
  auto unknown = call(*c, cmd({"NOSUCHCOMMAND"}));
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->is_error());
  EXPECT_TRUE(call(*c, cmd({"PING"}))->is_status("PONG"));
  EXPECT_EQ(c->stats().connects, 1u);
}

TEST_F(RedisClientTest, ManyConcurrentCallersGetTheirOwnRepliesInOrder) {
  auto c = client();
  constexpr int kCallers = 2000;
  std::vector<long long> counted(kCallers, -1);
  std::vector<std::string> echoed(kCallers);
  int finished = 0;
  for (int i = 0; i < kCallers; ++i) {
    auto incr = cmd({"INCR", "p:counter"});
    auto value = "v" + std::to_string(i);
    auto both = std::vector<Args>{cmd({"SET", "p:k" + std::to_string(i), value}),
                                  cmd({"GET", "p:k" + std::to_string(i)})};
    asio::co_spawn(
        io_,
        [&, i, incr = std::move(incr), both = std::move(both)]() mutable
        -> asio::awaitable<void> {
          if (i % 2 == 0) {
            auto r = co_await c->command(std::move(incr));
            counted[i] = r.ok() ? r->integer : -2;
          } else {
            auto r = co_await c->pipeline(std::move(both));
            echoed[i] = r.ok() && r->size() == 2 ? (*r)[1].str : "failed";
          }
          ++finished;
        },
        asio::detached);
  }
  ASSERT_TRUE(run_until(io_, [&] { return finished == kCallers; }));
  long long expected = 0;
  for (int i = 0; i < kCallers; ++i) {
    if (i % 2 == 0) {
      EXPECT_EQ(counted[i], ++expected) << i;  // started in this order, answered in this order
    } else {
      EXPECT_EQ(echoed[i], "v" + std::to_string(i));
    }
  }
  const auto s = c->stats();
  EXPECT_EQ(s.connects, 1u);
  EXPECT_EQ(s.commands, static_cast<std::uint64_t>(kCallers / 2 * 3));
  EXPECT_LT(s.writes, s.commands / 10) << "queued commands share writes";
}

TEST_F(RedisClientTest, MultiExecIsOnePipeline) {
  auto c = client();
  std::vector<Args> tx{cmd({"MULTI"}), cmd({"INCR", "m:c"}), cmd({"INCR", "m:c"}),
                       cmd({"EXEC"})};
  auto r = run(io_, c->pipeline(std::move(tx)));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 4u);
  EXPECT_TRUE((*r)[0].is_status("OK"));
  EXPECT_TRUE((*r)[1].is_status("QUEUED"));
  const auto& exec = (*r)[3];
  ASSERT_EQ(exec.type, RedisReply::Type::array);
  ASSERT_EQ(exec.elements.size(), 2u);
  EXPECT_EQ(exec.elements[1].integer, 2);
}

TEST_F(RedisClientTest, AKilledServerFailsPendingAndNextCommandsFastThenReconnects) {
  RedisOptions o;
  o.command_timeout = 10s;  // so only the broken connection can end the blocked command
  o.retry_min = 50ms;
  o.retry_max = 200ms;
  auto c = client(o);
  ASSERT_TRUE(call(*c, cmd({"PING"})).ok());

  std::optional<RedisResult<RedisReply>> blocked;
  asio::co_spawn(
      io_,
      [&, a = cmd({"BLPOP", "k:nothing", "0"})]() mutable -> asio::awaitable<void> {
        auto r = co_await c->command(std::move(a));
        blocked.emplace(std::move(r));
      },
      asio::detached);
  io_.restart();
  io_.run_for(100ms);
  ASSERT_FALSE(blocked) << "BLPOP waits for a list nobody fills";

  server_.stop();
  auto t0 = SteadyClock::now();
  ASSERT_TRUE(run_until(io_, [&] { return blocked.has_value(); }, 5s));
  EXPECT_LT(ms_since(t0), 2000);
  ASSERT_FALSE(blocked->ok());
  EXPECT_FALSE(blocked->error().message.empty());

  t0 = SteadyClock::now();
  auto next = call(*c, cmd({"PING"}));  // reconnects, refused
  EXPECT_FALSE(next.ok());
  auto fast = call(*c, cmd({"PING"}));  // in back-off
  EXPECT_FALSE(fast.ok());
  EXPECT_LT(ms_since(t0), 1000);

  ASSERT_TRUE(server_.start());  // same port
  bool back = false;
  for (auto deadline = SteadyClock::now() + 10s; !back && SteadyClock::now() < deadline;) {
    auto r = call(*c, cmd({"PING"}));
    back = r.ok() && r->is_status("PONG");
    if (!back) {
      io_.restart();
      io_.run_for(20ms);
    }
  }
  EXPECT_TRUE(back);
  EXPECT_EQ(c->stats().connects, 2u);
}

TEST_F(RedisClientTest, ASilentServerTimesTheCommandOut) {
  asio::ip::tcp::acceptor acceptor(io_, {asio::ip::address_v4::loopback(), 0});
  std::vector<asio::ip::tcp::socket> accepted;  // held open, never read, never answered
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          auto [ec, s] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
          if (ec) {
            co_return;
          }
          accepted.push_back(std::move(s));
        }
      },
      asio::detached);
  RedisOptions o;
  o.url = "redis://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  o.command_timeout = 200ms;
  auto c = std::make_shared<RedisClient>(io_.get_executor(), o);
  auto t0 = SteadyClock::now();
  auto r = call(*c, cmd({"PING"}));
  const auto took = ms_since(t0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no reply within 200 ms"), std::string::npos)
      << r.error().message;
  EXPECT_GE(took, 150);
  EXPECT_LT(took, 1500);
  EXPECT_EQ(accepted.size(), 1u);
  t0 = SteadyClock::now();
  auto again = call(*c, cmd({"PING"}));  // the next one does not wait the full time again
  EXPECT_FALSE(again.ok());
  EXPECT_LT(ms_since(t0), 100);
  acceptor.close();
}

TEST_F(RedisClientTest, ACancelledCommandDoesNotShiftTheReplies) {
  auto c = client();
  ASSERT_TRUE(call(*c, cmd({"PING"})).ok());
  std::optional<bool> timer_won;
  asio::co_spawn(
      io_,
      [&, a = cmd({"BLPOP", "c:nothing", "0.3"})]() mutable -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, 50ms);
        auto blpop = c->command(std::move(a));
        auto wait = t.async_wait(asio::use_awaitable);
        auto winner = co_await (std::move(blpop) || std::move(wait));
        timer_won = winner.index() == 1;
      },
      asio::detached);
  ASSERT_TRUE(run_until(io_, [&] { return timer_won.has_value(); }));
  EXPECT_TRUE(*timer_won);
  // BLPOP's nil still comes first; it must not be taken for this command's reply.
  auto r = call(*c, cmd({"ECHO", "mine"}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->str, "mine");
}

TEST(RedisClientAuth, AuthAndSelectOnConnectAndNoPasswordInErrors) {
  if (llmgw::testing::RedisServer::binary().empty()) {
    GTEST_SKIP() << "no redis-server on PATH";
  }
  llmgw::testing::RedisServer server({"--requirepass", "p@ss:w/rd"});
  ASSERT_TRUE(server.start());
  asio::io_context io;
  const auto base = "127.0.0.1:" + std::to_string(server.port());
  RedisOptions o;
  o.url = "redis://:p%40ss%3Aw%2Frd@" + base + "/2";
  auto db2 = std::make_shared<RedisClient>(io.get_executor(), o);
  auto set = run(io, db2->command(cmd({"SET", "a:k", "in-2"})));
  ASSERT_TRUE(set.ok()) << set.error().message;
  ASSERT_TRUE(set->is_status("OK")) << set->str;

  o.url = "redis://default:p%40ss%3Aw%2Frd@" + base + "/0";  // user and password (ACL)
  auto db0 = std::make_shared<RedisClient>(io.get_executor(), o);
  EXPECT_TRUE(run(io, db0->command(cmd({"GET", "a:k"})))->is_nil());
  auto moved = run(io, db0->command(cmd({"SELECT", "2"})));
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(run(io, db0->command(cmd({"GET", "a:k"})))->str, "in-2");

  o.url = "redis://:wrong-hunter2@" + base + "/0";
  auto bad = std::make_shared<RedisClient>(io.get_executor(), o);
  auto refused = run(io, bad->command(cmd({"PING"})));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("refused"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(refused.error().message.find("hunter2"), std::string::npos);
}

TEST(RedisClientUnix, ConnectsOverAUnixSocket) {
  if (llmgw::testing::RedisServer::binary().empty()) {
    GTEST_SKIP() << "no redis-server on PATH";
  }
  const auto path = "/tmp/llmgw-redis-test-" + std::to_string(::getpid()) + ".sock";
  llmgw::testing::RedisServer server({"--unixsocket", path, "--unixsocketperm", "700"});
  ASSERT_TRUE(server.start());
  asio::io_context io;
  RedisOptions o;
  o.url = "unix://" + path + "?db=1";
  auto c = std::make_shared<RedisClient>(io.get_executor(), o);
  auto set = run(io, c->command(cmd({"SET", "u:k", "over-unix"})));
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(c->where(), "redis unix:" + path);
  o.url = server.url(1);
  auto tcp = std::make_shared<RedisClient>(io.get_executor(), o);
  EXPECT_EQ(run(io, tcp->command(cmd({"GET", "u:k"})))->str, "over-unix");
}

TEST_F(RedisClientTest, ThePoolGivesEachExecutorItsOwnClient) {
  asio::io_context a;
  asio::io_context b;
  RedisOptions o;
  o.url = server_.url();
  RedisPool pool(o);
  auto ca = pool.client(a.get_executor());
  EXPECT_EQ(ca, pool.client(a.get_executor()));
  EXPECT_NE(ca, pool.client(b.get_executor()));
  ca.reset();

  std::atomic<int> errors{0};
  auto work = [&](asio::io_context& io) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto ex = co_await asio::this_coro::executor;
          auto c = pool.client(ex);
          for (int i = 0; i < 300; ++i) {
            auto incr = Args(2);
            incr[0] = "INCR";
            incr[1] = "pool:n";
            auto r = co_await c->command(std::move(incr));
            if (!r.ok() || r->is_error()) {
              ++errors;
            }
          }
          io.stop();  // the idle connection would keep run() going
        },
        asio::detached);
    io.run();
  };
  std::thread ta([&] { work(a); });
  std::thread tb([&] { work(b); });
  ta.join();
  tb.join();
  EXPECT_EQ(errors.load(), 0);
  auto c = client();
  EXPECT_EQ(call(*c, cmd({"GET", "pool:n"}))->str, "600");
}

}  // namespace
}  // namespace llmgw::state
