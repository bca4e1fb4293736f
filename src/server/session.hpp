#pragma once
// One client connection: the HTTP/1.1 keep-alive loop over plain TCP or TLS. Beast lives here,
// in listener.cpp (accept loops) and in upstream/; handlers see HttpRequest and ResponseSink.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string_view>

#include "llmgw/server/server.hpp"

namespace llmgw::server {

class SessionRegistry;

/// What the worker may do to a session from outside it at the drain timeout: end its request
/// with server_shutting_down, or close it if it waits between requests. Lives in the session's
/// coroutine frame; touched only on the session's own thread.
class SessionControl {
public:
  SessionControl(boost::asio::any_io_executor executor, SessionRegistry* registry);
  ~SessionControl();
  SessionControl(const SessionControl&) = delete;
  SessionControl& operator=(const SessionControl&) = delete;

  /// Ends the request in progress (its sink gets the shutdown answer), or closes the idle
  /// connection.
  void abort();

  bool aborted() const { return aborted_; }
  /// Completes when abort() is called (or when the wait is cancelled).
  boost::asio::awaitable<void> wait_for_abort();

  void set_idle(bool idle) { idle_ = idle; }
  /// Called to interrupt the idle read (closes the socket's pending operations).
  void set_idle_canceller(std::function<void()> cancel) { cancel_idle_ = std::move(cancel); }

  SessionControl* prev = nullptr;
  SessionControl* next = nullptr;

private:
  boost::asio::steady_timer abort_timer_;
  SessionRegistry* registry_;
  std::function<void()> cancel_idle_;
  bool aborted_ = false;
  bool idle_ = false;
};

/// The sessions of one worker (or of the admin listener), for drain. Single-threaded: used only
/// on the thread that runs those sessions.
class SessionRegistry {
public:
  void add(SessionControl& s);
  void remove(SessionControl& s);
  void abort_all();
  std::size_t size() const { return size_; }

private:
  SessionControl* head_ = nullptr;
  std::size_t size_ = 0;
};

struct SessionContext {
  GatewayState& state;
  Handler& handler;
  router::Router* router;       // null on the admin listener
  SessionRegistry* registry;    // null when the sessions need no drain control
  // The config as this session's thread sees it (one reader per thread, never shared).
  common::SnapshotReader<const router::RouteTable>* table;
};

boost::asio::awaitable<void> run_plain_session(boost::asio::ip::tcp::socket socket,
                                               SessionContext context);
boost::asio::awaitable<void> run_tls_session(boost::asio::ip::tcp::socket socket,
                                             std::shared_ptr<boost::asio::ssl::context> tls,
                                             SessionContext context);

}  // namespace llmgw::server
