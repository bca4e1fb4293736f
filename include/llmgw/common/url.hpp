#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmgw::common {

/// An absolute http(s) URL split the way the upstream client needs it.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  std::uint16_t port = 0;
  std::string path;  // never ends with '/', may be empty ("https://x/v1/" -> "/v1")
  bool tls() const { return scheme == "https"; }
  /// "host" or "host:port" when the port is not the scheme's default (Host header, SNI is host).
  std::string authority() const;
};

/// Parses "http[s]://host[:port][/path]"; nullopt with a reason in `error` otherwise.
std::optional<Url> parse_url(std::string_view text, std::string* error = nullptr);

/// "host:port" / "[v6]:port" listener address.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view text, std::string* error = nullptr);

}  // namespace llmgw::common
