// fuzz_http_request: the front end's HTTP/1.1 request parser (src/server/request_parser.hpp),
// fed the input as the session feeds it: in slices whose sizes come from the input's hash,
// unconsumed bytes kept at the front, pipelined requests parsed one after another. Oracles:
// never consume more than offered; a failure is 400, 413 or 431; a complete request has a path
// starting with '/' (or "*"), a body no larger than the limit, and no CR/LF in the headers the
// gateway copies; the same bytes fed whole and sliced end the same way.
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "server/request_parser.hpp"
#include "support.hpp"

namespace {

using llmgw::server::ParseLimits;
using llmgw::server::RequestParser;
using Progress = RequestParser::Progress;

struct Outcome {
  std::vector<int> results;  // per request: 0 = complete, else the error status; -1 = ran out
};

bool clean(const std::string& header) {
  return header.find_first_of("\r\n") == std::string::npos;
}

Outcome run(std::string_view input, std::size_t step, const ParseLimits& limits) {
  Outcome out;
  std::string buffer;
  std::size_t offset = 0;
  for (int request = 0; request < 8; ++request) {
    RequestParser parser(limits);
    auto progress = Progress::need_more;
    for (;;) {
      std::size_t used = 0;
      progress = parser.feed(buffer, used);
      if (used > buffer.size()) {
        llmgw::fuzz::fail("the parser consumed more bytes than it was given");
      }
      buffer.erase(0, used);
      if (progress == Progress::header_done) {
        continue;
      }
      if (progress == Progress::need_more && offset >= input.size()) {
        // All input offered and the parser wants more: a second call with nothing new must not
        // make progress (else the session, which reads more instead, would stall). It may fail:
        // Beast charges a chunk's size to the body limit each time it re-reads a chunk line
        // whose quoted extension runs past the line end, so such a request ends refused (413,
        // or the read timeout) however its bytes arrive, never accepted.
        std::size_t again = 0;
        auto second = parser.feed(buffer, again);
        if ((second != Progress::need_more && second != Progress::failed) || again != 0) {
          llmgw::fuzz::fail("feed() asked for more bytes while it still had parseable ones: "
                            "step " + std::to_string(step) + ", request " +
                            std::to_string(request) + ", " + std::to_string(buffer.size()) +
                            " bytes buffered, then progress " +
                            std::to_string(static_cast<int>(second)) + " using " +
                            std::to_string(again) + " (" + parser.error().message + ")");
        }
      }
      if (progress != Progress::need_more || offset >= input.size()) {
        break;
      }
      auto n = std::min(step, input.size() - offset);
      buffer.append(input.substr(offset, n));
      offset += n;
    }
    if (progress == Progress::failed) {
      int status = parser.error().status;
      if (status != 400 && status != 413 && status != 431) {
        llmgw::fuzz::fail("unexpected framing status " + std::to_string(status));
      }
      out.results.push_back(status);
      return out;  // the session closes the connection
    }
    if (progress != Progress::complete) {
      out.results.push_back(-1);
      return out;
    }
    const auto& req = parser.request();
    if (req.path != "*" && (req.path.empty() || req.path.front() != '/')) {
      llmgw::fuzz::fail("a complete request with a path that is not a path: " + req.path);
    }
    if (req.body.size() > limits.max_body) {
      llmgw::fuzz::fail("a body over the limit was accepted");
    }
    for (const auto* h : {&req.authorization, &req.x_api_key, &req.request_id, &req.traceparent,
                          &req.tracestate, &req.session_id, &req.route_hint, &req.region,
                          &req.user_agent}) {
      if (!clean(*h)) {
        llmgw::fuzz::fail("a header value with CR or LF reached the handler");
      }
    }
    out.results.push_back(0);
    if (!req.keep_alive) {
      return out;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto input = llmgw::fuzz::as_text(data, size);
  // Small limits so the fuzzer reaches them; the first byte varies them a little.
  ParseLimits limits;
  limits.max_header = 1024 + (size > 0 ? data[0] % 4 : 0) * 256;
  limits.max_body = 2048;
  auto whole = run(input, input.size() + 1, limits);
  auto step = 1 + llmgw::fuzz::fnv1a(input) % 13;
  auto sliced = run(input, step, limits);
  // Beast checks the request line and fields as soon as it sees them only when they arrive in
  // the first read; in slices it waits for the end of the header. So malformed input may be
  // refused for one reason at once and for another (431, or the session's read timeout) in
  // slices. What must match: every request parsed before it, and that it was not accepted.
  auto& a = whole.results;
  auto& b = sliced.results;
  bool same = a == b;
  if (!same && a.size() == b.size() && !a.empty() &&
      std::equal(a.begin(), a.end() - 1, b.begin())) {
    same = a.back() != 0 && b.back() != 0;
  }
  if (!same) {
    auto show = [](const std::vector<int>& r) {
      std::string out;
      for (int x : r) {
        out += std::to_string(x) + " ";
      }
      return out;
    };
    llmgw::fuzz::fail("the same bytes parse differently when they arrive in slices of " +
                          std::to_string(step),
                      "whole: " + show(a) + "\nsliced: " + show(b));
  }
  return 0;
}
