#pragma once
// A client request as the handlers see it: the listener copies the few headers the gateway
// reads, so handlers never include Beast.
#include <string>
#include <string_view>

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
  std::string region;  // x-llmgw-region: prefer targets whose provider has this region
  std::string user_agent;
  std::string remote;  // "ip:port" of the client
};

}  // namespace llmgw::server
