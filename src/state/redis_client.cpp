// The Redis client of include/llmgw/state/redis.hpp: URL parsing, command formatting, one
// pipelined connection (TCP or unix socket) with hiredis's RESP reader, deadlines, reconnection
// with back-off, and the pool of per-executor clients.
#include <hiredis.h>  // pkg-config's include directory is .../hiredis

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <deque>
#include <optional>

#include "llmgw/common/strings.hpp"
#include "llmgw/state/redis.hpp"

namespace llmgw::state {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// Userinfo may be percent-encoded (a password with '@', ':' or '/').
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) {
      return std::nullopt;
    }
    int hi = common::hex_value(s[i + 1]);
    int lo = common::hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

template <class Int>
bool parse_int(std::string_view s, Int& out) {
  if (s.empty()) {
    return false;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

RedisResult<RedisAddress> url_error(std::string why) {
  return common::err(RedisError{"bad redis URL: " + std::move(why)});
}

// "db=3" out of a query string; other parameters are ignored.
bool read_query(std::string_view query, RedisAddress& a) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.starts_with("db=") && !parse_int(param.substr(3), a.db)) {
      return false;
    }
  }
  return true;
}

void append_number(std::string& out, char kind, std::size_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  (void)ec;
  out += kind;
  out.append(digits, end);
  out += "\r\n";
}

// RESP: an array of bulk strings, binary-safe.
void format_command(std::string& out, const std::vector<std::string>& args) {
  append_number(out, '*', args.size());
  for (const auto& a : args) {
    append_number(out, '$', a.size());
    out += a;
    out += "\r\n";
  }
}

RedisReply convert(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_NIL: break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) {
        out.elements.push_back(convert(*r.element[i]));
      }
      break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::status; break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::error; break;
    default: out.type = RedisReply::Type::string; break;  // strings (and RESP3's text types)
  }
  if (r.type != REDIS_REPLY_ARRAY && r.type != REDIS_REPLY_INTEGER && r.str) {
    out.str.assign(r.str, r.len);
  }
  return out;
}

struct ReplyFree {
  void operator()(void* r) const { freeReplyObject(r); }
};
struct ReaderFree {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};

struct Conn;

