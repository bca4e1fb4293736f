#pragma once
// Where conversation sessions live (config: sessions.store). One interface, three stores:
// memory (LRU with TTL and a size cap, this process only), sqlite (a WAL file written on the
// store's own I/O thread, survives a restart), redis (shared by every gateway instance on it).
//
// A store keeps messages as the JSON text of canonical (OpenAI chat shape) messages, so it
// needs no JSON of its own and every provider's turns fit: tool calls and results, image parts
// by reference, provider extras such as thought signatures. The session protocol
// (src/session) decides what to store; a store only keeps it, atomically.
//
// Every call is awaited on the caller's executor (a worker) and never blocks it: the memory
// store answers at once under a short lock, the others do their I/O elsewhere and resume the
// caller on its own executor.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmgw/common/result.hpp"

namespace llmgw::session {

struct SessionMeta {
  std::string owner;  // the name of the key that created it; empty when auth is off
  std::int64_t created_ms = 0;    // Unix time
  std::int64_t last_used_ms = 0;  // Unix time
  std::string last_provider;
  std::string last_model;
  std::uint64_t tokens = 0;  // the stored history's tokens as last counted for a target
};

struct Session {
  SessionMeta meta;
  std::vector<std::string> messages;  // canonical messages, one JSON object text each
  std::string summary;  // what context.overflow: summarize made of the turns it dropped
};

/// One atomic change: an optional compaction of the stored history, then new messages.
struct Append {
  std::vector<std::string> messages;  // appended after what is stored
  SessionMeta meta;  // replaces the stored metadata (owner and created are kept once set)
  std::size_t drop_first = 0;          // messages dropped from the front before appending
  std::optional<std::string> summary;  // replaces the stored summary when set
};

struct StoreError {
  std::string message;  // for the log and the client's 503; never contains secrets
};

template <class T>
using StoreResult = common::Result<T, StoreError>;

/// The right to change one session until it is released (per-session serialisation).
/// Released by its destructor; a store that locks remotely also bounds it by a lease time.
class Lease {
public:
  virtual ~Lease() = default;
};

class SessionStore {
public:
  virtual ~SessionStore() = default;
  virtual std::string_view kind() const = 0;

  /// nullopt when there is no such session (or it expired).
  virtual boost::asio::awaitable<StoreResult<std::optional<Session>>> load(std::string id) = 0;
  /// Creates the session when it does not exist; refreshes its TTL.
  virtual boost::asio::awaitable<StoreResult<bool>> append(std::string id, Append change) = 0;
  /// false when there was no such session.
  virtual boost::asio::awaitable<StoreResult<bool>> remove(std::string id) = 0;
  /// Waits up to `wait` for the session's lease; a null lease when it stayed busy.
  virtual boost::asio::awaitable<StoreResult<std::unique_ptr<Lease>>> acquire(
      std::string id, std::chrono::milliseconds wait) = 0;

  /// Sessions this store holds that have not expired, as far as this process knows
  /// (llmgw_sessions_active). Cheap, callable from any thread.
  virtual std::uint64_t active() const = 0;
};

/// Store writes that outlive their request: the append after the answer went out, a Redis
/// lock's release. The drain at shutdown waits for them (else a stop right after an answer
/// loses its turn, or leaves its session locked for the lease time).
class PendingWrite {
public:
  PendingWrite();
  ~PendingWrite();
  PendingWrite(PendingWrite&& other) noexcept : armed_(other.armed_) { other.armed_ = false; }
  PendingWrite& operator=(PendingWrite&&) = delete;
  PendingWrite(const PendingWrite&) = delete;
  PendingWrite& operator=(const PendingWrite&) = delete;
  /// How many are running, process-wide.
  static int count();

private:
  bool armed_ = true;
};

struct MemoryStoreOptions {
  std::chrono::milliseconds ttl{std::chrono::hours(24)};
  std::size_t max_sessions = 100000;
  std::size_t max_bytes = 256u << 20;  // of stored message text; the least recently used go first
};

/// The wall clock in Unix milliseconds, injectable for tests.
using WallClock = std::function<std::int64_t()>;
std::int64_t system_wall_clock();

std::unique_ptr<SessionStore> make_memory_store(MemoryStoreOptions options,
                                                WallClock clock = system_wall_clock);

struct SqliteStoreOptions {
  std::string path;  // the database file, created when absent; its directory must exist
  std::chrono::milliseconds ttl{std::chrono::hours(24)};
};

/// Opens the database synchronously (the control thread, at startup or reload); an error names
/// the path and SQLite's reason. Every later call runs on the store's own I/O thread.
StoreResult<std::unique_ptr<SessionStore>> make_sqlite_store(SqliteStoreOptions options,
                                                             WallClock clock = system_wall_clock);

struct RedisStoreOptions {
  std::string url;  // redis://[user:password@]host[:port][/db] or unix:///path[?db=N]
  std::chrono::milliseconds ttl{std::chrono::hours(24)};
  std::string prefix = "llmgw:session:";
  std::chrono::milliseconds timeout{1000};  // per Redis command, and to connect
  /// A lease is a Redis lock that frees itself after this long, should its holder die.
  std::chrono::milliseconds lock_lease{std::chrono::seconds(60)};
};

/// Sessions in Redis (src/session/redis_store.cpp), shared by every instance on it; Redis
/// expires them. Connects lazily, one connection per worker (state::RedisPool): nothing fails
/// here; a URL the client refuses (rediss://) or a Redis that is down fails each call with a
/// StoreError that names host:port, never the password. `active()` counts the sessions this
/// process created minus those it removed: it cannot see Redis expire a session, and another
/// instance's sessions are not in it.
std::unique_ptr<SessionStore> make_redis_store(RedisStoreOptions options,
                                               WallClock clock = system_wall_clock);

}  // namespace llmgw::session
