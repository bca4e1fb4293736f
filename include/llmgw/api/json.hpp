#pragma once
// The one way the gateway parses JSON it did not write: client bodies, upstream answers, stream
// chunks, tool-call arguments. nlohmann's own parser is iterative, but dump(), copies and every
// walk of the result recurse, so a 100k-deep body that parses fine kills the process later.
// Here the nesting depth is bounded at parse time, so no later walk can go deeper than the limit.
// Also rejected: duplicate object keys (two readers of one body must not see different values)
// and NUL bytes (nlohmann stops at one and ignores whatever follows).
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "llmgw/api/errors.hpp"
#include "llmgw/common/result.hpp"

namespace llmgw::api {

inline constexpr std::size_t kDefaultMaxJsonDepth = 128;

struct JsonLimits {
  std::size_t max_depth = kDefaultMaxJsonDepth;  // containers nested inside each other
  bool reject_duplicate_keys = true;
};

struct JsonError {
  enum class Kind { syntax, too_deep, duplicate_key, nul_byte };
  Kind kind = Kind::syntax;
  std::string message;  // safe to show the client; names the byte offset or path
  std::string path;     // JSON path at fault ("messages[0].content"), empty for the root
};

common::Result<nlohmann::json, JsonError> parse_json(std::string_view text,
                                                     const JsonLimits& limits = {});
common::Result<nlohmann::ordered_json, JsonError> parse_ordered_json(
    std::string_view text, const JsonLimits& limits = {});

/// A JSON path for messages: at most `max_chars` (head and tail kept around "…"), so a path
/// through a hostile 128-level body stays readable.
std::string shorten_path(std::string_view path, std::size_t max_chars = 200);

/// The 400 for a body that is not acceptable JSON, naming where it went wrong.
GatewayError json_error(const JsonError& e);

/// Checks that `text` is one JSON value within the depth limit without building it, and
/// reports the type of selected top-level members: the cheap shape check for upstream answers
/// the gateway relays without parsing (OpenAI to OpenAI).
struct JsonShape {
  bool valid = false;         // well-formed, within the depth limit, no NUL byte
  bool object = false;        // the top-level value is an object
  std::string problem;        // why not valid
  nlohmann::json::value_t types[4] = {nlohmann::json::value_t::discarded,
                                      nlohmann::json::value_t::discarded,
                                      nlohmann::json::value_t::discarded,
                                      nlohmann::json::value_t::discarded};
  /// The type of `keys[i]` at the top level; discarded when absent.
  nlohmann::json::value_t type(std::size_t i) const { return types[i]; }
};
/// `keys`: up to four top-level member names whose types to report.
JsonShape scan_json(std::string_view text, std::size_t max_depth,
                    std::initializer_list<std::string_view> keys = {});

/// Whether `text` nests containers deeper than `max_depth`, by a byte scan that skips strings
/// (no validation, no allocation): the guard for JSON the gateway relays without parsing.
bool nesting_exceeds(std::string_view text, std::size_t max_depth);

}  // namespace llmgw::api
