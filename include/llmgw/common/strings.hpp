#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace llmgw::common {

bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view s);
std::string_view trim(std::string_view s);
/// Lowercase hex of SHA-256 (OpenSSL).
std::string sha256_hex(std::string_view data);
/// Compares in time independent of where the inputs differ (key checks).
bool constant_time_equals(std::string_view a, std::string_view b);
/// 32 random lowercase hex chars (request ids, trace ids), from a thread-local engine.
std::string random_hex(std::size_t chars);
std::string base64_encode(std::string_view bytes);

}  // namespace llmgw::common
