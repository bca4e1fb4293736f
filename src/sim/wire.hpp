#pragma once
// The seam between the HTTP server and the provider wire formats. A WireFormat turns a request
// on the paths it owns into a Reply (a whole body, or a list of SSE events the server paces and
// truncates according to the active fault). One WireFormat per face: OpenAI (openai.cpp),
// Anthropic Messages (anthropic.cpp), Gemini (gemini.cpp); the server picks one per request.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmgw/api/json.hpp"

namespace llmgw::sim {

/// Every JSON text the simulator did not write (request and control bodies, --fault, tool-call
/// arguments) is parsed with this bound: nlohmann's dump, copy and walks recurse, so one
/// 100k-deep body would otherwise overflow the stack of whichever code touches it next.
inline constexpr api::JsonLimits kUntrustedJson{128};

inline common::Result<nlohmann::ordered_json, api::JsonError> parse_untrusted(
    std::string_view text) {
  return api::parse_ordered_json(text, kUntrustedJson);
}

/// How a well-formed 200 answer is wrong on purpose (fault modes), for the gateway's semantic
/// health: its probes and live-traffic signals must tell these from right answers.
enum class Wrong {
  none,
  off_by_one,  // garbage: arithmetic off by one, anything else "lorem ipsum dolor"
  empty_text,  // empty_answer: a normal answer whose content is ""
  repetition,  // repetition: a runaway loop of one phrase
  refusal,     // refusal: "I'm sorry, but I can't help with that."
  bad_json,    // bad_json: content that is not JSON (cut short), whatever was asked
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct ApiRequest {
  std::string method;
  std::string path;  // without the query string
  std::string query;
  HeaderList headers;  // names lowercased
  std::string body;

  /// First value of a header (name must be lowercase), empty when absent.
  std::string_view header(std::string_view lower_name) const;
};

struct Reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  HeaderList headers;
  std::string body;
  bool stream = false;
  // Complete SSE events ("data: ...\n\n"). Events [first_content_event, first_content_event +
  // content_events) carry model output; die_after counts only those.
  std::vector<std::string> events;  // or any byte pieces (Gemini's JSON-array stream)
  std::size_t first_content_event = 0;
  std::size_t content_events = 0;
  // How the hostile fault modes (hostile.cpp) rebuild a stream without knowing the face: one
  // payload travels as event_prefix + json + event_suffix, and `terminator` is the event that
  // ends a complete stream (empty: the stream just stops, as Gemini's does). A Gemini stream
  // without alt=sse is one JSON array instead (json_array): elements joined by ",\r\n", "]".
  std::string event_prefix = "data: ";
  std::string event_suffix = "\n\n";
  std::string terminator;
  bool json_array = false;
};

struct SimInfo {
  std::string name;
  std::vector<std::string> models;
  std::string fingerprint;  // system_fingerprint, stable per process
};

/// Error details from a fault; empty fields get the format's defaults for the status. The retry
/// hints are rendered the way the provider does (headers, or Gemini's RetryInfo detail).
struct ErrorFields {
  std::string type;
  std::string code;
  std::string message;
  std::string retry_after;     // seconds
  std::string retry_after_ms;  // milliseconds
};

class WireFormat {
 public:
  virtual ~WireFormat() = default;
  /// Whether `path` is one of this format's model paths (faults and stats apply to these).
  virtual bool owns(std::string_view path) const = 0;
  /// Whether this format answers `request`; a shared path (GET /v1/models) may be told apart
  /// by headers.
  virtual bool claims(const ApiRequest& request) const { return owns(request.path); }
  virtual bool authorized(const ApiRequest& request, std::string_view api_key) const = 0;
  virtual Reply unauthorized(const ApiRequest& request) const = 0;
  virtual Reply not_found(const ApiRequest& request) const = 0;
  virtual Reply error(unsigned status, const ErrorFields& fields) const = 0;
  virtual Reply payload_too_large() const = 0;
  virtual Reply handle(const ApiRequest& request, Wrong wrong) const = 0;
};

std::unique_ptr<WireFormat> make_openai_format(const SimInfo& info);
std::unique_ptr<WireFormat> make_anthropic_format(const SimInfo& info);
std::unique_ptr<WireFormat> make_gemini_format(const SimInfo& info);

/// Appends `text` as a JSON string literal (quotes included); the streaming hot path builds
/// chunks by hand instead of through a DOM.
void append_json_string(std::string& out, std::string_view text);

}  // namespace llmgw::sim
