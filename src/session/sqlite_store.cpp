// sessions.store: sqlite. Sessions in one SQLite file (WAL) that survives a restart: the
// connection, its schema (user_version 1), the kept statements and every use of them, on the
// store's own I/O thread; leases are this process's (SessionLocks), as in the memory store.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmgw/common/io_thread.hpp"
#include "llmgw/session/store.hpp"
#include "session/locks.hpp"

namespace llmgw::session {
namespace {

namespace asio = boost::asio;

constexpr int schema_version = 1;

// A sweep visits every expired session; once a minute (of the injected clock) keeps it off
// nearly every append, and load treats an expired row as absent in between anyway.
constexpr std::int64_t sweep_every_ms = 60'000;

// Message bodies are BLOBs so that any byte (NUL included) comes back exactly. The expiry
// index lets the sweep touch only what expired instead of scanning every session.
constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS sessions(
  id TEXT PRIMARY KEY, owner TEXT, created_ms INTEGER, last_used_ms INTEGER,
  expires_ms INTEGER, last_provider TEXT, last_model TEXT, tokens INTEGER, summary TEXT);
CREATE TABLE IF NOT EXISTS messages(
  session_id TEXT, seq INTEGER, body BLOB, PRIMARY KEY(session_id, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions(expires_ms);
PRAGMA user_version = 1;
)sql";

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct Finalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, CloseDb>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, Finalize>;

// One use of a kept statement. Reset on destruction, so that a statement between uses holds
// no read transaction open and no pointer into strings the caller has since freed.
class Query {
public:
  explicit Query(const StmtPtr& s) : s_(s.get()) {}
  ~Query() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  // A null pointer would bind SQL NULL, not an empty string.
  void text(int i, std::string_view v) {
    note(sqlite3_bind_text64(s_, i, v.data() ? v.data() : "", v.size(), SQLITE_STATIC,
                             SQLITE_UTF8));
  }
  void blob(int i, std::string_view v) {
    note(sqlite3_bind_blob64(s_, i, v.data() ? v.data() : "", v.size(), SQLITE_STATIC));
  }
  void integer(int i, std::int64_t v) { note(sqlite3_bind_int64(s_, i, v)); }
  void null(int i) { note(sqlite3_bind_null(s_, i)); }

  /// true with a row to read; false when done or failed (see failed()).
  bool next() {
    if (rc_ == SQLITE_OK || rc_ == SQLITE_ROW) {
      rc_ = sqlite3_step(s_);
    }
    return rc_ == SQLITE_ROW;
  }
  /// Runs a statement to its end; false when it failed.
  bool exec() {
    while (next()) {
    }
    return !failed();
  }
  bool failed() const { return rc_ != SQLITE_OK && rc_ != SQLITE_ROW && rc_ != SQLITE_DONE; }

  std::int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  std::string string(int col) const {
    // A zero-length value reads as a null pointer.
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
    const auto n = static_cast<std::size_t>(sqlite3_column_bytes(s_, col));
    return p ? std::string(p, n) : std::string();
  }

private:
  void note(int rc) {
    if (rc_ == SQLITE_OK) {
      rc_ = rc;
    }
  }
  sqlite3_stmt* s_;
  int rc_ = SQLITE_OK;
};

struct Statements {
  StmtPtr begin_read, begin_write, commit, rollback;  // prepared before the schema exists
  StmtPtr meta, expiry, messages, last_seq;
  StmtPtr upsert, insert_message, drop_first, delete_messages, delete_session, delete_expired;
  StmtPtr sweep_messages, sweep_sessions, count_live;
};

// Rolls back unless committed, so that a failed change leaves the file as it was.
class Transaction {
public:
  Transaction(sqlite3* db, const Statements& st) : db_(db), st_(st) {}
  ~Transaction() {
    // SQLite has already rolled back on some errors (a full disk, an I/O error).
    if (open_ && !sqlite3_get_autocommit(db_)) {
      Query(st_.rollback).exec();
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  bool begin(const StmtPtr& how) {
    open_ = Query(how).exec();
    return open_;
  }
  bool commit() {
    const bool done = Query(st_.commit).exec();
    open_ = !done;
    return done;
  }

private:
  sqlite3* db_;
  const Statements& st_;
  bool open_ = false;
};

class SqliteStore final : public SessionStore {
public:
  SqliteStore(SqliteStoreOptions options, WallClock clock)
      : opt_(std::move(options)), clock_(std::move(clock)) {}
  // Work already queued still finishes, on the open connection, before the members go.
  ~SqliteStore() override { io_.stop(); }

  // On the factory's thread, before the I/O thread has any work, so the connection is never
  // used by two threads at once (it is opened without SQLite's own mutex).
  std::optional<StoreError> open() {
    sqlite3* raw = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(opt_.path.c_str(), &raw, flags, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) {
      return cannot_open(db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc));
    }
    // busy_timeout first: switching to WAL waits for another process's lock like any write.
    const char* setup = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;"
                        "PRAGMA synchronous = NORMAL;";
    if (sqlite3_exec(db_.get(), setup, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return cannot_open(sqlite3_errmsg(db_.get()));
    }
    if (auto failed = prepare_transactions()) {
      return failed;
    }
    if (auto failed = create_schema()) {
      return failed;
    }
    if (auto failed = prepare_queries()) {
      return failed;
    }
    const auto now = clock_();
    Transaction tx(db_.get(), st_);
    if (!tx.begin(st_.begin_write) || !sweep(now, rows_) || !tx.commit()) {
      return cannot_open(sqlite3_errmsg(db_.get()));
    }
    last_sweep_ms_ = now;
    publish();
    return std::nullopt;
  }

  std::string_view kind() const override { return "sqlite"; }

  asio::awaitable<StoreResult<std::optional<Session>>> load(std::string id) override {
    auto work = [this, key = std::move(id)] { return load_now(key); };
    co_return co_await io_.run(std::move(work));
  }

  asio::awaitable<StoreResult<bool>> append(std::string id, Append change) override {
    auto work = [this, key = std::move(id), c = std::move(change)]() mutable {
      return append_now(key, c);
    };
    co_return co_await io_.run(std::move(work));
  }

  asio::awaitable<StoreResult<bool>> remove(std::string id) override {
    auto work = [this, key = std::move(id)] { return remove_now(key); };
    co_return co_await io_.run(std::move(work));
  }

  asio::awaitable<StoreResult<std::unique_ptr<Lease>>> acquire(
      std::string id, std::chrono::milliseconds wait) override {
    auto lease = co_await locks_.acquire(std::move(id), wait);
    co_return std::move(lease);
  }

  std::uint64_t active() const override { return active_.load(std::memory_order_relaxed); }

private:
  // Everything below runs on the I/O thread (or in open(), before it has work).

  StoreResult<std::optional<Session>> load_now(const std::string& id) {
    const auto now = clock_();
    std::optional<Session> found;
    bool expired = false;
    {
      // One read transaction: the metadata and the messages of the same version.
      Transaction tx(db_.get(), st_);
      if (!tx.begin(st_.begin_read)) {
        return common::err(failure("load"));
      }
      Query meta(st_.meta);
      meta.text(1, id);
      const bool row = meta.next();
      if (meta.failed()) {
        return common::err(failure("load"));
      }
      if (row && meta.int64(3) <= now) {
        expired = true;
      } else if (row) {
        Session s;
        s.meta.owner = meta.string(0);
        s.meta.created_ms = meta.int64(1);
        s.meta.last_used_ms = meta.int64(2);
        s.meta.last_provider = meta.string(4);
        s.meta.last_model = meta.string(5);
        s.meta.tokens = static_cast<std::uint64_t>(meta.int64(6));
        s.summary = meta.string(7);
        Query messages(st_.messages);
        messages.text(1, id);
        while (messages.next()) {
          s.messages.push_back(messages.string(0));
        }
        if (messages.failed()) {
          return common::err(failure("load"));
        }
        found = std::move(s);
      }
    }
    if (expired) {
      // In a write transaction of its own: upgrading the read one could fail outright (WAL
      // snapshot) when another process wrote since it began.
      Transaction tx(db_.get(), st_);
      std::int64_t dropped = 0;
      if (!tx.begin(st_.begin_write) || !drop_expired(id, now, dropped) || !tx.commit()) {
        return common::err(failure("load (dropping an expired session)"));
      }
      rows_ -= dropped;
      publish();
    }
    return found;
  }

  StoreResult<bool> append_now(const std::string& id, Append& change) {
    const auto now = clock_();
    Transaction tx(db_.get(), st_);
    if (!tx.begin(st_.begin_write)) {
      return common::err(failure("append"));
    }
    const bool sweeping = now - last_sweep_ms_ >= sweep_every_ms;
    std::int64_t live = rows_;
    if (sweeping && !sweep(now, live)) {
      return common::err(failure("append (sweeping expired sessions)"));
    }
    std::int64_t added = 0;
    if (!drop_expired(id, now, added)) {
      return common::err(failure("append"));
    }
    added = -added;
    std::optional<std::int64_t> expires;
    if (!expiry(id, expires)) {
      return common::err(failure("append"));
    }
    if (!expires) {
      ++added;
    } else if (change.drop_first > 0 && !drop_first(id, change.drop_first)) {
      return common::err(failure("append (compacting)"));
    }
    if (!add_messages(id, change.messages) || !upsert(id, change, now)) {
      return common::err(failure("append"));
    }
    if (!tx.commit()) {
      return common::err(failure("append"));
    }
    if (sweeping) {
      last_sweep_ms_ = now;
    }
    rows_ = live + added;
    publish();
    return true;
  }

  StoreResult<bool> remove_now(const std::string& id) {
    const auto now = clock_();
    Transaction tx(db_.get(), st_);
    if (!tx.begin(st_.begin_write)) {
      return common::err(failure("remove"));
    }
    std::optional<std::int64_t> expires;
    if (!expiry(id, expires)) {
      return common::err(failure("remove"));
    }
    if (!expires) {
      return false;
    }
    Query messages(st_.delete_messages);
    messages.text(1, id);
    Query session(st_.delete_session);
    session.text(1, id);
    if (!messages.exec() || !session.exec() || !tx.commit()) {
      return common::err(failure("remove"));
    }
    rows_ -= 1;
    publish();
    return *expires > now;  // an expired one was already gone for the caller
  }

  // The session's expiry, or nullopt without a row.
  bool expiry(const std::string& id, std::optional<std::int64_t>& expires) {
    Query q(st_.expiry);
    q.text(1, id);
    if (q.next()) {
      expires = q.int64(0);
    }
    return !q.failed();
  }

  // Deletes the session when it has expired; `dropped` is 1 when it did.
  bool drop_expired(const std::string& id, std::int64_t now, std::int64_t& dropped) {
    Query session(st_.delete_expired);
    session.text(1, id);
    session.integer(2, now);
    if (!session.exec()) {
      return false;
    }
    dropped = sqlite3_changes(db_.get());
    if (dropped == 0) {
      return true;
    }
    Query messages(st_.delete_messages);
    messages.text(1, id);
    return messages.exec();
  }

  bool drop_first(const std::string& id, std::size_t n) {
    constexpr auto most = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    Query q(st_.drop_first);
    q.text(1, id);
    q.integer(2, static_cast<std::int64_t>(std::min(n, most)));
    return q.exec();
  }

  bool add_messages(const std::string& id, const std::vector<std::string>& messages) {
    if (messages.empty()) {
      return true;
    }
    std::int64_t seq = 0;
    {
      Query last(st_.last_seq);
      last.text(1, id);
      if (!last.next()) {
        return false;
      }
      seq = last.int64(0);
    }
    for (const auto& m : messages) {
      Query q(st_.insert_message);
      q.text(1, id);
      q.integer(2, ++seq);
      q.blob(3, m);
      if (!q.exec()) {
        return false;
      }
    }
    return true;
  }

  // Owner and created are written only with the row, so the creator keeps them for good.
  bool upsert(const std::string& id, const Append& change, std::int64_t now) {
    Query q(st_.upsert);
    q.text(1, id);
    q.text(2, change.meta.owner);
    q.integer(3, change.meta.created_ms ? change.meta.created_ms : now);
    q.integer(4, now);
    q.integer(5, now + opt_.ttl.count());
    q.text(6, change.meta.last_provider);
    q.text(7, change.meta.last_model);
    q.integer(8, static_cast<std::int64_t>(change.meta.tokens));
    if (change.summary) {
      q.text(9, *change.summary);
    } else {
      q.null(9);
    }
    return q.exec();
  }

  // Deletes every expired session and counts what is left, inside the caller's transaction.
  bool sweep(std::int64_t now, std::int64_t& live) {
    Query messages(st_.sweep_messages);
    messages.integer(1, now);
    Query sessions(st_.sweep_sessions);
    sessions.integer(1, now);
    Query count(st_.count_live);
    count.integer(1, now);
    if (!messages.exec() || !sessions.exec() || !count.next()) {
      return false;
    }
    live = count.int64(0);
    return true;
  }

  // Rows this process knows of: exact after a sweep, then kept by each change. Rows that
  // expired since the last sweep still count until the next one, as in the memory store.
  void publish() {
    active_.store(static_cast<std::uint64_t>(std::max<std::int64_t>(rows_, 0)),
                  std::memory_order_relaxed);
  }

  std::optional<StoreError> prepare(StmtPtr& into, const char* sql) {
    sqlite3_stmt* s = nullptr;
    const int rc =
        sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    into.reset(s);
    if (rc != SQLITE_OK) {
      return cannot_open(sqlite3_errmsg(db_.get()));
    }
    return std::nullopt;
  }

  std::optional<StoreError> prepare_transactions() {
    const std::pair<StmtPtr*, const char*> all[] = {
        {&st_.begin_read, "BEGIN"},
        {&st_.begin_write, "BEGIN IMMEDIATE"},
        {&st_.commit, "COMMIT"},
        {&st_.rollback, "ROLLBACK"},
    };
    for (const auto& [into, sql] : all) {
      if (auto failed = prepare(*into, sql)) {
        return failed;
      }
    }
    return std::nullopt;
  }

  std::optional<StoreError> create_schema() {
    Transaction tx(db_.get(), st_);
    if (!tx.begin(st_.begin_write)) {
      return cannot_open(sqlite3_errmsg(db_.get()));
    }
    StmtPtr version_stmt;
    if (auto failed = prepare(version_stmt, "PRAGMA user_version")) {
      return failed;
    }
    std::int64_t version = 0;
    {
      Query q(version_stmt);
      if (!q.next()) {
        return cannot_open(sqlite3_errmsg(db_.get()));
      }
      version = q.int64(0);
    }
    if (version > schema_version) {
      return cannot_open("its schema version " + std::to_string(version) +
                         " is newer than this gateway's (" + std::to_string(schema_version) +
                         ")");
    }
    if (version < schema_version &&
        sqlite3_exec(db_.get(), schema_sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return cannot_open(sqlite3_errmsg(db_.get()));
    }
    if (!tx.commit()) {
      return cannot_open(sqlite3_errmsg(db_.get()));
    }
    return std::nullopt;
  }

  std::optional<StoreError> prepare_queries() {
    const std::pair<StmtPtr*, const char*> all[] = {
        {&st_.meta,
         "SELECT owner, created_ms, last_used_ms, expires_ms, last_provider, last_model, "
         "tokens, summary FROM sessions WHERE id = ?1"},
        {&st_.expiry, "SELECT expires_ms FROM sessions WHERE id = ?1"},
        {&st_.messages, "SELECT body FROM messages WHERE session_id = ?1 ORDER BY seq"},
        {&st_.last_seq, "SELECT coalesce(max(seq), 0) FROM messages WHERE session_id = ?1"},
        {&st_.upsert,
         "INSERT INTO sessions(id, owner, created_ms, last_used_ms, expires_ms, "
         "last_provider, last_model, tokens, summary) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, coalesce(?9, '')) "
         "ON CONFLICT(id) DO UPDATE SET last_used_ms = excluded.last_used_ms, "
         "expires_ms = excluded.expires_ms, last_provider = excluded.last_provider, "
         "last_model = excluded.last_model, tokens = excluded.tokens, "
         "summary = coalesce(?9, summary)"},
        {&st_.insert_message, "INSERT INTO messages(session_id, seq, body) VALUES (?1, ?2, ?3)"},
        {&st_.drop_first,
         "DELETE FROM messages WHERE session_id = ?1 AND seq IN "
         "(SELECT seq FROM messages WHERE session_id = ?1 ORDER BY seq LIMIT ?2)"},
        {&st_.delete_messages, "DELETE FROM messages WHERE session_id = ?1"},
        {&st_.delete_session, "DELETE FROM sessions WHERE id = ?1"},
        {&st_.delete_expired, "DELETE FROM sessions WHERE id = ?1 AND expires_ms <= ?2"},
        {&st_.sweep_messages,
         "DELETE FROM messages WHERE session_id IN "
         "(SELECT id FROM sessions WHERE expires_ms <= ?1)"},
        {&st_.sweep_sessions, "DELETE FROM sessions WHERE expires_ms <= ?1"},
        {&st_.count_live, "SELECT count(*) FROM sessions WHERE expires_ms > ?1"},
    };
    for (const auto& [into, sql] : all) {
      if (auto failed = prepare(*into, sql)) {
        return failed;
      }
    }
    return std::nullopt;
  }

  StoreError cannot_open(const std::string& why) const {
    return StoreError{"cannot open the session database " + opt_.path + ": " + why};
  }
  // Called at once after the failing call: a rollback would replace SQLite's message.
  StoreError failure(const char* what) const {
    return StoreError{"session database " + opt_.path + ": " + what + ": " +
                      sqlite3_errmsg(db_.get())};
  }

  SqliteStoreOptions opt_;
  WallClock clock_;
  DbPtr db_;
  Statements st_;  // after db_: finalized before the connection closes
  std::int64_t rows_ = 0;
  std::int64_t last_sweep_ms_ = 0;
  std::atomic<std::uint64_t> active_{0};
  SessionLocks locks_;
  common::IoThread io_;  // last: its queued work uses everything above
};

}  // namespace

StoreResult<std::unique_ptr<SessionStore>> make_sqlite_store(SqliteStoreOptions options,
                                                             WallClock clock) {
  auto store = std::make_unique<SqliteStore>(std::move(options), std::move(clock));
  if (auto failed = store->open()) {
    return common::err(std::move(*failed));
  }
  return std::unique_ptr<SessionStore>(std::move(store));
}

}  // namespace llmgw::session
