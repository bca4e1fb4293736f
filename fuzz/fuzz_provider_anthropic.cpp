// fuzz_provider_anthropic: the anthropic adapter's answers. The input is an upstream body: a complete 2xx
// answer for translate_response (every operation the adapter supports), the same bytes as a
// stream for make_stream_translator (whole, byte by byte, random and line-aligned splits, then
// finish(); the outcome must not depend on the split), and an error body for classify_error.
// See support.cpp: fuzz_provider().
#include <cstddef>
#include <cstdint>

#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  llmgw::fuzz::fuzz_provider(llmgw::config::ProviderKind::anthropic, llmgw::fuzz::as_text(data, size));
  return 0;
}
