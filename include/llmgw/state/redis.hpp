#pragma once
// The shared Redis client every Redis-backed component uses (sessions now; rate limits, budgets
// and the cache's shared state later). Asio does the socket I/O; hiredis is used only for its
// RESP reply reader (no hiredis context, no blocking call). Commands are formatted here.
//
// Threading: a `RedisClient` owns one connection and lives on one executor — a worker's
// single-threaded io_context — and is called only from coroutines running there, so it needs no
// lock. `RedisPool` is what a component shared by every worker holds: it hands each calling
// executor (keyed by its execution context) a client of its own, created on first use. So each
// worker has one pipelined connection per pool, nothing is shared between threads but the
// pool's small map, and a reply always resumes its caller on the caller's own thread. An
// executor must not run on several threads at once (a strand over a shared pool of threads
// would share one client between them).
//
// Lifetime: as for any Asio I/O object, a client (and so a pool) must not outlive the
// io_context it was created for. Dropping the last reference to a client closes its connection
// on its own executor.
//
// Failure model: every command has a deadline (`command_timeout`). Redis answers a connection's
// commands in order, so when the oldest is late everything behind it is stuck as well: a
// deadline that passes closes the connection and fails every command waiting on it. A broken
// connection fails every pending command at once (nothing hangs), and the next command opens a
// new one. A connect that fails (or times out, `connect_timeout`) puts the client in back-off:
// until `retry_min`, doubling per failure up to `retry_max`, commands fail at once without
// touching the network, so a down Redis is not hammered by every request.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmgw/common/result.hpp"

namespace llmgw::state {

/// One RESP reply. A Redis error reply (`-ERR ...`) is a reply like any other: the command
/// reached Redis, which refused it. Only a failure to get a reply at all is a `RedisError`.
struct RedisReply {
  enum class Type { nil, status, error, integer, string, array };
  Type type = Type::nil;
  std::string str;  // status, error and bulk string text
  long long integer = 0;
  std::vector<RedisReply> elements;  // array

  bool is_nil() const { return type == Type::nil; }
  bool is_error() const { return type == Type::error; }
  bool is_status(std::string_view s) const { return type == Type::status && str == s; }
};

/// No reply: unreachable, connection lost, timed out, cancelled, bad URL. The message names the
/// server by host:port (or socket path), never by its URL: no credentials.
struct RedisError {
  std::string message;
};

template <class T>
using RedisResult = common::Result<T, RedisError>;

struct RedisOptions {
  /// redis://[user:password@]host[:port][/db], unix://[user:password@]/path[?db=N].
  /// rediss:// (TLS) is refused: every command fails saying so.
  std::string url = "redis://127.0.0.1:6379/0";
  std::chrono::milliseconds connect_timeout{1000};  // DNS, TCP connect
  std::chrono::milliseconds command_timeout{1000};  // from the call to its reply
  std::chrono::milliseconds retry_min{100};         // fail-fast interval after a failed connect
  std::chrono::milliseconds retry_max{2000};
};

/// Where a URL points and how to log in. `describe()` is what messages may show.
struct RedisAddress {
  std::string host;  // empty for a unix socket
  std::uint16_t port = 6379;
  std::string socket_path;  // unix:// only
  std::string user;
  std::string password;
  int db = 0;
  bool is_unix() const { return !socket_path.empty(); }
  std::string describe() const;  // "127.0.0.1:6379", "[::1]:6379" or "unix:/run/redis.sock"
};

RedisResult<RedisAddress> parse_redis_url(std::string_view url);
/// The URL with its password (or a bare userinfo, which is the password) replaced.
std::string redact_redis_url(std::string_view url);

/// Counters for tests and metrics; readable from any thread.
struct RedisStats {
  std::uint64_t connects = 0;  // connections established
  std::uint64_t failures = 0;  // connections failed or lost
  std::uint64_t commands = 0;  // commands queued
  std::uint64_t writes = 0;    // socket writes (pipelined commands share one)
};

class RedisClient {
public:
  RedisClient(boost::asio::any_io_executor executor, RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  /// One command, e.g. {"SET", "k", "v"}. Written at once (with whatever else is queued); the
  /// reply is matched in order. Must be awaited on this client's executor.
  boost::asio::awaitable<RedisResult<RedisReply>> command(std::vector<std::string> args);
  /// Several commands in one write, their replies in order (all or an error). MULTI ... EXEC
  /// inside it is one transaction: the last reply is EXEC's array.
  boost::asio::awaitable<RedisResult<std::vector<RedisReply>>> pipeline(
      std::vector<std::vector<std::string>> commands);

  /// Fails what is pending and refuses what follows. Call on the executor.
  void close();

  const boost::asio::any_io_executor& get_executor() const;
  /// "redis 127.0.0.1:6379": for messages.
  const std::string& where() const;
  RedisStats stats() const;

private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// One client per calling executor (see the top of this file). Thread-safe.
class RedisPool {
public:
  explicit RedisPool(RedisOptions options);
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  /// The client for `executor`'s execution context, created on first use.
  std::shared_ptr<RedisClient> client(const boost::asio::any_io_executor& executor);
  const RedisOptions& options() const { return options_; }

private:
  RedisOptions options_;
  std::mutex mu_;
  std::vector<std::pair<const void*, std::shared_ptr<RedisClient>>> clients_;  // few: workers
};

}  // namespace llmgw::state
