#include "llmgw/upstream/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <array>
#include <unordered_map>
#include <vector>

#include "llmgw/common/http_head.hpp"
#include "llmgw/common/strings.hpp"
#include "upstream/content_decoder.hpp"

namespace llmgw::upstream {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// A body slice and the connection's read buffer: 8 KiB each holds a typical answer or a burst of
// stream events in one read, and keeps an idle open stream's buffers at 16 KiB (10k streams).
constexpr std::size_t kChunkBytes = 8 * 1024;
constexpr std::size_t kReadBufferBytes = 8 * 1024;
constexpr auto kDnsTtl = std::chrono::seconds(30);
constexpr auto kMaxIdlePerKey = 64;
// arm() rounds the time left down to whole milliseconds, so a timer capped by the deadline can
// fire just before it.
constexpr auto kDeadlineSlack = std::chrono::milliseconds(2);

struct Conn {
  std::unique_ptr<beast::tcp_stream> tcp;
  std::unique_ptr<ssl::stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  std::string pool_key;

  beast::tcp_stream& lowest() { return tls ? tls->next_layer() : *tcp; }
  void close() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }
};

// Beast stream operations are templates over the stream type; run the same code on either.
template <class F>
auto with_stream(Conn& c, F&& f) {
  return c.tls ? f(*c.tls) : f(*c.tcp);
}

// Arms the stream's deadline for the next operation: the per-phase timeout, never past the
// request's total deadline. Returns false when the deadline already passed.
bool arm(Conn& c, std::chrono::milliseconds phase, Deadline deadline) {
  auto now = steady_clock::now();
  if (now >= deadline) {
    return false;
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
  c.lowest().expires_after(std::min(phase, left));
  return true;
}

std::string describe(const beast::error_code& ec) { return ec.message(); }

bool is_tls_error(const beast::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() ||
         ec.category() == ssl::error::get_stream_category();
}

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

}  // namespace

struct Client::State {
  explicit State(asio::any_io_executor e) : executor(e), resolver(e) {}

  struct DnsEntry {
    tcp::resolver::results_type results;
    steady_clock::time_point expires;
  };

  asio::any_io_executor executor;
  tcp::resolver resolver;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle;
  std::unordered_map<std::string, unsigned> open;  // idle + busy connections per key
  std::unordered_map<std::string, std::shared_ptr<ssl::context>> tls_contexts;
  std::unordered_map<std::string, DnsEntry> dns;

  std::unique_ptr<Conn> take_idle(const std::string& key) {
    auto it = idle.find(key);
    if (it == idle.end() || it->second.empty()) {
      return nullptr;
    }
    auto c = std::move(it->second.back());
    it->second.pop_back();
    return c;
  }

  void release(std::unique_ptr<Conn> c, bool reusable) {
    if (reusable) {
      auto& list = idle[c->pool_key];
      if (list.size() < kMaxIdlePerKey) {
        c->lowest().expires_never();
        list.push_back(std::move(c));
        return;
      }
    }
    discard(std::move(c));
  }

  void discard(std::unique_ptr<Conn> c) {
    auto it = open.find(c->pool_key);
    if (it != open.end() && it->second > 0) {
      --it->second;
    }
    c->close();
  }

  Result<std::shared_ptr<ssl::context>> tls_context(const Endpoint& ep) {
    auto key = ep.ca_file + (ep.tls_verify ? "|v" : "|n");
    if (auto it = tls_contexts.find(key); it != tls_contexts.end()) {
      return it->second;
    }
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    beast::error_code ec;
    if (!ep.ca_file.empty()) {
      ctx->load_verify_file(ep.ca_file, ec);
    } else {
      ctx->set_default_verify_paths(ec);
    }
    if (ec) {
      return common::err(Error{api::FailureClass::tls, "cannot load CA certificates: " + ec.message()});
    }
    ctx->set_verify_mode(ep.tls_verify ? ssl::verify_peer : ssl::verify_none);
    tls_contexts.emplace(key, ctx);
    return ctx;
  }