// One call's commands, waiting for their replies. Its timer is both the deadline and the
// wake-up: a reply (or a failure) cancels it.
struct Request {
  explicit Request(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::size_t expected = 0;
  std::vector<RedisReply> replies;
  std::optional<RedisError> error;
  bool done = false;
  bool setup = false;  // AUTH / SELECT of a new connection: nobody awaits it
  std::weak_ptr<Conn> conn;
};

// One connection. A new one replaces a failed one; coroutines of an old one see `dead`.
struct Conn {
  explicit Conn(const asio::any_io_executor& ex)
      : socket(ex), resolver(ex), connect_timer(ex), reader(redisReaderCreate()) {}
  asio::generic::stream_protocol::socket socket;
  asio::ip::tcp::resolver resolver;
  asio::steady_timer connect_timer;
  std::unique_ptr<redisReader, ReaderFree> reader;
  std::deque<std::shared_ptr<Request>> pending;  // in the order their commands were queued
  std::string out;       // formatted, not yet handed to the socket
  std::string inflight;  // the write in progress
  std::vector<char> readbuf = std::vector<char>(16384);
  bool connected = false;
  bool writing = false;
  bool dead = false;
};

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

std::string RedisAddress::describe() const {
  if (is_unix()) {
    return "unix:" + socket_path;
  }
  auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

RedisResult<RedisAddress> parse_redis_url(std::string_view url) {
  RedisAddress a;
  std::string_view rest;
  bool unix_socket = false;
  if (url.starts_with("redis://")) {
    rest = url.substr(8);
  } else if (url.starts_with("unix://")) {
    rest = url.substr(7);
    unix_socket = true;
  } else if (url.starts_with("rediss://")) {
    return common::err(RedisError{"rediss:// (Redis over TLS) is not supported yet"});
  } else {
    return url_error("expected redis:// or unix://");
  }
  // The userinfo first, up to the last '@': a password may hold an unescaped '@', '/' or
  // '?'; host, port, db and query never hold an '@'.
  std::string_view userinfo;
  bool has_userinfo = false;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    has_userinfo = true;
  }
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (has_userinfo) {
    auto colon = userinfo.find(':');
    // A bare userinfo is the password (Redis before 6 had no users).
    auto user = colon == std::string_view::npos ? std::string_view() : userinfo.substr(0, colon);
    auto pass = colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1);
    auto u = percent_decode(user);
    auto p = percent_decode(pass);
    if (!u || !p) {
      return url_error("bad percent-encoding in the user or password");
    }
    a.user = std::move(*u);
    a.password = std::move(*p);
  }
  if (unix_socket) {
    if (!rest.starts_with("/")) {
      return url_error("unix:// needs an absolute socket path (unix:///run/redis.sock)");
    }
    a.socket_path = std::string(rest);
  } else {
    std::string_view hostport = rest;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
      hostport = rest.substr(0, slash);
      auto db = rest.substr(slash + 1);
      if (!db.empty() && !parse_int(db, a.db)) {
        return url_error("the database must be a number");
      }
    }
    std::string_view port;
    if (hostport.starts_with("[")) {
      auto close = hostport.find(']');
      if (close == std::string_view::npos) {
        return url_error("unclosed '[' in the host");
      }
      a.host = std::string(hostport.substr(1, close - 1));
      auto after = hostport.substr(close + 1);
      if (!after.empty() && !after.starts_with(":")) {
        return url_error("expected ':' after ']'");
      }
      port = after.empty() ? after : after.substr(1);
    } else {
      auto colon = hostport.rfind(':');
      a.host = std::string(hostport.substr(0, colon));
      port = colon == std::string_view::npos ? std::string_view() : hostport.substr(colon + 1);
    }
    if (a.host.empty()) {
      return url_error("no host");
    }
    if (!port.empty() && (!parse_int(port, a.port) || a.port == 0)) {
      return url_error("the port must be a number from 1 to 65535");
    }
  }
  if (!read_query(query, a)) {
    return url_error("the database must be a number");
  }
  if (a.db < 0) {
    return url_error("the database must not be negative");
  }
  return a;
}

std::string redact_redis_url(std::string_view url) {
  auto scheme = url.find("://");
  auto at = url.rfind('@');
  if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme + 3) {
    return std::string(url);
  }
  auto userinfo = url.substr(scheme + 3, at - scheme - 3);
  auto colon = userinfo.find(':');
  std::string out(url.substr(0, scheme + 3));
  if (colon != std::string_view::npos) {
    out.append(userinfo.substr(0, colon + 1));
  }
  out += "<redacted>";
  out.append(url.substr(at));
  return out;
}

