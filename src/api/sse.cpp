#include "llmgw/api/sse.hpp"

namespace llmgw::api {

bool SseDecoder::end_line() {
  if (line_.empty()) {
    // Blank line: dispatch only if the event carried data (WHATWG: no data, no event).
    bool complete = current_.has_data;
    if (!complete) {
      reset_event();
    }
    return complete;
  }
  std::string_view line(line_);
  if (line.front() == ':') {  // comment / keep-alive
    line_.clear();
    return false;
  }
  auto colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
  }
  if (field == "data") {
    if (current_.has_data) {
      current_.data.push_back('\n');
    }
    current_.data.append(value);
    current_.has_data = true;
  } else if (field == "event") {
    current_.event.assign(value);
  } else if (field == "id") {
    current_.id.assign(value);
  }  // "retry" and unknown fields are ignored, as the spec says
  line_.clear();
  return false;
}

void SseDecoder::reset_event() {
  current_.event.clear();
  current_.data.clear();
  current_.id.clear();
  current_.has_data = false;
}

}  // namespace llmgw::api
