// One request's way through the response cache (request_cache.hpp): the replay of a hit or of
// a stale entry, and the sink that captures a miss's answer for the store.
#include "llmgw/cache/request_cache.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>

#include "llmgw/cache/assembly.hpp"
#include "llmgw/cache/replay.hpp"
#include "llmgw/common/header.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::cache {
namespace {

namespace asio = boost::asio;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A cached answer as the client asked for it: the stored body as it is, or its replay as a
// stream. Returns false when the client is gone.
asio::awaitable<bool> send_cached(api::ResponseSink& sink, std::vector<common::Header> headers,
                                  const std::string& answer, const std::string* stream) {
  if (stream) {
    headers.emplace_back("content-type", "text/event-stream; charset=utf-8");
    headers.emplace_back("cache-control", "no-cache");
    const bool started = co_await sink.start_stream(200, std::move(headers));
    if (!started) {
      co_return false;
    }
    const bool written = co_await sink.write(*stream);
    if (!written) {
      co_return false;
    }
    co_return co_await sink.end_stream();
  }
  headers.emplace_back("content-type", "application/json");
  auto body = answer;
  co_return co_await sink.send(200, std::move(headers), std::move(body));
}

void served_from_cache(const router::CallRequest& req, const std::string& answer,
                       router::CallOutcome& out, bool sent) {
  out.status = sent ? 200 : 499;
  if (req.capture_answer && req.op == providers::Operation::chat) {
    out.answer = router::assistant_message_of(answer);  // a stored response's next turn
  }
  out.provider = "cache";
  out.served_model = req.model;
  out.usage = {};  // no provider was paid for this answer: nothing to count or charge
  out.cost_usd = 0;
  out.degraded = false;
  out.error_code = sent ? std::string() : std::string("client_closed_request");
  out.ttft_seconds = sent ? seconds_since(req.started) : -1;
}

// The router's headers of an answer (response_headers in router/attempt.cpp), for a hit.
std::vector<common::Header> hit_headers(const router::CallRequest& req) {
  std::vector<common::Header> headers{{"x-request-id", req.request_id},
                                      {"x-llmgw-provider", "cache"},
                                      {"x-llmgw-model", req.model},
                                      {"x-llmgw-attempts", "0"}};
  if (!req.session_id.empty()) {
    headers.emplace_back("x-llmgw-session", std::string(req.session_id));
  }
  if (req.extra_headers) {
    headers.insert(headers.end(), req.extra_headers->begin(), req.extra_headers->end());
  }
  common::set_header(headers, "x-llmgw-cache", "hit");
  return headers;
}

std::optional<std::string> stream_of(api::Operation op, const std::string& answer,
                                     bool include_usage) {
  auto parsed = nlohmann::json::parse(answer, nullptr, false);
  return replay_stream(op, parsed, include_usage);
}

// Passes everything on to the face's sink and records the canonical answer on its way. It
// speaks the canonical dialect, so the router never relays a provider's native bytes (which
// could not be replayed to another face); the face renders as it does for any other target.
class CaptureSink final : public api::ResponseSink {
public:
  CaptureSink(api::ResponseSink& inner, Captured& into, std::size_t max_bytes)
      : inner_(inner), into_(into), max_bytes_(max_bytes) {}

  asio::awaitable<bool> send(int status, std::vector<common::Header> headers,
                             std::string body) override {
    if (status >= 200 && status < 300 && !held_back(headers) && body.size() <= max_bytes_) {
      into_.kind = Captured::Kind::complete;
      into_.bytes = body;
    } else {
      into_.unusable = true;
    }
    co_return co_await inner_.send(status, std::move(headers), std::move(body));
  }
  asio::awaitable<bool> send_native(int status, std::vector<common::Header> headers,
                                    std::string body) override {
    into_.unusable = true;
    co_return co_await inner_.send_native(status, std::move(headers), std::move(body));
  }
  asio::awaitable<bool> start_stream(int status, std::vector<common::Header> headers) override {
    into_.kind = Captured::Kind::stream;
    co_return co_await inner_.start_stream(status, std::move(headers));
  }
  asio::awaitable<bool> write(std::string_view bytes) override {
    record(bytes, false);
    co_return co_await inner_.write(bytes);
  }
  asio::awaitable<bool> event(const api::StreamEvent& e) override {
    record(e.sse, e.native);
    co_return co_await inner_.event(e);
  }
  asio::awaitable<bool> events(std::span<const api::StreamEvent> batch) override {
    for (const auto& e : batch) {
      record(e.sse, e.native);
    }
    co_return co_await inner_.events(batch);
  }
  asio::awaitable<bool> end_stream() override {
    into_.ended = true;
    co_return co_await inner_.end_stream();
  }
  asio::awaitable<bool> fail(const api::GatewayError& e,
                             std::vector<common::Header> headers) override {
    into_.unusable = true;
    co_return co_await inner_.fail(e, std::move(headers));
  }
  bool started() const override { return inner_.started(); }
  bool wants_chunks() const override { return inner_.wants_chunks(); }
  api::Dialect dialect() const override { return api::Dialect::openai; }

private:
  // An answer the router held back as doubtful and served for want of a better one.
  static bool held_back(const std::vector<common::Header>& headers) {
    for (const auto& h : headers) {
      if (common::iequals(h.name, "x-llmgw-bad-answer")) {
        return true;
      }
    }
    return false;
  }

