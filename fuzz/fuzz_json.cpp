// fuzz_json: a client request body, from the bytes on the wire to the requests sent upstream.
//   api::parse_json (depth-bounded, no duplicate keys, no NUL), cross-checked against
//   api::parse_ordered_json, api::scan_json and nlohmann's own parser; then, for an object,
//   api::openai::validate_request for every operation and, for each routable one, what the router
//   does with it: every adapter's unsupported() and build_request() (support.cpp: route()).
#include <cstddef>
#include <cstdint>

#include "llmgw/api/json.hpp"
#include "support.hpp"

using llmgw::fuzz::fail;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = llmgw::fuzz::as_text(data, size);

  auto parsed = llmgw::api::parse_json(text);
  {
    // The ordered flavour and the tree-less scan must agree with the parser on what is valid.
    auto ordered = llmgw::api::parse_ordered_json(text);
    if (ordered.ok() != parsed.ok()) {
      fail("parse_json and parse_ordered_json disagree on validity",
           parsed.ok() ? ordered.error().message : parsed.error().message);
    }
    if (!parsed.ok() && ordered.error().kind != parsed.error().kind) {
      fail("parse_json and parse_ordered_json report different error kinds");
    }
    auto shape = llmgw::api::scan_json(text, llmgw::api::kDefaultMaxJsonDepth,
                                       {"model", "choices", "usage", "error"});
    // scan_json does not look for duplicate keys; anything else must agree.
    bool dup = !parsed.ok() && parsed.error().kind == llmgw::api::JsonError::Kind::duplicate_key;
    if (!dup && shape.valid != parsed.ok()) {
      fail("scan_json and parse_json disagree on validity",
           shape.valid ? parsed.error().message : shape.problem);
    }
    if (parsed.ok()) {
      const json& j = parsed.value();
      if (shape.object != j.is_object()) {
        fail("scan_json and parse_json disagree on whether the value is an object");
      }
      const char* keys[] = {"model", "choices", "usage", "error"};
      for (std::size_t i = 0; i < 4 && j.is_object(); ++i) {
        auto it = j.find(keys[i]);
        auto want = it == j.end() ? json::value_t::discarded : it->type();
        if (shape.type(i) != want) {
          fail(std::string("scan_json reports the wrong type for the top-level key ") + keys[i]);
        }
      }
    } else {
      auto msg = parsed.error().message;
      if (msg.empty()) {
        fail("parse_json failed without a message");
      }
      auto shortened = llmgw::api::shorten_path(parsed.error().path, 16);
      (void)shortened;
    }
  }
  {
    // Upstream JSON: the same bound, duplicate keys allowed.
    auto upstream = llmgw::providers::parse_upstream_json(text);
    auto lenient = llmgw::api::parse_json(text, {llmgw::api::kDefaultMaxJsonDepth, false});
    if (upstream.is_discarded() == lenient.ok()) {
      fail("parse_upstream_json and parse_json (duplicates allowed) disagree on validity");
    }
    if (parsed.ok() && upstream != parsed.value()) {
      fail("parse_upstream_json reads a body differently from parse_json");
    }
  }
  if (!parsed.ok()) {
    return 0;
  }
  json& body = parsed.value();
  {
    // What parse_json accepts, nlohmann accepts too, with the same value; and it can be
    // written back (dump() recurses, which the depth bound makes safe).
    auto reference = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (reference.is_discarded() || reference != body) {
      fail("parse_json accepted a text nlohmann rejects or reads differently", text);
    }
    // (Compared as text: nlohmann reads 1e400 as infinity and writes it as null.)
    auto dumped = body.dump();
    auto again = llmgw::api::parse_json(dumped);
    if (!again.ok() || again.value().dump() != dumped) {
      fail("parse_json does not read back its own dump()", dumped);
    }
  }
  if (!body.is_object()) {
    return 0;
  }
  for (auto op : llmgw::fuzz::kAllOps) {
    llmgw::api::RequestFacts facts;
    if (auto error = llmgw::fuzz::validate(op, body, facts)) {
      if (error->status != 400 || error->message.empty()) {
        fail("validate_request returned an error that is not a 400 with a message");
      }
      continue;
    }
    llmgw::fuzz::route(op, body, llmgw::fuzz::options_for(facts, /*anthropic_face=*/false));
  }
  return 0;
}
