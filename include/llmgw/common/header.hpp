#pragma once
// One HTTP header field as the gateway's own code builds it (client answers, upstream requests).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmgw::common {

struct Header {
  // A constructor, not aggregate init: g++ 12 miscompiles aggregates built from string
  // literals inside coroutines ("array used as initializer").
  Header(std::string n, std::string v) : name(std::move(n)), value(std::move(v)) {}
  std::string name;
  std::string value;
};

/// make_headers("content-type", "application/json", "x-request-id", id): name/value pairs.
/// Coroutines must build header lists through this (g++ 12 miscompiles initializer lists
/// inside coroutine bodies).
template <class... Args>
std::vector<Header> make_headers(Args&&... kv) {
  static_assert(sizeof...(kv) % 2 == 0, "name/value pairs");
  std::string flat[] = {std::string(std::forward<Args>(kv))...};
  std::vector<Header> out;
  out.reserve(sizeof...(kv) / 2);
  for (std::size_t i = 0; i + 1 < sizeof...(kv); i += 2) {
    out.emplace_back(std::move(flat[i]), std::move(flat[i + 1]));
  }
  return out;
}

/// The value of the first header named `name` (any case), empty when there is none.
std::string header_value(const std::vector<Header>& headers, std::string_view name);

/// Gives the header named `name` (any case) the value `value`, adding it when absent.
void set_header(std::vector<Header>& headers, std::string_view name, std::string value);

}  // namespace llmgw::common
