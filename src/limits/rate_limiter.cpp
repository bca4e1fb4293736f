#include "llmgw/limits/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace llmgw::limits {
namespace {

std::chrono::milliseconds ceil_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(seconds * 1000.0)));
}

}  // namespace

TokenBucket::TokenBucket(double per_minute, TimePoint now)
    : capacity_(per_minute), per_second_(per_minute / 60.0), level_(per_minute), at_(now) {}

void TokenBucket::refill(TimePoint now) {
  if (now > at_) {
    const double dt = std::chrono::duration<double>(now - at_).count();
    level_ = std::min(capacity_, level_ + dt * per_second_);
    at_ = now;
  }
}

bool TokenBucket::try_take(double n, TimePoint now, std::chrono::milliseconds& wait) {
  refill(now);
  const double need = std::min(n, capacity_);  // more than a full bucket: wait for a full one
  if (level_ >= need) {
    level_ -= n;
    wait = std::chrono::milliseconds(0);
    return true;
  }
  wait = ceil_ms((need - level_) / per_second_);
  return false;
}

void TokenBucket::adjust(double n, TimePoint now) {
  refill(now);
  level_ = std::min(capacity_, level_ - n);
}

double TokenBucket::available(TimePoint now) {
  refill(now);
  return std::max(0.0, level_);
}

std::chrono::milliseconds TokenBucket::until_full(TimePoint now) {
  refill(now);
  return ceil_ms((capacity_ - level_) / per_second_);
}

RateLimiter::Buckets& RateLimiter::buckets_for(const config::KeyConfig& key, TimePoint now) {
  auto& b = by_key_[key.name];
  const auto rpm = key.rate_limit.rpm.value_or(0);
  const auto tpm = key.rate_limit.tpm.value_or(0);
  if (b.rpm != rpm || !b.requests != (rpm == 0)) {
    b.rpm = rpm;
    b.requests = rpm ? std::make_unique<TokenBucket>(static_cast<double>(rpm), now) : nullptr;
  }
  if (b.tpm != tpm || !b.tokens != (tpm == 0)) {
    b.tpm = tpm;
    b.tokens = tpm ? std::make_unique<TokenBucket>(static_cast<double>(tpm), now) : nullptr;
  }
  return b;
}

Admission RateLimiter::admit(const config::KeyConfig& key, double tokens, TimePoint now) {
  Admission a;
  std::lock_guard lock(mu_);
  auto& b = buckets_for(key, now);
  std::chrono::milliseconds wait_requests{0};
  std::chrono::milliseconds wait_tokens{0};
  // Both or neither: a request refused for its tokens does not spend a request.
  bool requests_ok = true;
  bool tokens_ok = true;
  if (b.requests) {
    requests_ok = b.requests->available(now) >= 1.0;
    if (!requests_ok) {
      b.requests->try_take(1.0, now, wait_requests);
    }
  }
  if (b.tokens) {
    const double need = std::min(tokens, b.tokens->capacity());
    tokens_ok = b.tokens->available(now) >= need;
    if (!tokens_ok) {
      b.tokens->try_take(tokens, now, wait_tokens);
    }
  }
  if (requests_ok && tokens_ok) {
    std::chrono::milliseconds unused{0};
    if (b.requests) {
      b.requests->try_take(1.0, now, unused);
    }
    if (b.tokens) {
      b.tokens->try_take(tokens, now, unused);
    }
  } else {
    a.allowed = false;
    a.refused_by = requests_ok ? "tokens" : "requests";
    a.retry_after = std::max(wait_requests, wait_tokens);
  }
  const auto window = [&](TokenBucket& t) {
    return Window{static_cast<std::uint64_t>(t.capacity()),
                  static_cast<std::uint64_t>(std::floor(t.available(now))), t.until_full(now)};
  };
  if (b.requests) {
    a.requests = window(*b.requests);
  }
  if (b.tokens) {
    a.tokens = window(*b.tokens);
  }
  return a;
}

void RateLimiter::settle(const config::KeyConfig& key, double estimated, double actual,
                         TimePoint now) {
  std::lock_guard lock(mu_);
  auto& b = buckets_for(key, now);
  if (b.tokens) {
    b.tokens->adjust(actual - estimated, now);
  }
}

std::string reset_text(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms < 1000) {
    return std::to_string(std::max<std::int64_t>(ms, 0)) + "ms";
  }
  const auto s = (ms + 999) / 1000;
  if (s < 60) {
    return std::to_string(s) + "s";
  }
  return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
}

}  // namespace llmgw::limits
