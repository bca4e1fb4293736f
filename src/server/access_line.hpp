#pragma once
// One access log line (docs/operations.md#logs), formatted straight into the log's buffer: no
// JSON document is built on the request path. A value the request did not have is null, never
// an empty string, so a field means the same in every line.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "llmgw/router/router.hpp"

namespace llmgw::server {

struct AccessEntry {
  std::chrono::system_clock::time_point received{};  // the line's ts
  std::string_view request_id;
  std::string_view method;
  std::string_view route;       // the route pattern, or "unmatched"
  std::string_view path;        // only for "unmatched": the path asked for (cut)
  std::string_view user_agent;  // cut to kMaxUserAgent bytes
  std::string_view remote;
  std::string_view key;  // the gateway key's name
  std::optional<std::string_view> model;  // as the client asked; none when it named none
  std::uint64_t bytes_in = 0;
  std::optional<std::uint64_t> bytes_out;  // none: answered from the head, by the session
  const router::CallOutcome* outcome = nullptr;  // required
  double total_seconds = 0;
  std::string_view cache = "none";
  std::string_view session;
  bool stream = false;
  std::string_view prompt;  // a rendered prompt call
  unsigned prompt_version = 0;
};

inline constexpr std::size_t kMaxUserAgent = 256;
inline constexpr std::size_t kMaxLoggedAttempts = 16;

void format_access_line(const AccessEntry& e, std::string& out);

}  // namespace llmgw::server
