#pragma once
// Between the router and the HTTP server: the router writes responses through this interface
// and never touches a socket, so the attempt loop is testable with a recording sink.
#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "llmgw/providers/adapter.hpp"

namespace llmgw::router {

class ResponseSink {
public:
  virtual ~ResponseSink() = default;
  /// A complete response. Returns false when the client is gone.
  virtual boost::asio::awaitable<bool> send(int status, std::vector<providers::Header> headers,
                                            std::string body) = 0;
  /// Starts a streamed response (chunked); the body follows through write().
  virtual boost::asio::awaitable<bool> start_stream(int status,
                                                    std::vector<providers::Header> headers) = 0;
  virtual boost::asio::awaitable<bool> write(std::string_view bytes) = 0;
  virtual boost::asio::awaitable<bool> end_stream() = 0;
  /// True once any status line went out (a second response is then impossible).
  virtual bool started() const = 0;
};

}  // namespace llmgw::router
