#pragma once
// Shared pieces of the fuzz targets: splitting an input the way a socket would, the provider
// configurations every adapter is exercised with, what the handler and router do with a
// validated body, and the checks ("oracles") that turn a wrong answer into a crash.
//
// A target must never leak, crash, throw or trip a sanitizer on any input. An oracle failure
// aborts with `llmgw-fuzz: <what>` on stderr, so libFuzzer records the input like any crash.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/failure.hpp"
#include "llmgw/common/result.hpp"
#include "llmgw/config/config.hpp"
#include "llmgw/providers/adapter.hpp"
#include "api/openai/request_validation.hpp"

namespace llmgw::fuzz {

/// Prints `llmgw-fuzz: <what>` (and `detail`, cut to 2 KiB) and aborts.
[[noreturn]] void fail(std::string_view what, std::string_view detail = {});

#define LLMGW_FUZZ_CHECK(cond, detail)                                      \
  do {                                                                      \
    if (!(cond)) ::llmgw::fuzz::fail("check failed: " #cond, (detail));     \
  } while (0)

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// FNV-1a of the input: derives per-input choices (split points, options) deterministically.
std::uint64_t fnv1a(std::string_view s);

// ---- Splitting ---------------------------------------------------------------------------

/// How a byte stream is cut into the pieces a reader sees. The cut points are derived from the
/// input itself, so a crash reproduces from the input file alone.
enum class Split {
  whole,     // one piece
  bytewise,  // one byte per piece (1..4 bytes above 1 KiB, to stay fast)
  random,    // 1..97 bytes, from a generator seeded with a hash of the input
  lines,     // cut between \r and \n (a CRLF split across reads) and before every \n
};
inline constexpr Split kAllSplits[] = {Split::whole, Split::bytewise, Split::random,
                                       Split::lines};
std::string_view to_string(Split s);
std::vector<std::string_view> split(std::string_view input, Split how);

// ---- JSON checks -------------------------------------------------------------------------

/// True when `text` is one JSON value (any depth up to 1024, no NUL). Duplicate keys are
/// refused unless allowed: what the gateway builds itself never has them, while an upstream
/// body the gateway relays may ("the provider's business", llmgw/providers/adapter.hpp).
bool is_json(std::string_view text, bool allow_duplicate_keys = false);
/// Every event of the SSE text `sse` has data that is `[DONE]` or JSON (duplicate keys allowed:
/// relayed or translated upstream chunks); with
/// `require_event_names`, every event also has a non-empty `event:` line. Aborts otherwise.
void check_sse_json(std::string_view sse, bool require_event_names, std::string_view who);
/// The event names (or "data" for unnamed events) of `sse`, in order.
std::vector<std::string> sse_event_names(std::string_view sse);

/// translate_response's answer: a common::Result<std::string, api::Failure> (providers::
/// Translated), whose success value must be JSON; a plain std::string (the older interface,
/// where the OpenAI relay passed any body through) is not checked.
inline void check_translated(const std::string& /*relayed*/, std::string_view /*who*/) {}
template <class E>
void check_translated(const common::Result<std::string, E>& r, std::string_view who) {
  if (r.ok() && !is_json(r.value(), /*allow_duplicate_keys=*/true)) {
    fail(std::string(who) + ": translate_response succeeded with a body that is not JSON",
         r.value());
  }
}

// ---- Providers ---------------------------------------------------------------------------

/// One configured target of one provider kind, as the loader would build it.
struct FuzzProvider {
  std::string label;  // "openai", "azure-v1", ...
  config::ProviderConfig config;
  config::TargetConfig target;
  std::shared_ptr<const providers::ProviderAdapter> adapter;
  bool translates_stream = false;  // builds its own chunks (so they must be JSON)
};

/// openai, openai_compatible, azure (deployments surface), azure (v1 surface), anthropic,
/// gemini — built once.
const std::vector<FuzzProvider>& all_providers();
/// The providers of one kind (azure has two: its two URL surfaces).
std::vector<const FuzzProvider*> providers_of(config::ProviderKind kind);

inline constexpr providers::Operation kAllOps[] = {
    providers::Operation::chat, providers::Operation::completions,
    providers::Operation::embeddings};

// ---- The request path --------------------------------------------------------------------

/// THE call of api::openai::validate_request in the fuzz targets (adapt it here when its signature
/// changes): nullopt when `body` may be routed; then `facts` holds what the handler reads.
std::optional<api::GatewayError> validate(providers::Operation op, const nlohmann::json& body,
                                          api::RequestFacts& facts);

/// The options the API handler derives from a valid body's facts (src/server/api_handler.cpp, api::Face).
providers::RequestOptions options_for(const api::RequestFacts& facts, bool anthropic_face);

/// What the router does with a routable body (validated, or decoded by the Anthropic face):
/// every adapter that supports `op` is asked unsupported(); each one that accepts renders the
/// request from its own copy of the body, and then all of them render it again one after the
/// other from ONE body, as a fail-over or a hedge does (adapters may modify the body in place).
/// Checks that every rendered body is JSON and that an adapter renders the same request
/// whether or not another adapter rendered from the body before it.
void route(providers::Operation op, const nlohmann::json& body,
           const providers::RequestOptions& options);

/// Checks one rendered upstream request: method, origin-form target without spaces or control
/// characters, headers without CR/LF/NUL, and (for a POST) a JSON body.
void check_rendered(std::string_view who, const providers::UpstreamRequest& r);

/// One provider target: translate_response for every operation the adapter supports, the
/// stream translator fed every kind of split then finished, and classify_error.
void fuzz_provider(config::ProviderKind kind, std::string_view input);

}  // namespace llmgw::fuzz