  asio::awaitable<Result<tcp::resolver::results_type>> resolve(const Endpoint& ep) {
    auto key = ep.url.host + ":" + std::to_string(ep.url.port);
    auto now = steady_clock::now();
    if (auto it = dns.find(key); it != dns.end() && it->second.expires > now) {
      co_return it->second.results;
    }
    // Asio resolves on its own background thread: the event loop never blocks on DNS.
    auto [ec, results] =
        co_await resolver.async_resolve(ep.url.host, std::to_string(ep.url.port), use_tuple);
    if (ec) {
      co_return common::err(
          Error{api::FailureClass::connect, "DNS lookup of " + ep.url.host + " failed: " + describe(ec)});
    }
    dns[key] = DnsEntry{results, now + kDnsTtl};
    co_return results;
  }

  asio::awaitable<Result<std::unique_ptr<Conn>>> connect(const Endpoint& ep, Deadline deadline) {
    auto resolved = co_await resolve(ep);
    if (!resolved) {
      co_return common::err(resolved.error());
    }
    auto conn = std::make_unique<Conn>();
    conn->pool_key = ep.pool_key;
    // Room for a typical response head and body in one read (Beast starts at 512 bytes).
    conn->buffer.reserve(kReadBufferBytes);
    conn->tcp = std::make_unique<beast::tcp_stream>(executor);
    if (!arm(*conn, ep.timeouts.connect, deadline)) {
      co_return common::err(Error{api::FailureClass::timeout, "request deadline passed"});
    }
    auto [ec, _] = co_await conn->tcp->async_connect(*resolved, use_tuple);
    if (ec) {
      dns.erase(ep.url.host + ":" + std::to_string(ep.url.port));  // re-resolve next time
      if (ec == beast::error::timeout) {
        co_return common::err(Error{api::FailureClass::timeout,
                                    "connect timed out after " + ms_text(ep.timeouts.connect)});
      }
      co_return common::err(Error{api::FailureClass::connect, "connect failed: " + describe(ec)});
    }
    conn->tcp->socket().set_option(tcp::no_delay(true));
    if (ep.url.tls()) {
      auto ctx = tls_context(ep);
      if (!ctx) {
        co_return common::err(ctx.error());
      }
      conn->tls = std::make_unique<ssl::stream<beast::tcp_stream>>(std::move(*conn->tcp), **ctx);
      conn->tcp.reset();
      beast::error_code address_ec;
      asio::ip::make_address(ep.url.host, address_ec);
      if (address_ec) {  // SNI only for names, never for literal addresses (RFC 6066)
        SSL_set_tlsext_host_name(conn->tls->native_handle(), ep.url.host.c_str());
      }
      if (ep.tls_verify) {
        conn->tls->set_verify_callback(ssl::host_name_verification(ep.url.host));
      }
      if (!arm(*conn, ep.timeouts.connect, deadline)) {
        co_return common::err(Error{api::FailureClass::timeout, "request deadline passed"});
      }
      auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, use_tuple);
      if (hec) {
        if (hec == beast::error::timeout) {
          co_return common::err(Error{api::FailureClass::timeout, "TLS handshake timed out"});
        }
        co_return common::err(Error{api::FailureClass::tls, "TLS handshake failed: " + describe(hec)});
      }
    }
    ++open[ep.pool_key];
    co_return conn;
  }
};

// The real exchange: a pooled connection and Beast's response parser.
struct Exchange final : Response::Source {
  std::shared_ptr<Client::State> state;
  std::unique_ptr<Conn> conn;
  http::response_parser<http::buffer_body> parser;
  std::chrono::milliseconds idle_timeout{};
  std::chrono::milliseconds first_byte_timeout{};
  Deadline deadline;
  std::vector<char> chunk;
  std::unique_ptr<ContentDecoder> decoder;  // set for a gzip/deflate answer
  std::vector<char> decoded;
  bool broken = false;

