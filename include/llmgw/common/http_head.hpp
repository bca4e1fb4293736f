#pragma once
// Writes HTTP/1.1 message heads as plain text, so a message goes out as one gather write of
// {head, body}: no Beast serializer (its buffer-sequence machinery cost more per answer than
// all of request validation) and no copy of the body into a message object.
//
// The names and values come from the gateway's own code and from upstream answers Beast has
// already parsed (which rejects CR, LF and NUL in fields), never straight from a client.
#include <cstddef>
#include <string>
#include <string_view>

#include "llmgw/common/strings.hpp"

namespace llmgw::common {

/// "HTTP/1.1 503 Service Unavailable\r\n"
void append_status_line(std::string& out, int status);
/// "POST /v1/chat/completions HTTP/1.1\r\n"
void append_request_line(std::string& out, std::string_view method, std::string_view target);
/// "Name: value\r\n"
void append_field(std::string& out, std::string_view name, std::string_view value);
/// The standard reason phrase, or "Unknown" for a code without one.
std::string_view reason_phrase(int status);

/// True for the fields the head writer owns (framing and connection management): a caller's
/// copy of them is dropped, the writer sets its own.
bool is_framing_field(std::string_view name);

/// Appends `fields` (a range of objects with `name` and `value`) with Beast's `set()`
/// semantics: a name that occurs twice keeps its last value; framing fields are skipped.
template <class Fields>
void append_fields(std::string& out, const Fields& fields) {
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    if (is_framing_field(it->name)) {
      continue;
    }
    bool later = false;
    for (auto next = std::next(it); next != fields.end() && !later; ++next) {
      later = iequals(next->name, it->name);
    }
    if (!later) {
      append_field(out, it->name, it->value);
    }
  }
}

}  // namespace llmgw::common
