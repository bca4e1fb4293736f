#pragma once
// Incremental Server-Sent Events decoder: accepts the byte stream split anywhere (even inside
// a CRLF) and yields complete events. Follows the WHATWG rules the SDKs follow: lines end in
// \n, \r\n or \r; a blank line ends an event; "data:" lines join with \n; ":" lines are comments.
#include <cstddef>
#include <string>
#include <string_view>

namespace llmgw::api {

struct SseEvent {
  std::string event;  // empty when no event: line
  std::string data;
  std::string id;
  bool has_data = false;
};

class SseDecoder {
public:
  explicit SseDecoder(std::size_t max_event_bytes = 16u << 20) : max_event_bytes_(max_event_bytes) {}

  /// Feeds bytes; calls on_event(const SseEvent&) for every completed event. Returns false when
  /// an event grew past max_event_bytes (the stream should be treated as broken).
  template <class F>
  bool feed(std::string_view bytes, F&& on_event) {
    std::size_t i = 0;
    while (i < bytes.size()) {
      if (pending_cr_) {
        pending_cr_ = false;
        if (bytes[i] == '\n') {  // second half of a CRLF split across feeds
          ++i;
          continue;
        }
      }
      auto eol = bytes.find_first_of("\r\n", i);
      if (eol == std::string_view::npos) {
        line_.append(bytes.substr(i));
        return line_.size() + current_.data.size() <= max_event_bytes_;
      }
      line_.append(bytes.substr(i, eol - i));
      pending_cr_ = bytes[eol] == '\r';
      i = eol + 1;
      if (line_.size() + current_.data.size() > max_event_bytes_) {
        return false;
      }
      if (end_line()) {
        on_event(static_cast<const SseEvent&>(current_));
        reset_event();
      }
    }
    return true;
  }

  /// True when a partial line or event is buffered (stream ended mid-event).
  bool has_partial() const { return !line_.empty() || current_.has_data; }

private:
  bool end_line();  // processes line_; true when the line was blank and an event is complete
  void reset_event();

  std::size_t max_event_bytes_;
  std::string line_;
  SseEvent current_;
  bool pending_cr_ = false;
};

}  // namespace llmgw::api