  asio::awaitable<Result<std::string_view>> read_raw();

  int status() const override { return static_cast<int>(parser.get().result_int()); }
  std::string_view header(std::string_view name) const override {
    const auto& h = parser.get();
    auto it = h.find(name);
    return it == h.end() ? std::string_view{} : std::string_view(it->value());
  }
  bool body_done() const override { return parser.is_done(); }
  std::optional<std::uint64_t> content_length() const override {
    auto n = parser.content_length();
    return n ? std::optional<std::uint64_t>(*n) : std::nullopt;
  }
  asio::awaitable<Result<std::string_view>> read_some() override;

  ~Exchange() override {
    if (conn) {
      bool reusable = !broken && parser.is_done() && parser.keep_alive();
      state->release(std::move(conn), reusable);
    }
  }
};

Response::Response(std::unique_ptr<Source> source) : source_(std::move(source)) {}
Response::Response(Response&&) noexcept = default;
Response& Response::operator=(Response&&) noexcept = default;
Response::~Response() = default;

asio::awaitable<Result<std::string_view>> Exchange::read_some() {
  auto& im = *this;
  if (!im.decoder) {
    co_return co_await im.read_raw();
  }
  if (im.decoded.empty()) {
    im.decoded.resize(kChunkBytes);
  }
  for (;;) {
    if (im.decoder->pending()) {
      auto n = im.decoder->decode(im.decoded.data(), im.decoded.size());
      if (n < 0) {
        im.broken = true;
        co_return common::err(Error{api::FailureClass::bad_response,
                                    "upstream answered with " + im.decoder->error()});
      }
      if (n > 0) {
        co_return std::string_view(im.decoded.data(), static_cast<std::size_t>(n));
      }
    }
    auto raw = co_await im.read_raw();
    if (!raw) {
      co_return raw;
    }
    if (raw->empty()) {
      if (!im.decoder->finished()) {
        im.broken = true;
        co_return common::err(Error{api::FailureClass::bad_response,
                                    "upstream's compressed body ended before its end"});
      }
      co_return std::string_view{};
    }
    if (im.decoder->finished()) {
      continue;  // bytes after the end of the compressed stream: ignored, as browsers do
    }
    im.decoder->input(*raw);
  }
}

asio::awaitable<Result<std::string_view>> Exchange::read_raw() {
  auto& im = *this;
  if (im.broken) {
    co_return common::err(Error{api::FailureClass::stall, "connection already broken"});
  }
  if (im.chunk.empty()) {
    im.chunk.resize(kChunkBytes);
  }
  while (!im.parser.is_done()) {
    im.parser.get().body().data = im.chunk.data();
    im.parser.get().body().size = im.chunk.size();
    if (!arm(*im.conn, im.idle_timeout, im.deadline)) {
      im.broken = true;
      co_return common::err(Error{api::FailureClass::timeout, "request deadline passed"});
    }
    auto [ec, n] = co_await with_stream(*im.conn, [&](auto& s) {
      return http::async_read_some(s, im.conn->buffer, im.parser, use_tuple);
    });
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    if (ec == ssl::error::stream_truncated || ec == asio::error::eof) {
      // A body delimited by connection close ends here; anything else is a broken stream.
      if (im.parser.need_eof()) {
        beast::error_code eof_ec;
        im.parser.put_eof(eof_ec);
        ec = eof_ec;
      }
    }
    if (ec) {
      im.broken = true;
      if (ec == beast::error::timeout) {
        if (steady_clock::now() + kDeadlineSlack >= im.deadline) {
          co_return common::err(Error{api::FailureClass::timeout,
                                      "attempt deadline reached while reading the body"});
        }
        co_return common::err(Error{api::FailureClass::stall,
                                    "no data from upstream for " + ms_text(im.idle_timeout)});
      }
      co_return common::err(
          Error{api::FailureClass::stall, "upstream connection broke mid-body: " + describe(ec)});
    }
    std::size_t got = im.chunk.size() - im.parser.get().body().size;
    if (got > 0) {
      // A read stops at one chunk of a chunked body; take the chunks the connection already
      // holds too, without waiting for more: a stream's burst of small events arrives in one
      // socket read and is then one slice (one write to the client, not one per event).
      im.parser.eager(true);
      while (!im.parser.is_done() && im.conn->buffer.size() > 0 &&
             im.parser.get().body().size > 0) {
        beast::error_code pec;
        const auto used = im.parser.put(im.conn->buffer.data(), pec);
        im.conn->buffer.consume(used);
        if (pec == http::error::need_more || pec == http::error::need_buffer || used == 0) {
          break;
        }
        if (pec) {
          im.broken = true;
          co_return common::err(Error{api::FailureClass::stall,
                                      "upstream connection broke mid-body: " + describe(pec)});
        }
      }
      im.parser.eager(false);
      got = im.chunk.size() - im.parser.get().body().size;
      co_return std::string_view(im.chunk.data(), got);
    }
  }
  co_return std::string_view{};
}

