#pragma once
// One request's way through the response cache, made by the cache lookup stage
// (src/cache/cache_stage.cpp) and kept in the pipeline's RequestContext. The server asks it
// three things: whether it holds a fresh hit to replay instead of routing (replay()), a sink
// that captures the answer on a miss (capture()), and, through router::LastResort, the
// expired entry to serve when no target could answer. The store tap then stores what was
// captured; the access log and the metric read result().
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "llmgw/api/operation.hpp"
#include "llmgw/api/response_sink.hpp"
#include "llmgw/cache/store.hpp"
#include "llmgw/router/router.hpp"

namespace llmgw::cache {

enum class Result { hit, miss, stale, bypass };
std::string_view to_string(Result r);

/// What the capture sink saw of the answer (the router's canonical output).
struct Captured {
  enum class Kind { nothing, complete, stream };
  Kind kind = Kind::nothing;
  std::string bytes;      // the complete body, or the stream's canonical SSE events
  bool ended = false;     // the stream ended normally (end_stream without fail)
  bool unusable = false;  // an error, a held-back answer, native bytes, or too large
};

class RequestCache final : public router::LastResort {
public:
  RequestCache(api::Operation op, Result result) : op_(op), result_(result) {}

  Result result() const { return result_; }
  api::Operation op() const { return op_; }

  /// Set by the stage.
  void set_result(Result r) { result_ = r; }
  /// Store the answer of this request under `key` (a miss, or a no-cache bypass).
  void store_as(std::shared_ptr<CacheStore> store, std::string key,
                std::chrono::milliseconds ttl, std::size_t max_entry_bytes,
                boost::asio::any_io_executor executor);
  /// A fresh hit; `stream` is the replay for a streaming request (empty otherwise).
  void hit(std::shared_ptr<const std::string> answer, std::string stream);
  /// An expired entry to serve when no target can answer (serve_stale_on_outage); `stream`
  /// and `include_usage` say how the client wants it.
  void keep_stale(std::shared_ptr<const std::string> answer, bool stream, bool include_usage);

  bool has_hit() const { return result_ == Result::hit && answer_ != nullptr; }
  /// Answers the request from the hit through `sink` (no provider is called).
  boost::asio::awaitable<router::CallOutcome> replay(const router::CallRequest& req,
                                                     api::ResponseSink& sink);
  /// A sink over `inner` that records the answer for the store tap; null when this request's
  /// answer is not to be stored.
  std::unique_ptr<api::ResponseSink> capture(api::ResponseSink& inner);
  /// router::LastResort: the stale entry, if there is one.
  boost::asio::awaitable<bool> serve(const router::CallRequest& req,
                                     std::vector<common::Header> headers,
                                     router::CallOutcome& out, api::ResponseSink& sink) override;

  /// For the store tap: the answer to store (complete and canonical), or nullopt.
  std::optional<std::string> answer_to_store(const router::CallOutcome& outcome);
  bool storing() const { return store_ != nullptr; }
  /// Hands the answer to the store, off this coroutine (the tap must not wait).
  void store(std::string answer) const;

private:
  api::Operation op_;
  Result result_;
  // A fresh hit or the stale candidate.
  std::shared_ptr<const std::string> answer_;
  std::string stream_;  // a hit's replay as a stream
  bool stale_stream_ = false;
  bool stale_usage_ = false;
  // Where the answer goes (null: not stored).
  std::shared_ptr<CacheStore> store_;
  std::string key_;
  std::chrono::milliseconds ttl_{0};
  std::size_t max_entry_bytes_ = 0;
  boost::asio::any_io_executor executor_;
  Captured captured_;
};

/// Replaces (or adds) the x-llmgw-cache header's value.
void set_cache_header(std::vector<common::Header>& headers, std::string_view value);

}  // namespace llmgw::cache
