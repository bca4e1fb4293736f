#pragma once
// Per-key rate limits (keys[].rate_limit: rpm, tpm) on this instance: a token bucket for
// requests and one for tokens per key, refilled continuously (capacity = the per-minute
// figure, so a key may burst a minute's worth). A request takes one request and its token
// estimate up front; after the answer the estimate is settled against the provider's usage,
// so a key that spent more than estimated waits longer next time. Decisions take the time as
// an argument: the tests run them in simulated time.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "llmgw/config/config.hpp"

namespace llmgw::limits {

using TimePoint = std::chrono::steady_clock::time_point;

/// A bucket that refills `per_minute` units a minute up to `per_minute`. A take larger than
/// what a full bucket holds is allowed when the bucket is full (it leaves a debt), so no
/// request is refused forever.
class TokenBucket {
public:
  TokenBucket(double per_minute, TimePoint now);
  /// Takes `n` when available; else how long until it would be.
  bool try_take(double n, TimePoint now, std::chrono::milliseconds& wait);
  /// Settles: a positive `n` takes more (a debt is allowed), a negative one gives back.
  void adjust(double n, TimePoint now);
  double available(TimePoint now);
  double capacity() const { return capacity_; }
  /// How long until the bucket is full again.
  std::chrono::milliseconds until_full(TimePoint now);

private:
  void refill(TimePoint now);
  double capacity_;
  double per_second_;
  double level_;
  TimePoint at_;
};

/// What the x-ratelimit-* headers say, for one kind (requests or tokens).
struct Window {
  std::uint64_t limit = 0;
  std::uint64_t remaining = 0;
  std::chrono::milliseconds reset{0};  // until full again
};

struct Admission {
  bool allowed = true;
  std::string_view refused_by;  // "requests" or "tokens" when refused
  std::chrono::milliseconds retry_after{0};
  std::optional<Window> requests;
  std::optional<Window> tokens;
};

class RateLimiter {
public:
  /// Takes one request and `tokens` (the estimate) from the key's buckets, or refuses.
  Admission admit(const config::KeyConfig& key, double tokens, TimePoint now);
  /// After the answer: `actual` tokens instead of the `estimated` ones admit() took.
  void settle(const config::KeyConfig& key, double estimated, double actual, TimePoint now);

private:
  struct Buckets {
    std::uint64_t rpm = 0;  // the limits they were made for: a reload that changes them
    std::uint64_t tpm = 0;  // starts fresh buckets
    std::unique_ptr<TokenBucket> requests;
    std::unique_ptr<TokenBucket> tokens;
  };
  Buckets& buckets_for(const config::KeyConfig& key, TimePoint now);

  std::mutex mu_;
  std::unordered_map<std::string, Buckets> by_key_;
};

/// "250ms", "12s", "1m30s": the duration form of OpenAI's x-ratelimit-reset-* headers.
std::string reset_text(std::chrono::milliseconds d);

}  // namespace llmgw::limits
