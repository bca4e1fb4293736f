// The upstream client against a loopback server: what a burst of a chunked stream becomes.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>

#include "fakes/config_builders.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::upstream {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// A server that answers one request with `response`, written at once, then waits for the
// client to close.
asio::awaitable<void> serve_once(tcp::acceptor& acceptor, std::string response) {
  auto socket = co_await acceptor.async_accept(asio::use_awaitable);
  asio::streambuf request;
  co_await asio::async_read_until(socket, request, "\r\n\r\n", asio::use_awaitable);
  co_await asio::async_write(socket, asio::buffer(response), asio::use_awaitable);
  char byte;
  boost::system::error_code ec;
  co_await socket.async_read_some(asio::buffer(&byte, 1),
                                  asio::redirect_error(asio::use_awaitable, ec));
}

// Twenty small SSE events, each its own HTTP chunk, arriving in one socket read: the client
// hands them over as one slice (the router then writes them to the client at once), not as
// twenty.
TEST(UpstreamClient, ChunksAlreadyReceivedComeAsOneSlice) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const int port = acceptor.local_endpoint().port();
  std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string events;
  for (int i = 0; i < 20; ++i) {
    const std::string ev = "data: {\"i\":" + std::to_string(i) + "}\n\n";
    char size[16];
    std::snprintf(size, sizeof size, "%zx", ev.size());
    response += std::string(size) + "\r\n" + ev + "\r\n";
    events += ev;
  }
  response += "0\r\n\r\n";
  asio::co_spawn(io, serve_once(acceptor, response), asio::detached);

  std::vector<std::string> slices;
  auto done = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Client client(io.get_executor());
        auto provider = fakes::provider("up", config::ProviderKind::openai_compatible, port);
        const auto endpoint = Endpoint::from(provider, 1);
        providers::UpstreamRequest request;
        request.target = "/v1/chat/completions";
        request.body = "{}";
        auto response_or = co_await client.send(endpoint, request,
                                                 std::chrono::steady_clock::now() + 5s);
        EXPECT_TRUE(response_or);
        if (!response_or) {
          co_return;
        }
        for (;;) {
          auto slice = co_await response_or->read_some();
          EXPECT_TRUE(slice);
          if (!slice || slice->empty()) {
            break;
          }
          slices.emplace_back(*slice);
        }
      },
      asio::use_future);
  io.run();
  done.get();
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0], events);
}

}  // namespace
}  // namespace llmgw::upstream