struct RedisClient::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor executor, RedisOptions options)
      : ex_(std::move(executor)), options_(std::move(options)) {
    auto parsed = parse_redis_url(options_.url);
    if (parsed) {
      address_ = std::move(*parsed);
      where_ = "redis " + address_->describe();
    } else {
      config_error_ = parsed.error().message;
      where_ = "redis";
    }
  }

  // Queues the commands on the live connection, opening one when there is none.
  common::Result<std::shared_ptr<Request>, RedisError> submit(
      const std::vector<std::vector<std::string>>& commands) {
    if (closed_) {
      return common::err(RedisError{where_ + ": the client is closed"});
    }
    if (!address_) {
      return common::err(RedisError{config_error_});
    }
    if (!live_) {
      auto now = Clock::now();
      if (now < down_until_) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(down_until_ - now);
        return common::err(
            RedisError{last_error_ + " (not retried for another " + ms_text(left) + ")"});
      }
      open();
      if (!live_) {
        return common::err(RedisError{last_error_});
      }
    }
    auto req = std::make_shared<Request>(ex_);
    req->expected = commands.size();
    req->timer.expires_after(options_.command_timeout);
    req->conn = live_;
    for (const auto& c : commands) {
      format_command(live_->out, c);
    }
    live_->pending.push_back(req);
    commands_.fetch_add(commands.size(), std::memory_order_relaxed);
    flush(live_);
    return req;
  }

  asio::awaitable<RedisResult<std::vector<RedisReply>>> run(
      std::vector<std::vector<std::string>> commands) {
    auto self = shared_from_this();
    if (commands.empty()) {
      co_return std::vector<RedisReply>();
    }
    auto submitted = submit(commands);
    if (!submitted) {
      co_return common::err(std::move(submitted.error()));
    }
    auto req = std::move(*submitted);
    if (!req->done && !req->error) {
      auto [ec] = co_await req->timer.async_wait(use_tuple);
      (void)ec;  // the state below says what happened
    }
    if (req->done) {
      co_return std::move(req->replies);
    }
    if (req->error) {
      co_return common::err(std::move(*req->error));
    }
    if (req->timer.expiry() <= Clock::now()) {
      auto message = where_ + ": no reply within " + ms_text(options_.command_timeout);
      if (auto c = req->conn.lock()) {
        fail(c, message);
      }
      mark_down(message);
      co_return common::err(RedisError{message});
    }
    // Cancelled by the caller: the request stays in line, its replies are dropped on arrival.
    co_return common::err(RedisError{where_ + ": the command was cancelled"});
  }

  void open() {
    auto conn = std::make_shared<Conn>(ex_);
    live_ = conn;
    if (!conn->reader) {
      last_error_ = where_ + ": out of memory";
      fail(conn, last_error_);
      return;
    }
    std::vector<std::vector<std::string>> setup;
    const auto& a = *address_;
    if (!a.password.empty()) {
      std::vector<std::string> auth{"AUTH"};
      if (!a.user.empty()) {
        auth.push_back(a.user);
      }
      auth.push_back(a.password);
      setup.push_back(std::move(auth));
    }
    if (a.db != 0) {
      setup.push_back({"SELECT", std::to_string(a.db)});
    }
    if (!setup.empty()) {
      // Ahead of every user command: pipelined with them, answered first.
      auto req = std::make_shared<Request>(ex_);
      req->setup = true;
      req->expected = setup.size();
      for (const auto& c : setup) {
        format_command(conn->out, c);
      }
      conn->pending.push_back(std::move(req));
    }
    conn->connect_timer.expires_after(options_.connect_timeout);
    conn->connect_timer.async_wait([self = shared_from_this(), conn](const error_code& ec) {
      if (!ec && !conn->connected && !conn->dead) {
        // Fails at once even when the resolver's getaddrinfo cannot be interrupted.
        auto message = self->where_ + ": connect timed out after " +
                       ms_text(self->options_.connect_timeout);
        self->fail(conn, message);
        self->mark_down(message);
      }
    });
    asio::co_spawn(ex_, connect(shared_from_this(), conn), asio::detached);
  }

  static asio::awaitable<void> connect(std::shared_ptr<Impl> self, std::shared_ptr<Conn> conn) {
    error_code ec;
    const auto& a = *self->address_;
    if (a.is_unix()) {
      asio::local::stream_protocol::endpoint local(a.socket_path);
      asio::generic::stream_protocol::endpoint ep(local);
      auto [cec] = co_await conn->socket.async_connect(ep, use_tuple);
      ec = cec;
    } else {
      auto port = std::to_string(a.port);
      auto [rec, results] = co_await conn->resolver.async_resolve(a.host, port, use_tuple);
      ec = rec;
      if (!ec && results.empty()) {
        ec = asio::error::host_not_found;
      }
      for (const auto& entry : results) {
        if (conn->dead) {
          break;
        }
        error_code ignored;
        conn->socket.close(ignored);
        asio::generic::stream_protocol::endpoint ep(entry.endpoint());
        auto [cec] = co_await conn->socket.async_connect(ep, use_tuple);
        ec = cec;
        if (!ec) {
          break;
        }
      }
    }
    if (conn->dead) {
      co_return;  // timed out, closed, or a command's deadline ended it meanwhile
    }
    conn->connect_timer.cancel();
    if (ec) {
      auto message = self->where_ + ": " + ec.message();
      self->fail(conn, message);
      self->mark_down(message);
      co_return;
    }
    if (!a.is_unix()) {
      error_code ignored;
      conn->socket.set_option(asio::ip::tcp::no_delay(true), ignored);
      conn->socket.set_option(asio::socket_base::keep_alive(true), ignored);
    }
    conn->connected = true;
    self->connects_.fetch_add(1, std::memory_order_relaxed);
    if (conn->pending.empty() || !conn->pending.front()->setup) {
      self->backoff_ = {};
    }
    asio::co_spawn(self->ex_, read_loop(self, conn), asio::detached);
    self->flush(conn);
  }

  static asio::awaitable<void> read_loop(std::shared_ptr<Impl> self, std::shared_ptr<Conn> conn) {
    for (;;) {
      auto [ec, n] = co_await conn->socket.async_read_some(asio::buffer(conn->readbuf), use_tuple);
      if (conn->dead) {
        co_return;
      }
      if (ec) {
        auto why = ec == asio::error::eof ? std::string("the server closed the connection")
                                          : "connection lost: " + ec.message();
        self->fail(conn, self->where_ + ": " + why);
        co_return;
      }
      if (redisReaderFeed(conn->reader.get(), conn->readbuf.data(), n) != REDIS_OK) {
        self->fail(conn, self->where_ + ": out of memory reading a reply");
        co_return;
      }
      for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(conn->reader.get(), &raw) != REDIS_OK) {
          std::string why = conn->reader->errstr;
          self->fail(conn, self->where_ + ": protocol error: " + why);
          co_return;
        }
        if (!raw) {
          break;
        }
        std::unique_ptr<void, ReplyFree> owned(raw);
        self->deliver(conn, convert(*static_cast<const redisReply*>(raw)));
        if (conn->dead) {
          co_return;
        }
      }
    }
  }

  void deliver(const std::shared_ptr<Conn>& conn, RedisReply reply) {
    if (conn->pending.empty()) {
      fail(conn, where_ + ": a reply to no command");
      return;
    }
    auto& front = conn->pending.front();
    front->replies.push_back(std::move(reply));
    if (front->replies.size() < front->expected) {
      return;
    }
    auto req = std::move(front);
    conn->pending.pop_front();
    if (req->setup) {
      for (const auto& r : req->replies) {
        if (r.is_error()) {
          // Retrying a wrong password at once would only repeat the refusal.
          auto message = where_ + ": connection setup (AUTH/SELECT) refused: " + r.str;
          fail(conn, message);
          mark_down(message);
          return;
        }
      }
      backoff_ = {};
      return;
    }
    req->done = true;
    req->timer.cancel();
  }

  // Queued writes go out together: what callers added while a write was in flight is one write.
  void flush(const std::shared_ptr<Conn>& conn) {
    if (!conn->connected || conn->writing || conn->dead || conn->out.empty()) {
      return;
    }
    conn->writing = true;
    conn->inflight.clear();
    conn->inflight.swap(conn->out);
    writes_.fetch_add(1, std::memory_order_relaxed);
    asio::async_write(conn->socket, asio::buffer(conn->inflight),
                      [self = shared_from_this(), conn](const error_code& ec, std::size_t) {
                        conn->writing = false;
                        if (conn->dead) {
                          return;
                        }
                        if (ec) {
                          self->fail(conn, self->where_ + ": write failed: " + ec.message());
                          return;
                        }
                        if (conn->inflight.capacity() > (std::size_t{1} << 16)) {
                          std::string().swap(conn->inflight);  // a large value was written
                        }
                        self->flush(conn);
                      });
  }

  void fail(const std::shared_ptr<Conn>& conn, const std::string& message) {
    if (conn->dead) {
      return;
    }
    conn->dead = true;
    failures_.fetch_add(1, std::memory_order_relaxed);
    error_code ignored;
    conn->socket.close(ignored);
    conn->resolver.cancel();
    conn->connect_timer.cancel();
    auto pending = std::move(conn->pending);
    conn->pending.clear();
    for (auto& r : pending) {
      if (!r->done) {
        r->error = RedisError{message};
        r->timer.cancel();
      }
    }
    if (live_ == conn) {
      live_.reset();
    }
  }

  void mark_down(const std::string& message) {
    backoff_ = backoff_.count() == 0 ? options_.retry_min
                                     : std::min(backoff_ * 2, options_.retry_max);
    down_until_ = Clock::now() + backoff_;
    last_error_ = message;
  }

  void close() {
    closed_ = true;
    if (live_) {
      fail(live_, where_ + ": the client is closed");
    }
  }

  asio::any_io_executor ex_;
  RedisOptions options_;
  std::optional<RedisAddress> address_;
  std::string config_error_;
  std::string where_;
  std::shared_ptr<Conn> live_;
  Clock::time_point down_until_{};
  std::chrono::milliseconds backoff_{0};
  std::string last_error_;
  bool closed_ = false;
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint64_t> commands_{0};
  std::atomic<std::uint64_t> writes_{0};
};

