// Rate limits and budgets (config: keys[].rate_limit, keys[].budget). The stage asks
// limits::Limits to admit the request — this instance's buckets and ledger, or one Redis round
// trip with state.backend: redis — and answers 429 rate_limited / budget_exceeded (or 503
// state_unavailable when the shared state is away and on_unavailable says deny). Every answer
// to a rate-limited key carries OpenAI's x-ratelimit-* headers. After the answer the tap
// settles the token estimate against the provider's usage and turns the cost reservation into
// the real cost.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "llmgw/limits/limits.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/pipeline/pipeline.hpp"

namespace llmgw::pipeline {
namespace {

bool limited(const config::KeyConfig* key) {
  return key && (key->rate_limit.rpm || key->rate_limit.tpm ||
                 (key->budget && (key->budget->usd_per_day > 0 || key->budget->usd_per_month > 0)));
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

// The cost a budgeted request holds until it is settled: its input estimate and the output it
// allows itself (or the model's reserve_output) at the dearest price among the model's
// targets, so a request rarely costs more than it held.
double reserve_usd(const RequestContext& ctx) {
  if (!ctx.key->budget || !ctx.model) {
    return 0;
  }
  double in_price = 0;
  double out_price = 0;
  for (const auto& t : ctx.model->targets) {
    in_price = std::max(in_price, t.price.input_per_mtok);
    out_price = std::max(out_price, t.price.output_per_mtok);
  }
  const double in = std::ceil(static_cast<double>(ctx.body_bytes) / 4.0);
  const double out = ctx.facts && ctx.facts->max_output_tokens
                         ? static_cast<double>(ctx.facts->max_output_tokens)
                         : static_cast<double>(ctx.model->context.reserve_output);
  return (in * in_price + out * out_price) / 1e6;
}

void add_window_headers(std::vector<common::Header>& out, std::string_view kind,
                        const limits::Window& w) {
  out.emplace_back("x-ratelimit-limit-" + std::string(kind), std::to_string(w.limit));
  out.emplace_back("x-ratelimit-remaining-" + std::string(kind), std::to_string(w.remaining));
  out.emplace_back("x-ratelimit-reset-" + std::string(kind), limits::reset_text(w.reset));
}

std::int64_t retry_seconds(std::chrono::milliseconds d) {
  return std::max<std::int64_t>((d.count() + 999) / 1000, 1);
}

std::string utc_text(limits::WallTime t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string usd(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "$%.4f", v);
  return buf;
}

api::GatewayError refusal(const limits::Decision& d, std::string_view key) {
  const std::string k(key);
  switch (d.refused) {
    case limits::Refusal::requests:
    case limits::Refusal::tokens:
      return api::GatewayError{
          429, "rate_limited", "rate_limit_error",
          "Rate limit of key '" + k + "' reached (" +
              (d.refused == limits::Refusal::tokens ? "tokens" : "requests") +
              " per minute); retry in " + std::to_string(retry_seconds(d.retry_after)) + " s.",
          {}};
    case limits::Refusal::budget: {
      const bool day = d.budget.exceeded == limits::BudgetPeriod::day;
      return api::GatewayError{
          429, "budget_exceeded", "insufficient_quota",
          "Budget of key '" + k + "' for this " + (day ? "day" : "month") + " (UTC) is spent: " +
              usd(d.budget.spent) + " of " + usd(d.budget.cap) + "; it resets at " +
              utc_text(d.budget.resets_at) + ".",
          {}};
    }
    case limits::Refusal::unavailable:
    case limits::Refusal::none:
      break;
  }
  return api::GatewayError{503, "state_unavailable", "api_error",
                           "The shared state that enforces this key's " +
                               std::string(d.unavailable) +
                               " cannot be reached (state.on_unavailable: deny); retry shortly.",
                           {}};
}

class LimitsStage final : public IngressStage {
public:
  explicit LimitsStage(const Services& services) : services_(services) {}
  std::string_view name() const override { return "limits"; }
  bool applies(const RequestContext& ctx) const override { return limited(ctx.key); }
  boost::asio::awaitable<std::optional<api::GatewayError>> run(RequestContext& ctx) override {
    if (!services_.limits) {
      co_return std::nullopt;
    }
    limits::AdmitInput in{*ctx.key, estimate_tokens(ctx), reserve_usd(ctx), ctx.request_id};
    auto d = co_await services_.limits->admit(in, ctx.limits_ticket);
    if (d.requests) {
      add_window_headers(ctx.response_headers, "requests", *d.requests);
    }
    if (d.tokens) {
      add_window_headers(ctx.response_headers, "tokens", *d.tokens);
    }
    if (d.refused == limits::Refusal::none) {
      co_return std::nullopt;
    }
    std::chrono::milliseconds wait = d.retry_after;
    std::string_view kind = "requests";
    if (d.refused == limits::Refusal::tokens) {
      kind = "tokens";
    } else if (d.refused == limits::Refusal::budget) {
      kind = d.budget.exceeded == limits::BudgetPeriod::day ? "budget_day" : "budget_month";
      wait = std::chrono::duration_cast<std::chrono::milliseconds>(
          d.budget.resets_at - std::chrono::system_clock::now());
    } else if (d.refused == limits::Refusal::unavailable) {
      kind = "unavailable";
      wait = std::chrono::milliseconds(1000);
    }
    ctx.response_headers.emplace_back("retry-after", std::to_string(retry_seconds(wait)));
    if (services_.metrics) {
      services_.metrics->rate_limited(ctx.key->name, kind);
    }
    co_return refusal(d, ctx.key->name);
  }

private:
  Services services_;
};

class BudgetDebitTap final : public ResponseTap {
public:
  explicit BudgetDebitTap(const Services& services) : services_(services) {}
  std::string_view name() const override { return "budget_debit"; }
  void on_response(const RequestContext& ctx) override {
    if (!ctx.limits_ticket.active() || !services_.limits || !ctx.key) {
      return;
    }
    // What the provider counted replaces the estimate; a request no provider answered
    // costs no tokens and nothing.
    const auto& out = *ctx.outcome;
    double tokens = static_cast<double>(out.usage.prompt_tokens + out.usage.completion_tokens);
    double cost = out.cost_usd;
    if (out.status == 499 && out.attempts > 0 && tokens == 0) {
      // The client hung up after its request went to a provider, before the usage came: the
      // provider charges for it all the same, so it pays what it held (else hanging up just
      // before the last chunk would make every answer free).
      tokens = ctx.limits_ticket.tokens;
      cost = ctx.limits_ticket.usd;
    }
    services_.limits->settle(*ctx.key, ctx.limits_ticket, tokens, cost);
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
