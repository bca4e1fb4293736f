#include "support.hpp"

#include <cstdio>
#include <cstdlib>

#include "llmgw/api/json.hpp"
#include "llmgw/api/sse.hpp"
#include "llmgw/common/url.hpp"

namespace llmgw::fuzz {

using nlohmann::json;
using providers::Operation;

void fail(std::string_view what, std::string_view detail) {
  constexpr std::size_t kMaxDetail = 2048;
  std::fprintf(stderr, "\nllmgw-fuzz: %.*s\n", static_cast<int>(what.size()), what.data());
  if (!detail.empty()) {
    auto shown = detail.substr(0, kMaxDetail);
    std::fprintf(stderr, "llmgw-fuzz: detail (%zu bytes%s):\n%.*s\n", detail.size(),
                 detail.size() > kMaxDetail ? ", cut" : "", static_cast<int>(shown.size()),
                 shown.data());
  }
  std::fflush(stderr);
  std::abort();
}

// ---- Splitting ---------------------------------------------------------------------------

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h = (h ^ c) * 1099511628211ull;
  }
  return h;
}

namespace {

// splitmix64: a tiny deterministic generator.
std::uint64_t next(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

std::string_view to_string(Split s) {
  switch (s) {
    case Split::whole: return "whole";
    case Split::bytewise: return "bytewise";
    case Split::random: return "random";
    case Split::lines: return "lines";
  }
  return "?";
}

std::vector<std::string_view> split(std::string_view input, Split how) {
  std::vector<std::string_view> pieces;
  if (how == Split::whole || input.size() <= 1) {
    pieces.push_back(input);
    return pieces;
  }
  std::uint64_t state = fnv1a(input);
  std::size_t i = 0;
  auto cut = [&](std::size_t end) {
    if (end > i) {
      pieces.push_back(input.substr(i, end - i));
      i = end;
    }
  };
  switch (how) {
    case Split::whole: break;
    case Split::bytewise: {
      // Byte by byte up to 1 KiB; beyond, 1..4 bytes (a 16 KiB stream fed byte by byte under
      // ASan costs more than the rest of the target together).
      const bool big = input.size() > 1024;
      pieces.reserve(big ? input.size() / 2 : input.size());
      while (i < input.size()) {
        cut(std::min(input.size(), i + (big ? 1 + next(state) % 4 : 1)));
      }
      break;
    }
    case Split::random:
      pieces.reserve(input.size() / 32 + 1);
      while (i < input.size()) {
        cut(std::min(input.size(), i + 1 + next(state) % 97));
      }
      break;
    case Split::lines:
      for (std::size_t k = 1; k < input.size(); ++k) {
        if (input[k] == '\n' || input[k - 1] == '\r') {
          cut(k);
        }
      }
      break;
  }
  cut(input.size());
  return pieces;
}

// ---- JSON checks -------------------------------------------------------------------------

bool is_json(std::string_view text, bool allow_duplicate_keys) {
  api::JsonLimits limits;
  limits.max_depth = 1024;
  limits.reject_duplicate_keys = !allow_duplicate_keys;
  return api::parse_json(text, limits).ok();
}

namespace {

template <class F>
void for_each_event(std::string_view sse, F&& f) {
  api::SseDecoder decoder;
  bool ok = decoder.feed(sse, f);
  if (!ok) {
    fail("an output SSE event is larger than 16 MiB", sse.substr(0, 256));
  }
  if (decoder.has_partial()) {
    fail("the output SSE ends inside an event (no blank line after it)", sse);
  }
}

}  // namespace

void check_sse_json(std::string_view sse, bool require_event_names, std::string_view who) {
  for_each_event(sse, [&](const api::SseEvent& e) {
    if (require_event_names && e.event.empty()) {
      fail(std::string(who) + ": an output SSE event has no event: line", sse);
    }
    if (e.data != "[DONE]" && !is_json(e.data, /*allow_duplicate_keys=*/true)) {
      fail(std::string(who) + ": an output SSE event's data is not JSON", e.data);
    }
  });
}

std::vector<std::string> sse_event_names(std::string_view sse) {
  std::vector<std::string> names;
  for_each_event(sse, [&](const api::SseEvent& e) {
    names.push_back(e.event.empty() ? "data" : e.event);
  });
  return names;
}

// ---- Providers ---------------------------------------------------------------------------

namespace {

FuzzProvider make(std::string label, config::ProviderKind kind, std::string base_url,
                  std::string model) {
  FuzzProvider p;
  p.label = std::move(label);
  p.config.name = p.label;
  p.config.kind = kind;
  p.config.base_url = std::move(base_url);
  auto url = common::parse_url(p.config.base_url);
  if (!url) {
    fail("bad base_url in the fuzz provider table", p.config.base_url);
  }
  p.config.url = *url;
  p.config.api_key = "fuzz-key";
  p.config.headers["x-fuzz"] = "1";
  p.target.provider = p.label;
  p.target.model = std::move(model);
  p.adapter = providers::make_adapter(kind);
  if (!p.adapter) {
    fail("make_adapter returned null for a provider kind the fuzz targets use", p.label);
  }
  p.translates_stream =
      kind == config::ProviderKind::anthropic || kind == config::ProviderKind::gemini;
  return p;
}

}  // namespace

const std::vector<FuzzProvider>& all_providers() {
  using K = config::ProviderKind;
  static const std::vector<FuzzProvider> providers = [] {
    std::vector<FuzzProvider> v;
    v.push_back(make("openai", K::openai, "https://api.openai.com/v1", "gpt-4o"));
    v.push_back(make("compat", K::openai_compatible, "http://127.0.0.1:8000/v1", "llama-3"));
    v.push_back(make("azure", K::azure, "https://myres.openai.azure.com", "gpt4o-prod"));
    v.push_back(make("azure-v1", K::azure, "https://myres.openai.azure.com/openai/v1",
                     "gpt-4o"));
    v.push_back(make("anthropic", K::anthropic, "https://api.anthropic.com/v1",
                     "claude-sonnet-4-5"));
    v.back().config.api_version = "2023-06-01";
    v.push_back(make("gemini", K::gemini, "https://generativelanguage.googleapis.com/v1beta",
                     "gemini-2.5-flash"));
    return v;
  }();
  return providers;
}

std::vector<const FuzzProvider*> providers_of(config::ProviderKind kind) {
  std::vector<const FuzzProvider*> out;
  for (const auto& p : all_providers()) {
    if (p.config.kind == kind) {
      out.push_back(&p);
    }
  }
  return out;
}

// ---- The request path --------------------------------------------------------------------

std::optional<api::GatewayError> validate(Operation op, const json& body,
                                          api::RequestFacts& facts) {
  return api::openai::validate_request(op, body, &facts);
}

providers::RequestOptions options_for(const api::RequestFacts& facts, bool anthropic_face) {
  providers::RequestOptions o;
  o.stream = facts.stream;
  // Anthropic streams report output_tokens in message_delta: the face always wants usage.
  o.client_wants_usage = facts.include_usage || anthropic_face;
  o.base64_embeddings = facts.base64_embeddings;
  return o;
}

void check_rendered(std::string_view who_, const providers::UpstreamRequest& r) {
  std::string who(who_);
  if (r.method != "POST" && r.method != "GET") {
    fail(who + ": build_request chose a strange method", r.method);
  }
  if (r.target.empty() || r.target.front() != '/') {
    fail(who + ": the request target is not origin-form", r.target);
  }
  for (char c : r.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      fail(who + ": the request target has a control character or space (header injection, "
                 "request smuggling)", r.target);
    }
  }
  for (const auto& h : r.headers) {
    for (char c : h.name + h.value) {
      if (c == '\r' || c == '\n' || c == '\0') {
        fail(who + ": a rendered header has CR, LF or NUL", h.name + ": " + h.value);
      }
    }
  }
  if (r.method == "POST" && !is_json(r.body)) {
    fail(who + ": the rendered body is not JSON", r.body);
  }
}

void route(Operation op, const json& body, const providers::RequestOptions& options) {
  struct Rendered {
    const FuzzProvider* provider;
    providers::UpstreamRequest request;
  };
  std::vector<Rendered> fresh;
  for (const auto& p : all_providers()) {
    if (!p.adapter->supports(op)) {
      continue;
    }
    if (auto why = p.adapter->unsupported(op, body, p.config, p.target)) {
      if (why->empty()) {
        fail(p.label + ": unsupported() explained nothing");
      }
      continue;
    }
    json copy = body;
    auto r = p.adapter->build_request(op, copy, p.config, p.target, options);
    check_rendered(p.label + " " + std::string(providers::to_string(op)), r);
    fresh.push_back({&p, std::move(r)});
  }
  // Fail-over and hedging render every target from the same, already rendered-from body.
  json shared = body;
  for (const auto& f : fresh) {
    const auto& p = *f.provider;
    auto r = p.adapter->build_request(op, shared, p.config, p.target, options);
    check_rendered(p.label + " " + std::string(providers::to_string(op)), r);
    if (r.body != f.request.body || r.target != f.request.target) {
      fail(p.label + " " + std::string(providers::to_string(op)) +
               ": renders a different request after another adapter rendered from the same "
               "body (a fail-over would send something else than a first attempt)",
           "first attempt: " + f.request.target + " " + f.request.body +
               "\nafter fail-over: " + r.target + " " + r.body);
    }
  }
}

// ---- One provider target -----------------------------------------------------------------

namespace {

struct StreamRun {
  bool ok = true;
  providers::Usage usage;
  bool has_content = false;
  std::string out;
};

StreamRun run_stream(const FuzzProvider& p, Operation op, const providers::RequestOptions& o,
                     std::string_view input, Split how) {
  StreamRun run;
  auto t = p.adapter->make_stream_translator(op, o);
  if (!t) {
    fail(p.label + ": make_stream_translator returned null for a supported operation");
  }
  for (auto piece : split(input, how)) {
    if (!t->feed(piece, run.out)) {
      run.ok = false;  // the router stops reading here
      break;
    }
  }
  if (run.ok) {
    run.ok = t->finish(run.out);
  }
  std::string who = p.label + " stream (" + std::string(to_string(how)) + " split)";
  if (run.ok == t->failure().has_value()) {
    fail(who + (run.ok ? ": failure() is set although feed()/finish() succeeded"
                       : ": feed()/finish() failed without setting failure()"));
  }
  if (run.ok) {
    // A finished stream ends with exactly one [DONE], its last event.
    constexpr std::string_view kDone = "data: [DONE]\n\n";
    if (run.out.size() < kDone.size() ||
        run.out.compare(run.out.size() - kDone.size(), kDone.size(), kDone) != 0) {
      fail(who + ": finished without data: [DONE] as its last event", run.out);
    }
  }
  run.usage = t->usage();
  run.has_content = t->has_content();
  if (p.translates_stream) {
    check_sse_json(run.out, /*require_event_names=*/false, who);
  }
  return run;
}

std::string describe(const StreamRun& r) {
  return "ok=" + std::to_string(r.ok) + " usage=" + std::to_string(r.usage.prompt_tokens) +
         "/" + std::to_string(r.usage.completion_tokens) +
         (r.usage.present ? " present" : " absent") +
         " has_content=" + std::to_string(r.has_content) + "\n" + r.out;
}

}  // namespace

void fuzz_provider(config::ProviderKind kind, std::string_view input) {
  // One split of the stream per input besides the whole body, chosen by the input's hash: the
  // fuzzer still meets every kind of split across inputs, at a fraction of the cost per input
  // (all four on a 16 KiB input took ~6 ms under ASan: 150 executions a second).
  const auto h = fnv1a(input);
  const Split how = kAllSplits[1 + h % 3];
  const bool wants_usage = (h >> 8) & 1;
  static constexpr int kStatuses[] = {400, 401, 404, 408, 413, 422, 500, 503, 529};
  const int other_status = kStatuses[(h >> 16) % std::size(kStatuses)];
  for (const FuzzProvider* p : providers_of(kind)) {
    const auto& a = *p->adapter;
    for (Operation op : kAllOps) {
      if (!a.supports(op)) {
        continue;
      }
      std::string who = p->label + " " + std::string(providers::to_string(op));
      providers::RequestOptions o;
      o.base64_embeddings = op == Operation::embeddings && wants_usage;
      {
        providers::Usage usage;
        auto r = a.translate_response(op, std::string(input), o, usage);
        check_translated(r, who + (o.base64_embeddings ? " (base64)" : ""));
      }
      if (op == Operation::embeddings) {
        continue;  // embeddings are never streamed
      }
      // Streams: the verdict, the usage and has_content must not depend on where the reads
      // split the body.
      o.stream = true;
      o.client_wants_usage = wants_usage;
      StreamRun whole = run_stream(*p, op, o, input, Split::whole);
      StreamRun r = run_stream(*p, op, o, input, how);
      bool same = r.ok == whole.ok;
      if (same && r.ok) {
        same = r.usage.present == whole.usage.present &&
               r.usage.prompt_tokens == whole.usage.prompt_tokens &&
               r.usage.completion_tokens == whole.usage.completion_tokens &&
               r.has_content == whole.has_content;
      }
      if (!same) {
        fail(who + " stream: the " + std::string(to_string(how)) +
                 " split ends differently from the whole body",
             "whole: " + describe(whole) + "\n" + std::string(to_string(how)) + ": " +
                 describe(r));
      }
    }
    // Error answers: 429 with a Retry-After the client library parsed from the first bytes of
    // the input (the headers are upstream text too), and one other status.
    auto head = input.substr(0, std::min<std::size_t>(input.size(), 24));
    auto nl = head.find('\n');
    auto retry_after = api::parse_retry_after(head.substr(0, nl),
                                              nl == std::string_view::npos ? std::string_view()
                                                                           : head.substr(nl + 1));
    for (int status : {429, other_status}) {
      auto f = a.classify_error(status, input, status == 429 ? retry_after : std::nullopt);
      if (f.retry_after && f.retry_after->count() < 0) {
        fail(p->label + ": classify_error read a negative retry delay from the answer",
             std::to_string(f.retry_after->count()) + " ms");
      }
    }
  }
}

}  // namespace llmgw::fuzz
