#include "hostile.hpp"

#define ZLIB_CONST
#include <zlib.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace llmgw::sim {
namespace {

constexpr std::string_view kWrongShape = R"({"unexpected":true})";
constexpr std::size_t kWrongShapeEvents = 2;
constexpr std::string_view kDeepMember = "llmgw_sim_deep";

// One deflate stream with a gzip wrapper. Each push() returns the bytes that complete
// everything pushed so far up to the flush point, so a stream sent piece by piece decodes
// event by event (Z_SYNC_FLUSH) instead of only at the end.
class Gzip {
 public:
  Gzip() {
    // 15 + 16: the largest window, with a gzip header and trailer instead of zlib's.
    if (deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
      throw std::runtime_error("deflateInit2 failed");
    }
  }
  ~Gzip() { deflateEnd(&z_); }
  Gzip(const Gzip&) = delete;
  Gzip& operator=(const Gzip&) = delete;

  std::string push(std::string_view data, int flush) {
    std::string out;
    z_.next_in = reinterpret_cast<const Bytef*>(data.data());
    z_.avail_in = static_cast<uInt>(data.size());
    unsigned char buffer[16384];
    // A full output buffer may hide more pending output; one left partly free means the flush
    // (or, with Z_FINISH, the trailer) is complete.
    do {
      z_.next_out = buffer;
      z_.avail_out = sizeof(buffer);
      const int rc = deflate(&z_, flush);
      if (rc == Z_STREAM_ERROR) {
        throw std::runtime_error("deflate failed");
      }
      out.append(reinterpret_cast<const char*>(buffer), sizeof(buffer) - z_.avail_out);
    } while (z_.avail_out == 0);
    return out;
  }

 private:
  z_stream z_{};
};

std::string nested(std::int64_t depth) {
  const auto levels = static_cast<std::size_t>(depth);
  std::string out;
  out.reserve(2 * levels);
  out.append(levels, '[').append(levels, ']');
  return out;
}

// Adds `"llmgw_sim_deep": [[[...]]]` as the last member of the JSON object that ends at the last
// '}' of `text` (an SSE event's data, or a whole body). False when there is no object.
bool inject_deep(std::string& text, std::int64_t depth) {
  const auto close = text.rfind('}');
  if (close == std::string::npos) {
    return false;
  }
  const auto last = close == 0 ? std::string::npos : text.find_last_not_of(" \t\r\n", close - 1);
  std::string member;
  if (last != std::string::npos && text[last] != '{') {
    member.push_back(',');
  }
  member.push_back('"');
  member.append(kDeepMember).append("\":").append(nested(depth));
  // Right after the last member, ahead of any padding or pretty-printing newline.
  text.insert(last == std::string::npos ? close : last + 1, member);
  return true;
}

// `json` framed as the face frames one stream payload; `first` matters to a JSON array.
std::string frame(const Reply& reply, std::string_view json, bool first) {
  std::string event;
  if (reply.json_array) {
    event.append(first ? "[" : ",\r\n").append(json);
  } else {
    event.append(reply.event_prefix).append(json).append(reply.event_suffix);
  }
  return event;
}

// Closes an array stream (Gemini without alt=sse) so it stays valid JSON, minus what was cut.
void close_array(std::vector<std::string>& events) {
  if (events.empty()) {
    events.emplace_back("[");
  }
  events.emplace_back("]");
}

void gzip_reply(Reply& reply) {
  Gzip gzip;
  if (reply.stream) {
    for (auto& event : reply.events) {
      event = gzip.push(event, Z_SYNC_FLUSH);
    }
    reply.events.push_back(gzip.push({}, Z_FINISH));
  } else {
    reply.body = gzip.push(reply.body, Z_FINISH);
  }
  reply.headers.emplace_back("Content-Encoding", "gzip");
}

void wrong_shape(Reply& reply) {
  if (!reply.stream) {
    reply.body = std::string(kWrongShape);
    return;
  }
  std::vector<std::string> events;
  for (std::size_t i = 0; i < kWrongShapeEvents; ++i) {
    events.push_back(frame(reply, kWrongShape, i == 0));
  }
  if (reply.json_array) {
    close_array(events);
  } else if (!reply.terminator.empty()) {
    events.push_back(reply.terminator);
  }
  reply.events = std::move(events);
  reply.first_content_event = 0;
  reply.content_events = kWrongShapeEvents;
}

void truncate(Reply& reply, const FaultSpec& spec) {
  if (!reply.stream) {
    // Cut inside the JSON, but framed correctly: only the body's parser can notice.
    reply.body.resize(reply.body.size() / 2);
    return;
  }
  const auto content = std::min(static_cast<std::size_t>(spec.after_chunks), reply.content_events);
  const auto keep = std::min(reply.first_content_event + content, reply.events.size());
  if (keep == reply.events.size()) {
    return;  // nothing after the content to leave out (a face with no terminal event)
  }
  reply.events.resize(keep);
  reply.content_events = content;
  if (reply.json_array) {
    close_array(reply.events);
  }
}

void deepen(Reply& reply, const FaultSpec& spec) {
  if (!reply.stream) {
    if (!inject_deep(reply.body, spec.depth)) {
      reply.body = nested(spec.depth);
    }
    return;
  }
  if (reply.events.empty()) {
    return;
  }
  // The first content event, so a client must parse the deep value to get at the answer.
  const auto target = reply.first_content_event < reply.events.size() ? reply.first_content_event
                                                                      : std::size_t{0};
  inject_deep(reply.events[target], spec.depth);
}

}  // namespace

bool is_hostile(FaultMode mode) {
  switch (mode) {
    case FaultMode::gzip:
    case FaultMode::empty:
    case FaultMode::wrong_shape:
    case FaultMode::truncated:
    case FaultMode::deep:
      return true;
    default:
      return false;
  }
}

void make_hostile(Reply& reply, FaultMode mode, const FaultSpec& spec) {
  switch (mode) {
    case FaultMode::gzip:
      gzip_reply(reply);
      break;
    case FaultMode::empty:
      reply.body.clear();
      reply.events.clear();
      reply.first_content_event = 0;
      reply.content_events = 0;
      break;
    case FaultMode::wrong_shape:
      wrong_shape(reply);
      break;
    case FaultMode::truncated:
      truncate(reply, spec);
      break;
    case FaultMode::deep:
      deepen(reply, spec);
      break;
    default:
      break;
  }
}

}  // namespace llmgw::sim