asio::awaitable<Result<std::string>> Response::read_all(std::size_t limit) {
  std::string body;
  if (auto len = source_->content_length()) {
    body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*len, limit)));
  }
  for (;;) {
    auto slice = co_await read_some();
    if (!slice) {
      co_return common::err(slice.error());
    }
    if (slice->empty()) {
      co_return body;
    }
    if (body.size() + slice->size() > limit) {
      // (Left unread, the connection is not reused.)
      co_return common::err(Error{api::FailureClass::bad_response,
                                  "upstream body exceeds " + std::to_string(limit) + " bytes"});
    }
    body.append(*slice);
  }
}

Endpoint Endpoint::from(const config::ProviderConfig& p, unsigned workers) {
  Endpoint e;
  e.url = p.url;
  e.ca_file = p.ca_file;
  e.tls_verify = p.tls_verify;
  e.timeouts = p.timeouts;
  e.max_connections = std::max(1u, p.max_connections / std::max(1u, workers));
  e.pool_key = p.url.scheme + "://" + p.url.host + ":" + std::to_string(p.url.port) + "|" +
               p.ca_file + (p.tls_verify ? "|v" : "|n");
  return e;
}

Client::Client(asio::any_io_executor executor) : state_(std::make_shared<State>(executor)) {}
Client::~Client() = default;

std::size_t Client::idle_connections() const {
  std::size_t n = 0;
  for (const auto& [_, list] : state_->idle) {
    n += list.size();
  }
  return n;
}

asio::awaitable<Result<bool>> Client::probe_connect(const Endpoint& endpoint, Deadline deadline) {
  auto conn = co_await state_->connect(endpoint, deadline);
  if (!conn) {
    co_return common::err(conn.error());
  }
  state_->release(std::move(*conn), true);
  co_return true;
}

