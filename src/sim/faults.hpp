#pragma once
// Control-plane state shared by all connections: the active fault and request statistics.
// Both are touched once per model request from any io thread, hence the mutexes; the fast path
// (no fault) takes no lock.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "wire.hpp"

namespace llmgw::sim {

enum class FaultMode {
  none,
  error,
  hang,
  slow_first_byte,
  slow_chunks,
  die_after,
  garbage,
  refuse,
  flap,
  reset,
  // Hostile 200 answers (hostile.cpp), for testing what a client makes of a provider that
  // answers "successfully" with something it cannot use.
  gzip,         // Content-Encoding: gzip; streams flushed (Z_SYNC_FLUSH) per event
  empty,        // no body at all / a stream with no events
  wrong_shape,  // valid JSON that is not the provider's shape; streams keep their terminator
  truncated,    // streams end cleanly after `after_chunks` content events, without their
                // terminal event; non-streams: half of the JSON body, Content-Length correct
  deep,         // a `depth`-level nested value inside an otherwise normal answer
  // Wrong content in a well-formed answer (sim::Wrong), for semantic health.
  empty_answer,  // content ""
  repetition,    // a runaway repetition loop
  refusal,       // a refusal phrase
  bad_json,      // content that is not JSON
};

/// The kind of wrong answer a mode asks for (Wrong::none for modes that are not about content).
Wrong wrong_of(FaultMode mode);

std::string_view fault_mode_name(FaultMode mode);

struct FaultSpec {
  FaultMode mode = FaultMode::none;
  unsigned status = 503;
  std::string error_type;
  std::string error_code;
  std::string message;
  std::string retry_after;
  std::string retry_after_ms;
  std::int64_t delay_ms = -1;  // -1: unset (refuse: until changed; others: 1000)
  std::int64_t chunk_delay_ms = 200;
  std::int64_t after_chunks = 2;
  std::int64_t period_ms = 1000;
  std::int64_t depth = 100000;  // deep: nesting of the injected value
  std::optional<std::int64_t> count;
  std::vector<std::string> paths;

  std::int64_t delay_or_default() const { return delay_ms < 0 ? 1000 : delay_ms; }
  bool applies_to(std::string_view path) const;
  nlohmann::ordered_json to_json() const;
  /// Parses the control API / --fault JSON; on failure returns nullopt and sets `error`.
  static std::optional<FaultSpec> parse(const nlohmann::ordered_json& json, std::string& error);
};

/// What one model request must suffer. `spec` is a snapshot, safe to read after the fault
/// changes; `mode` is resolved (a flap in its healthy half is `none`).
struct FaultDecision {
  FaultMode mode = FaultMode::none;
  std::shared_ptr<const FaultSpec> spec;
};

class FaultState {
 public:
  FaultState();
  /// Replaces the fault; returns its generation (refuse timers use it to expire only their own).
  std::uint64_t set(FaultSpec spec);
  /// Consumes one unit of `count` when the fault applies to `path`.
  FaultDecision decide(std::string_view path);
  /// Ends a refuse fault whose delay elapsed, unless it was replaced meanwhile.
  void expire(std::uint64_t generation);
  nlohmann::ordered_json to_json() const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const FaultSpec> spec_;
  std::optional<std::int64_t> remaining_;
  std::chrono::steady_clock::time_point since_;
  std::uint64_t generation_ = 0;
  std::atomic<bool> active_{false};
};

class Stats {
 public:
  void record(std::shared_ptr<const ApiRequest> request);
  void clear();
  nlohmann::ordered_json to_json() const;

 private:
  mutable std::mutex mutex_;
  std::uint64_t requests_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> by_path_;
  // Shared with the handler, so recording copies nothing; parsed only when stats are read.
  std::shared_ptr<const ApiRequest> last_;
};

}  // namespace llmgw::sim