RedisClient::RedisClient(asio::any_io_executor executor, RedisOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

RedisClient::~RedisClient() {
  // The connection's coroutines keep the Impl alive; closing ends them on their own thread.
  try {
    asio::post(impl_->ex_, [impl = impl_] { impl->close(); });
  } catch (...) {  // out of memory: the io_context's end frees the connection instead
  }
}

asio::awaitable<RedisResult<RedisReply>> RedisClient::command(std::vector<std::string> args) {
  auto impl = impl_;
  std::vector<std::vector<std::string>> one;
  one.push_back(std::move(args));
  auto replies = co_await impl->run(std::move(one));
  if (!replies) {
    co_return common::err(std::move(replies.error()));
  }
  co_return std::move(replies->front());
}

asio::awaitable<RedisResult<std::vector<RedisReply>>> RedisClient::pipeline(
    std::vector<std::vector<std::string>> commands) {
  auto impl = impl_;
  auto replies = co_await impl->run(std::move(commands));
  co_return std::move(replies);
}

void RedisClient::close() { impl_->close(); }

const asio::any_io_executor& RedisClient::get_executor() const { return impl_->ex_; }

const std::string& RedisClient::where() const { return impl_->where_; }

RedisStats RedisClient::stats() const {
  RedisStats s;
  s.connects = impl_->connects_.load(std::memory_order_relaxed);
  s.failures = impl_->failures_.load(std::memory_order_relaxed);
  s.commands = impl_->commands_.load(std::memory_order_relaxed);
  s.writes = impl_->writes_.load(std::memory_order_relaxed);
  return s;
}

RedisPool::RedisPool(RedisOptions options) : options_(std::move(options)) {}

std::shared_ptr<RedisClient> RedisPool::client(const asio::any_io_executor& executor) {
  const void* key = &asio::query(executor, asio::execution::context);
  std::lock_guard lock(mu_);
  for (const auto& [k, c] : clients_) {
    if (k == key) {
      return c;
    }
  }
  auto c = std::make_shared<RedisClient>(executor, options_);
  clients_.emplace_back(key, c);
  return c;
}

}  // namespace llmgw::state
