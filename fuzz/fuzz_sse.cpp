// fuzz_sse: api::SseDecoder on an upstream body cut into pieces the way reads cut it (support.cpp:
// split(); the cut points come from the input). Every split must decode to the same events and
// leave the same partial state as the whole body; a decoder with a small event limit must stop
// cleanly.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "llmgw/api/sse.hpp"
#include "support.hpp"

namespace {

struct Decoded {
  std::vector<llmgw::api::SseEvent> events;
  bool ok = true;
  bool partial = false;
};

Decoded decode(std::string_view input, llmgw::fuzz::Split how, std::size_t max_event_bytes) {
  Decoded d;
  llmgw::api::SseDecoder decoder(max_event_bytes);
  for (auto piece : llmgw::fuzz::split(input, how)) {
    bool ok = decoder.feed(piece, [&](const llmgw::api::SseEvent& e) {
      if (!e.has_data) {
        llmgw::fuzz::fail("an event without data was dispatched");
      }
      if (e.data.size() > max_event_bytes) {
        llmgw::fuzz::fail("an event larger than max_event_bytes was dispatched");
      }
      d.events.push_back(e);
    });
    if (!ok) {
      d.ok = false;  // callers stop feeding a broken stream
      break;
    }
  }
  d.partial = decoder.has_partial();
  return d;
}

std::string describe(const Decoded& d) {
  std::string s = "ok=" + std::to_string(d.ok) + " partial=" + std::to_string(d.partial) +
                  " events=" + std::to_string(d.events.size()) + "\n";
  for (const auto& e : d.events) {
    s += "[event=" + e.event + " id=" + e.id + " data=" + e.data + "]\n";
  }
  return s;
}

bool same(const Decoded& a, const Decoded& b) {
  if (a.ok != b.ok || a.partial != b.partial || a.events.size() != b.events.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    const auto& x = a.events[i];
    const auto& y = b.events[i];
    if (x.event != y.event || x.data != y.data || x.id != y.id || x.has_data != y.has_data) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using llmgw::fuzz::Split;
  const std::string_view input = llmgw::fuzz::as_text(data, size);

  // The default limit (16 MiB) is far above any input: every split must agree exactly.
  const Decoded whole = decode(input, Split::whole, 16u << 20);
  for (Split how : llmgw::fuzz::kAllSplits) {
    if (how == Split::whole) {
      continue;
    }
    Decoded d = decode(input, how, 16u << 20);
    if (!same(whole, d)) {
      llmgw::fuzz::fail("the " + std::string(llmgw::fuzz::to_string(how)) +
                            " split decodes differently from the whole input",
                        "whole: " + describe(whole) + "split: " + describe(d));
    }
  }
  // A small limit: oversize events must be refused, never dispatched (checked in decode()).
  for (Split how : {Split::whole, Split::random}) {
    Decoded d = decode(input, how, 64);
    (void)d;
  }
  return 0;
}
