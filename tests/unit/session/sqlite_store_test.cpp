// The sqlite session store: the conformance suite on a fresh file per test, then what only a
// file gives: a restart keeps sessions and their TTL, open errors name the path, the sweep
// really deletes rows (seen through a second connection).
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "store_conformance.hpp"

namespace llmgw::session::testing {
namespace {

// A fresh directory under /tmp, removed with everything in it at destruction.
class TempDir {
public:
  TempDir() {
    std::string t = "/tmp/llmgw-sqlite-store-XXXXXX";
    if (!mkdtemp(t.data())) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

StoreMaker sqlite_maker() {
  return StoreMaker{"sqlite",
                    [](std::chrono::milliseconds ttl, WallClock clock) {
                      auto dir = std::make_shared<TempDir>();
                      SqliteStoreOptions o;
                      o.path = dir->path() + "/sessions.db";
                      o.ttl = ttl;
                      auto made = make_sqlite_store(o, std::move(clock));
                      if (!made) {
                        ADD_FAILURE() << made.error().message;
                        return std::shared_ptr<SessionStore>();
                      }
                      // The directory goes only after the store has closed its file.
                      return std::shared_ptr<SessionStore>(made->release(),
                                                           [dir](SessionStore* s) { delete s; });
                    },
                    false};
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance, ::testing::Values(sqlite_maker()),
                         [](const auto& i) { return i.param.name; });

// A second connection of the test's own, to see what is really in the file.
std::int64_t count_rows(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  std::int64_t n = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      n = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return n;
}

class SqliteStore : public ::testing::Test {
protected:
  std::unique_ptr<SessionStore> open(std::chrono::milliseconds ttl = std::chrono::minutes(10)) {
    SqliteStoreOptions o;
    o.path = path_;
    o.ttl = ttl;
    auto now = now_;
    auto made = make_sqlite_store(o, [now] { return now->load(); });
    EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error().message);
    return made.ok() ? std::move(*made) : nullptr;
  }
  void advance(std::chrono::milliseconds d) { now_->fetch_add(d.count()); }
  void append(SessionStore& store, const std::string& id, Append a) {
    auto r = run(io_, store.append(id, std::move(a)));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  std::optional<Session> load(SessionStore& store, const std::string& id) {
    auto r = run(io_, store.load(id));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(*r) : std::nullopt;
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
  std::int64_t sessions_in_file() const {
    return count_rows(path_, "SELECT count(*) FROM sessions");
  }
  std::int64_t messages_in_file() const {
    return count_rows(path_, "SELECT count(*) FROM messages");
  }

  TempDir dir_;
  std::string path_ = dir_.path() + "/sessions.db";
  std::shared_ptr<std::atomic<std::int64_t>> now_ =
      std::make_shared<std::atomic<std::int64_t>>(1'800'000'000'000);
  boost::asio::io_context io_;
};

TEST_F(SqliteStore, ARestartKeepsSessionsAndTheirTtl) {
  {
    auto first = open();
    ASSERT_TRUE(first);
    Append a = turn(R"({"n":1})", R"({"n":2})");
    a.summary = "earlier";
    append(*first, "s", std::move(a));
  }
  advance(std::chrono::minutes(5));
  auto second = open();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->kind(), "sqlite");
  EXPECT_EQ(second->active(), 1u);
  auto got = load(*second, "s");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->messages.size(), 2u);
  EXPECT_EQ(got->messages[1], R"({"n":2})");
  EXPECT_EQ(got->summary, "earlier");
  EXPECT_EQ(got->meta.owner, "team-a");
  EXPECT_EQ(got->meta.tokens, 7u);
  EXPECT_EQ(got->meta.created_ms, 1'800'000'000'000);
  second.reset();
  advance(std::chrono::minutes(6));  // 11 minutes since the last use: past the 10-minute TTL
  auto third = open();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->active(), 0u);  // opening sweeps
  EXPECT_FALSE(load(*third, "s"));
  EXPECT_EQ(sessions_in_file(), 0);
  EXPECT_EQ(messages_in_file(), 0);
}

TEST_F(SqliteStore, TheWorkRunsOffTheCallersThread) {
  // The store reads the clock inside each SQLite transaction: where it is called is where the
  // SQLite work runs.
  auto mu = std::make_shared<std::mutex>();
  auto threads = std::make_shared<std::vector<std::thread::id>>();
  auto now = now_;
  SqliteStoreOptions o;
  o.path = path_;
  auto made = make_sqlite_store(o, [now, mu, threads] {
    std::lock_guard lock(*mu);
    threads->push_back(std::this_thread::get_id());
    return now->load();
  });
  ASSERT_TRUE(made.ok()) << made.error().message;
  auto& store = **made;
  {
    std::lock_guard lock(*mu);
    threads->clear();  // the factory opens on the caller's thread, by design
  }
  append(store, "s", turn(R"({"a":1})", R"({"a":2})"));
  EXPECT_TRUE(load(store, "s"));
  EXPECT_TRUE(run(io_, store.remove("s")).value());
  std::lock_guard lock(*mu);
  ASSERT_EQ(threads->size(), 3u);
  for (const auto& t : *threads) {
    EXPECT_NE(t, std::this_thread::get_id());
    EXPECT_EQ(t, threads->front());
  }
}

TEST_F(SqliteStore, AnUnopenablePathIsNamedInTheError) {
  SqliteStoreOptions o;
  o.path = dir_.path() + "/no-such-dir/sessions.db";
  auto made = make_sqlite_store(o);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message.find(o.path), std::string::npos) << made.error().message;
  EXPECT_NE(made.error().message.find("unable to open"), std::string::npos)
      << made.error().message;
}

TEST_F(SqliteStore, AFileThatIsNotADatabaseIsRefused) {
  std::ofstream(path_) << std::string(4096, 'x');
  SqliteStoreOptions o;
  o.path = path_;
  auto made = make_sqlite_store(o);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message.find(path_), std::string::npos) << made.error().message;
}

