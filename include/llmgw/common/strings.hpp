#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace llmgw::common {

bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view s);
std::string_view trim(std::string_view s);
/// The value of one hex digit (either case), -1 for any other character.
int hex_value(char c);

/// Lowercase hex of SHA-256 (OpenSSL).
std::string sha256_hex(std::string_view data);
/// Lowercase hex of SHA-1: only where a protocol names things by it (Redis EVALSHA).
std::string sha1_hex(std::string_view data);
/// Compares in time independent of where the inputs differ (key checks).
bool constant_time_equals(std::string_view a, std::string_view b);
/// 32 random lowercase hex chars (request ids, trace ids), from a thread-local engine.
std::string random_hex(std::size_t chars);
std::string base64_encode(std::string_view bytes);
/// RFC 3986 unreserved characters pass, everything else is %XX: a path segment taken from
/// configuration can never add a '/', '?', '#', space or line break to a request target.
std::string percent_encode(std::string_view text);
/// Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view text);
/// Any byte below 0x20 or 0x7f: such a value must never reach an HTTP header or request line.
bool has_control_chars(std::string_view text);

}  // namespace llmgw::common
