#pragma once
// HTTP/1.1 client to providers over TCP or TLS, one per worker thread (not thread safe), with a
// keep-alive connection pool per endpoint, async DNS with a short cache, and the four upstream
// timeouts. Bodies are read slice by slice so streams are relayed as they arrive.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "llmgw/api/failure.hpp"
#include "llmgw/common/result.hpp"
#include "llmgw/common/url.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/providers/adapter.hpp"

namespace llmgw::upstream {

namespace asio = boost::asio;
using Deadline = std::chrono::steady_clock::time_point;

/// Where and how to connect; built once per provider per config snapshot.
struct Endpoint {
  common::Url url;
  std::string ca_file;
  bool tls_verify = true;
  config::UpstreamTimeouts timeouts;
  unsigned max_connections = 512;  // per worker thread
  std::string pool_key;            // connections are shared between equal keys

  static Endpoint from(const config::ProviderConfig& p, unsigned workers);
};

struct Error {
  api::FailureClass cls = api::FailureClass::connect;
  std::string message;
};

template <class T>
using Result = common::Result<T, Error>;

/// One exchange whose header has arrived. Destroying it before the body was read to the end
/// closes the connection (that is how an abandoned or cancelled stream stops the upstream).
class Response {
public:
  /// What a transport implements for one exchange (the real client's connection, or a test's
  /// script).
  class Source {
  public:
    virtual ~Source() = default;
    virtual int status() const = 0;
    virtual std::string_view header(std::string_view name) const = 0;
    virtual bool body_done() const = 0;
    /// See Response::read_some.
    virtual asio::awaitable<Result<std::string_view>> read_some() = 0;
    /// The announced body length, when there is one (read_all reserves it).
    virtual std::optional<std::uint64_t> content_length() const { return std::nullopt; }
  };

  explicit Response(std::unique_ptr<Source> source);
  Response(Response&&) noexcept;
  Response& operator=(Response&&) noexcept;
  ~Response();

  int status() const { return source_->status(); }
  /// Header value, empty when absent (case-insensitive name).
  std::string_view header(std::string_view name) const { return source_->header(name); }
  bool body_done() const { return source_->body_done(); }

  /// The next decoded body slice (chunked framing removed), waiting at most idle_between_chunks
  /// and never past the deadline. An empty view means the body ended. The view stays valid
  /// until the next call.
  asio::awaitable<Result<std::string_view>> read_some() { return source_->read_some(); }
  /// The whole body, failing when it exceeds `limit` bytes.
  asio::awaitable<Result<std::string>> read_all(std::size_t limit);

private:
  std::unique_ptr<Source> source_;
};

/// How the router and the health checkers reach an upstream. upstream::Client is the real one;
/// tests script one (tests/fakes/scripted_transport.hpp) to run the attempt loop in simulated
/// time.
class Transport {
public:
  virtual ~Transport() = default;
  /// Sends the request and waits for the response header (connect and first-byte timeouts).
  virtual asio::awaitable<Result<Response>> send(const Endpoint& endpoint,
                                                 const providers::UpstreamRequest& request,
                                                 Deadline deadline) = 0;
  /// Opens (or reuses) a connection only: the TCP active health check.
  virtual asio::awaitable<Result<bool>> probe_connect(const Endpoint& endpoint,
                                                      Deadline deadline) = 0;
};

class Client final : public Transport {
public:
  explicit Client(asio::any_io_executor executor);
  ~Client() override;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  asio::awaitable<Result<Response>> send(const Endpoint& endpoint,
                                         const providers::UpstreamRequest& request,
                                         Deadline deadline) override;
  asio::awaitable<Result<bool>> probe_connect(const Endpoint& endpoint,
                                              Deadline deadline) override;

  std::size_t idle_connections() const;

  struct State;

private:
  std::shared_ptr<State> state_;
};

}  // namespace llmgw::upstream
