#include "llmgw/common/url.hpp"

#include <charconv>

namespace llmgw::common {
namespace {

bool fail(std::string* error, const char* why) {
  if (error) {
    *error = why;
  }
  return false;
}

bool parse_port(std::string_view s, std::uint16_t& out) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v > 65535) {
    return false;
  }
  out = static_cast<std::uint16_t>(v);
  return true;
}

// Splits "host[:port]" / "[v6][:port]".
bool split_authority(std::string_view auth, std::string& host, std::optional<std::uint16_t>& port,
                     std::string* error) {
  std::string_view port_part;
  if (!auth.empty() && auth.front() == '[') {
    auto close = auth.find(']');
    if (close == std::string_view::npos) {
      return fail(error, "unterminated IPv6 address");
    }
    host = std::string(auth.substr(1, close - 1));
    auto rest = auth.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return fail(error, "junk after IPv6 address");
      }
      port_part = rest.substr(1);
    }
  } else {
    auto colon = auth.rfind(':');
    if (colon != std::string_view::npos) {
      host = std::string(auth.substr(0, colon));
      port_part = auth.substr(colon + 1);
    } else {
      host = std::string(auth);
    }
  }
  if (host.empty()) {
    return fail(error, "missing host");
  }
  if (!port_part.empty() || (auth.size() && auth.back() == ':')) {
    std::uint16_t p = 0;
    if (!parse_port(port_part, p)) {
      return fail(error, "invalid port");
    }
    port = p;
  }
  return true;
}

}  // namespace

std::string Url::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if ((tls() && port == 443) || (!tls() && port == 80)) {
    return h;
  }
  return h + ":" + std::to_string(port);
}

std::optional<Url> parse_url(std::string_view text, std::string* error) {
  Url url;
  // The URL becomes part of request lines and Host headers: no whitespace or control bytes.
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) {
      fail(error, "spaces and control characters are not allowed");
      return std::nullopt;
    }
  }
  auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    fail(error, "expected http:// or https:// URL");
    return std::nullopt;
  }
  url.scheme = std::string(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") {
    fail(error, "scheme must be http or https");
    return std::nullopt;
  }
  auto rest = text.substr(sep + 3);
  auto slash = rest.find_first_of("/?#");
  auto auth = rest.substr(0, slash);
  std::optional<std::uint16_t> port;
  if (!split_authority(auth, url.host, port, error)) {
    return std::nullopt;
  }
  url.port = port.value_or(url.tls() ? 443 : 80);
  if (slash != std::string_view::npos) {
    if (rest[slash] != '/' || rest.find_first_of("?#", slash) != std::string_view::npos) {
      fail(error, "query and fragment are not allowed in a base URL");
      return std::nullopt;
    }
    url.path = std::string(rest.substr(slash));
    while (!url.path.empty() && url.path.back() == '/') {
      url.path.pop_back();
    }
  }
  return url;
}

std::optional<HostPort> parse_host_port(std::string_view text, std::string* error) {
  HostPort hp;
  std::optional<std::uint16_t> port;
  if (!split_authority(text, hp.host, port, error)) {
    return std::nullopt;
  }
  if (!port) {
    fail(error, "expected host:port");
    return std::nullopt;
  }
  hp.port = *port;
  return hp;
}

}  // namespace llmgw::common