  void record(std::string_view bytes, bool native) {
    if (into_.unusable) {
      return;
    }
    // The events are larger than the answer they make (every chunk repeats id and model):
    // a stream is given room for a few times the entry limit.
    if (native || into_.bytes.size() + bytes.size() > 4 * max_bytes_) {
      into_.unusable = true;
      into_.bytes.clear();
      into_.bytes.shrink_to_fit();
      return;
    }
    into_.bytes.append(bytes);
  }

  api::ResponseSink& inner_;
  Captured& into_;
  std::size_t max_bytes_;
};

asio::awaitable<void> put_entry(std::shared_ptr<CacheStore> store, std::string key,
                                std::string answer, std::chrono::milliseconds ttl) {
  co_await store->put(std::move(key), std::move(answer), ttl);
}

}  // namespace

std::string_view to_string(Result r) {
  switch (r) {
    case Result::hit: return "hit";
    case Result::miss: return "miss";
    case Result::stale: return "stale";
    case Result::bypass: return "bypass";
  }
  return "none";
}

void set_cache_header(std::vector<common::Header>& headers, std::string_view value) {
  common::set_header(headers, "x-llmgw-cache", std::string(value));
}

void RequestCache::store_as(std::shared_ptr<CacheStore> store, std::string key,
                            std::chrono::milliseconds ttl, std::size_t max_entry_bytes,
                            asio::any_io_executor executor) {
  store_ = std::move(store);
  key_ = std::move(key);
  ttl_ = ttl;
  max_entry_bytes_ = max_entry_bytes;
  executor_ = std::move(executor);
}

void RequestCache::hit(std::shared_ptr<const std::string> answer, std::string stream) {
  result_ = Result::hit;
  answer_ = std::move(answer);
  stream_ = std::move(stream);
}

void RequestCache::keep_stale(std::shared_ptr<const std::string> answer, bool stream,
                              bool include_usage) {
  answer_ = std::move(answer);
  stale_stream_ = stream;
  stale_usage_ = include_usage;
}

asio::awaitable<router::CallOutcome> RequestCache::replay(const router::CallRequest& req,
                                                          api::ResponseSink& sink) {
  router::CallOutcome out;
  auto headers = hit_headers(req);
  const std::string* stream = req.stream ? &stream_ : nullptr;
  auto sending = send_cached(sink, std::move(headers), *answer_, stream);
  const bool sent = co_await std::move(sending);
  served_from_cache(req, *answer_, out, sent);
  co_return out;
}

asio::awaitable<bool> RequestCache::serve(const router::CallRequest& req,
                                          std::vector<common::Header> headers,
                                          router::CallOutcome& out, api::ResponseSink& sink) {
  if (!answer_ || result_ == Result::hit) {
    co_return false;
  }
  std::optional<std::string> stream;
  if (stale_stream_) {
    stream = stream_of(op_, *answer_, stale_usage_);
    if (!stream) {
      co_return false;
    }
  }
  result_ = Result::stale;
  common::set_header(headers, "x-llmgw-provider", "cache");
  common::set_header(headers, "x-llmgw-model", req.model);
  set_cache_header(headers, "stale");
  auto sending = send_cached(sink, std::move(headers), *answer_, stream ? &*stream : nullptr);
  const bool sent = co_await std::move(sending);
  served_from_cache(req, *answer_, out, sent);
  co_return true;
}

std::unique_ptr<api::ResponseSink> RequestCache::capture(api::ResponseSink& inner) {
  if (!store_ || result_ == Result::hit) {
    return nullptr;
  }
  return std::make_unique<CaptureSink>(inner, captured_, max_entry_bytes_);
}

std::optional<std::string> RequestCache::answer_to_store(const router::CallOutcome& outcome) {
  // Only a provider's successful, whole answer: not a hit or a stale entry (already stored),
  // not the degrade message, not an error, not a stream that broke.
  if (!store_ || result_ == Result::hit || result_ == Result::stale || outcome.status != 200 ||
      outcome.degraded || !outcome.error_code.empty() || captured_.unusable) {
    return std::nullopt;
  }
  if (captured_.kind == Captured::Kind::complete && !captured_.bytes.empty()) {
    return std::move(captured_.bytes);
  }
  if (captured_.kind == Captured::Kind::stream && captured_.ended) {
    auto answer = assemble_stream(op_, captured_.bytes,
                                  TokenUsage{outcome.usage.prompt_tokens,
                                             outcome.usage.completion_tokens});
    if (answer && answer->size() <= max_entry_bytes_) {
      return answer;
    }
  }
  return std::nullopt;
}

void RequestCache::store(std::string answer) const {
  asio::co_spawn(executor_, put_entry(store_, key_, std::move(answer), ttl_), asio::detached);
}

}  // namespace llmgw::cache