TEST_F(SqliteStore, ANewerSchemaIsRefused) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 2", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  SqliteStoreOptions o;
  o.path = path_;
  auto made = make_sqlite_store(o);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message.find("schema version 2"), std::string::npos)
      << made.error().message;
}

TEST_F(SqliteStore, TheSweepDeletesExpiredRowsAtMostOnceAMinute) {
  auto store = open(std::chrono::seconds(10));
  ASSERT_TRUE(store);
  append(*store, "a", turn(R"({"a":1})", R"({"a":2})"));
  advance(std::chrono::seconds(30));  // a has expired; the last sweep (at open) was 30 s ago
  append(*store, "b", turn(R"({"b":1})", R"({"b":2})"));
  EXPECT_EQ(sessions_in_file(), 2);
  EXPECT_EQ(store->active(), 2u);  // as far as this process knows until the next sweep
  advance(std::chrono::seconds(31));  // b has expired too; a minute since the last sweep
  append(*store, "c", turn(R"({"c":1})", R"({"c":2})"));
  EXPECT_EQ(sessions_in_file(), 1);
  EXPECT_EQ(messages_in_file(), 2);
  EXPECT_EQ(store->active(), 1u);
  EXPECT_TRUE(load(*store, "c"));
}

TEST_F(SqliteStore, LoadDeletesAnExpiredSession) {
  auto store = open();
  ASSERT_TRUE(store);
  append(*store, "s", turn(R"({"a":1})", R"({"a":2})"));
  advance(std::chrono::minutes(10));
  EXPECT_FALSE(load(*store, "s"));
  EXPECT_EQ(sessions_in_file(), 0);
  EXPECT_EQ(messages_in_file(), 0);
  EXPECT_EQ(store->active(), 0u);
}

TEST_F(SqliteStore, EmptyAndBinaryValuesRoundTrip) {
  auto store = open();
  ASSERT_TRUE(store);
  const std::string nul("a\0b", 3);
  Append a = turn("", nul);
  a.summary = nul;
  a.meta.tokens = ~std::uint64_t{0};  // above INT64_MAX: stored as its bits
  append(*store, "s", std::move(a));
  auto got = load(*store, "s");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->messages.size(), 2u);
  EXPECT_EQ(got->messages[0], "");
  EXPECT_EQ(got->messages[1], nul);
  EXPECT_EQ(got->summary, nul);
  EXPECT_EQ(got->meta.tokens, ~std::uint64_t{0});
}

TEST_F(SqliteStore, CompactionBeyondTheStoredHistoryKeepsOnlyTheNewMessages) {
  auto store = open();
  ASSERT_TRUE(store);
  append(*store, "s", turn(R"({"n":1})", R"({"n":2})"));
  Append c = turn(R"({"n":3})", R"({"n":4})");
  c.drop_first = 10;
  append(*store, "s", std::move(c));
  auto got = load(*store, "s");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->messages.size(), 2u);
  EXPECT_EQ(got->messages[0], R"({"n":3})");
  EXPECT_EQ(messages_in_file(), 2);
}

}  // namespace
}  // namespace llmgw::session::testing