asio::awaitable<Result<Response>> Client::send(const Endpoint& ep,
                                               const providers::UpstreamRequest& request,
                                               Deadline deadline) {
  // The head as text and the body by reference: one gather write, no copy of the body.
  std::string head;
  head.reserve(256 + request.target.size());
  common::append_request_line(head, request.method, request.target);
  common::append_field(head, "Host", ep.url.authority());
  common::append_field(head, "User-Agent", "llmgw");
  // Compressed answers would have to be decoded before any translation: ask for none.
  common::append_field(head, "Accept-Encoding", "identity");
  common::append_fields(head, request.headers);
  // RFC 9110 8.6: no Content-Length on a bodiless GET (active health checks send those).
  if (!request.body.empty() || (request.method != "GET" && request.method != "HEAD")) {
    common::append_field(head, "Content-Length", std::to_string(request.body.size()));
  }
  head += "\r\n";
  const std::array<asio::const_buffer, 2> message{asio::buffer(head), asio::buffer(request.body)};

  // A pooled connection may have been closed by the server while idle; if it fails before any
  // response byte, the request never reached the application: retry once on a fresh one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    // The retry always opens a fresh connection: the next idle one may be just as dead (all
    // pooled connections to an upstream that restarted are).
    auto conn = attempt == 0 ? state_->take_idle(ep.pool_key) : nullptr;
    bool reused = conn != nullptr;
    if (!conn) {
      if (state_->open[ep.pool_key] >= ep.max_connections) {
        co_return common::err(Error{api::FailureClass::local_limit,
                                    "connection limit reached (max_connections)"});
      }
      auto fresh = co_await state_->connect(ep, deadline);
      if (!fresh) {
        co_return common::err(fresh.error());
      }
      conn = std::move(*fresh);
    }
    if (!arm(*conn, ep.timeouts.first_byte, deadline)) {
      state_->release(std::move(conn), true);
      co_return common::err(Error{api::FailureClass::timeout, "request deadline passed"});
    }
    auto [wec, wn] = co_await with_stream(
        *conn, [&](auto& s) { return asio::async_write(s, message, use_tuple); });
    if (wec) {
      state_->discard(std::move(conn));
      if (wec == asio::error::operation_aborted) {
        co_return common::err(Error{api::FailureClass::cancelled, "cancelled"});
      }
      if (reused && attempt == 0 && wec != beast::error::timeout) {
        continue;
      }
      auto cls = wec == beast::error::timeout ? api::FailureClass::timeout
                 : is_tls_error(wec)            ? api::FailureClass::tls
                                                : api::FailureClass::connect;
      co_return common::err(Error{cls, "sending request failed: " + describe(wec)});
    }
    auto impl = std::make_unique<Exchange>();
    impl->state = state_;
    impl->idle_timeout = ep.timeouts.idle_between_chunks;
    impl->first_byte_timeout = ep.timeouts.first_byte;
    impl->deadline = deadline;
    impl->parser.header_limit(64 * 1024);
    impl->parser.body_limit(boost::none);
    auto [rec, rn] = co_await with_stream(*conn, [&](auto& s) {
      return http::async_read_header(s, conn->buffer, impl->parser, use_tuple);
    });
    if (rec) {
      state_->discard(std::move(conn));
      if (rec == asio::error::operation_aborted) {
        // The request was cancelled (its client hung up): never retry on a fresh connection.
        co_return common::err(Error{api::FailureClass::cancelled, "cancelled"});
      }
      if (reused && attempt == 0 && rn == 0 && rec != beast::error::timeout) {
        continue;
      }
      if (rec == beast::error::timeout) {
        if (steady_clock::now() + kDeadlineSlack >= deadline) {
          co_return common::err(Error{api::FailureClass::timeout,
                                      "attempt deadline reached before the response header"});
        }
        co_return common::err(Error{api::FailureClass::timeout,
                                    "no response within " + ms_text(ep.timeouts.first_byte)});
      }
      if (rec == http::error::end_of_stream || rec == asio::error::eof ||
          rec == asio::error::connection_reset) {
        co_return common::err(Error{api::FailureClass::connect,
                                    "upstream closed the connection: " + describe(rec)});
      }
      auto cls = is_tls_error(rec) ? api::FailureClass::tls : api::FailureClass::connect;
      co_return common::err(Error{cls, "reading response failed: " + describe(rec)});
    }
    if (auto ce = impl->parser.get()[http::field::content_encoding]; !ce.empty()) {
      std::string why;
      impl->decoder = ContentDecoder::make(std::string_view(ce.data(), ce.size()), why);
      if (!impl->decoder && !why.empty()) {
        state_->discard(std::move(conn));
        co_return common::err(Error{api::FailureClass::bad_response, why});
      }
    }
    impl->conn = std::move(conn);
    co_return Response(std::move(impl));
  }
  co_return common::err(Error{api::FailureClass::connect, "upstream closed the connection"});
}

}  // namespace llmgw::upstream
