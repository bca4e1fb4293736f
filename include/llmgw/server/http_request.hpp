#pragma once
// A client request as the handlers see it: the listener copies the few headers the gateway
// reads, so handlers never include Beast.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmgw::router {
class RouteTable;
}

namespace llmgw::server {

struct HttpRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // without '?'
  std::string body;
  bool keep_alive = true;
  // Headers the gateway understands (SPEC §2); empty when absent.
  std::string authorization;
  std::string x_api_key;
  std::string request_id;
  std::string traceparent;
  std::string tracestate;
  std::string session_id;
  std::string route_hint;
  std::string user;    // x-llmgw-user: a profile in sessions.profiles
  std::string region;  // x-llmgw-region: prefer targets whose provider has this region
  // Other x-llmgw-* headers (names lowercase), for models[].select; at most kMaxSelectHeaders.
  std::vector<std::pair<std::string, std::string>> select_headers;
  static constexpr std::size_t kMaxSelectHeaders = 16;
  std::string user_agent;
  std::string accept;  // a managed prompt call's answer shape (repeated fields joined)
  std::string cache_control;  // the response cache's no-cache / no-store (fields joined)
  std::string remote;  // "ip:port" of the client
  // The config snapshot this request runs on, taken once when its first byte arrived: its
  // limits, keys, routes and every later decision come from the same config, reload or not.
  std::shared_ptr<const router::RouteTable> table;
};

}  // namespace llmgw::server
