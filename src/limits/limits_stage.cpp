// Rate limits and budgets (config: keys[].rate_limit, keys[].budget, providers[].limits).
// Per-key rate limits run on this instance's buckets (limits::RateLimiter): a request takes
// one request and its token estimate, or gets 429 rate_limited with retry-after; every answer
// carries OpenAI's x-ratelimit-* headers. After the answer the tap settles the estimate
// against the provider's usage. Budgets, provider limits and the Redis backend are the rest
// of the limits issue.
#include <cmath>

#include "llmgw/common/clock.hpp"
#include "llmgw/limits/rate_limiter.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/pipeline/pipeline.hpp"

namespace llmgw::pipeline {
namespace {

bool rate_limited(const config::KeyConfig* key) {
  return key && (key->rate_limit.rpm || key->rate_limit.tpm);
}

bool limited(const config::KeyConfig* key) { return key && (key->budget || rate_limited(key)); }

const common::Clock& clock_of(const Services& s) {
  return s.clock ? *s.clock : common::SteadyClock::instance();
}

// What a request may cost in tokens before anyone counted: its body at ~4 bytes a token, and
// the output it allows itself (the settlement corrects both).
double estimate_tokens(const RequestContext& ctx) {
  double tokens = std::ceil(static_cast<double>(ctx.body_bytes) / 4.0);
  if (ctx.facts && ctx.facts->max_output_tokens) {
    tokens += static_cast<double>(ctx.facts->max_output_tokens);
  }
  return tokens;
}

void add_window_headers(std::vector<common::Header>& out, std::string_view kind,
                        const limits::Window& w) {
  out.emplace_back("x-ratelimit-limit-" + std::string(kind), std::to_string(w.limit));
  out.emplace_back("x-ratelimit-remaining-" + std::string(kind), std::to_string(w.remaining));
  out.emplace_back("x-ratelimit-reset-" + std::string(kind), limits::reset_text(w.reset));
}

api::GatewayError over_limit(const limits::Admission& a, std::string_view key) {
  const auto seconds = (a.retry_after.count() + 999) / 1000;
  return api::GatewayError{429, "rate_limited", "rate_limit_error",
                           "Rate limit of key '" + std::string(key) + "' reached (" +
                               std::string(a.refused_by) + " per minute); retry in " +
                               std::to_string(std::max<std::int64_t>(seconds, 1)) + " s.",
                           {}};
}

class LimitsStage final : public IngressStage {
public:
  explicit LimitsStage(const Services& services) : services_(services) {}
  std::string_view name() const override { return "limits"; }
  bool applies(const RequestContext& ctx) const override { return limited(ctx.key); }
  boost::asio::awaitable<std::optional<api::GatewayError>> run(RequestContext& ctx) override {
    if (!rate_limited(ctx.key) || !services_.rate_limiter) {
      co_return std::nullopt;  // budgets: counted by a later slice of the limits issue
    }
    const double estimate = estimate_tokens(ctx);
    auto a = services_.rate_limiter->admit(*ctx.key, estimate, clock_of(services_).now());
    if (a.requests) {
      add_window_headers(ctx.response_headers, "requests", *a.requests);
    }
    if (a.tokens) {
      add_window_headers(ctx.response_headers, "tokens", *a.tokens);
    }
    if (!a.allowed) {
      const auto seconds = std::max<std::int64_t>((a.retry_after.count() + 999) / 1000, 1);
      ctx.response_headers.emplace_back("retry-after", std::to_string(seconds));
      if (services_.metrics) {
        services_.metrics->rate_limited(ctx.key->name, a.refused_by);
      }
      co_return over_limit(a, ctx.key->name);
    }
    ctx.tokens_reserved = estimate;
    co_return std::nullopt;
  }

private:
  Services services_;
};

class BudgetDebitTap final : public ResponseTap {
public:
  explicit BudgetDebitTap(const Services& services) : services_(services) {}
  std::string_view name() const override { return "budget_debit"; }
  void on_response(const RequestContext& ctx) override {
    if (ctx.tokens_reserved <= 0 || !rate_limited(ctx.key) || !services_.rate_limiter) {
      return;
    }
    // What the provider counted replaces the estimate; a request no provider answered
    // costs no tokens.
    const auto& usage = ctx.outcome->usage;
    const double actual = static_cast<double>(usage.prompt_tokens + usage.completion_tokens);
    services_.rate_limiter->settle(*ctx.key, ctx.tokens_reserved, actual,
                                   clock_of(services_).now());
  }

private:
  Services services_;
};

}  // namespace

std::unique_ptr<IngressStage> make_limits_stage(const Services& services) {
  return std::make_unique<LimitsStage>(services);
}
std::unique_ptr<ResponseTap> make_budget_debit_tap(const Services& services) {
  return std::make_unique<BudgetDebitTap>(services);
}

}  // namespace llmgw::pipeline
