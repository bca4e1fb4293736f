#include "llmgw/health/target_health.hpp"

#include <gtest/gtest.h>

#include "llmgw/common/clock.hpp"

namespace llmgw::health {
namespace {

using namespace std::chrono_literals;

config::ProviderConfig provider_with_everything() {
  config::ProviderConfig p;
  p.name = "openai-primary";
  p.base_url = "https://api.example.test/v1";
  p.url = *common::parse_url(p.base_url);
  p.max_connections = 2;
  p.health.active = config::ActiveHealthConfig{};
  p.health.active->healthy_after = 2;
  p.health.active->unhealthy_after = 2;
  p.health.passive = config::PassiveHealthConfig{};
  p.health.passive->consecutive_failures = 3;
  p.health.passive->eject_for = 10s;
  p.circuit_breaker = config::CircuitBreakerConfig{};
  p.circuit_breaker->min_requests = 100;  // keep the breaker out of the passive tests
  return p;
}

api::Failure failure(api::FailureClass c, int status = 503) {
  return api::Failure{c, status, std::nullopt, "HTTP " + std::to_string(status), ""};
}

TEST(TargetHealth, PassiveEjectionAfterConsecutiveFailures) {
  common::ManualClock clock;
  TargetHealth h(provider_with_everything());
  for (int i = 0; i < 2; ++i) {
    h.on_failure(clock.now(), failure(api::FailureClass::server_error));
  }
  EXPECT_TRUE(h.peek(clock.now()).routable);
  h.on_failure(clock.now(), failure(api::FailureClass::server_error));
  auto v = h.peek(clock.now());
  EXPECT_FALSE(v.routable);
  EXPECT_NE(v.reason.find("ejected"), std::string::npos) << v.reason;
  EXPECT_FALSE(v.hard);
  clock.advance(11s);
  EXPECT_TRUE(h.peek(clock.now()).routable);
}

TEST(TargetHealth, ClientFaultsNeverHarmTheTarget) {
  common::ManualClock clock;
  TargetHealth h(provider_with_everything());
  for (int i = 0; i < 10; ++i) {
    h.on_failure(clock.now(), failure(api::FailureClass::client_error, 400));
    h.on_failure(clock.now(), failure(api::FailureClass::context_length, 400));
  }
  EXPECT_TRUE(h.peek(clock.now()).routable);
  EXPECT_EQ(h.snapshot(clock.now()).recent_calls, 0u);
}

TEST(TargetHealth, RetryAfterCoolsTheTargetDown) {
  common::ManualClock clock;
  TargetHealth h(provider_with_everything());
  api::Failure limited{api::FailureClass::rate_limited, 429, 1500ms, "HTTP 429", ""};
  h.on_failure(clock.now(), limited);
  auto v = h.try_admit(clock.now());
  EXPECT_FALSE(v.routable);
  EXPECT_EQ(v.wait, 1500ms);
  EXPECT_NE(v.reason.find("retry-after"), std::string::npos);
  EXPECT_NE(v.reason.find(", 1500ms left"), std::string::npos) << v.reason;
  // The admin view's hold carries the time left as a figure, not in its text.
  auto held = h.snapshot(clock.now()).holds;
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].reason.find("left"), std::string::npos) << held[0].reason;
  EXPECT_EQ(held[0].remaining, 1500ms);
  clock.advance(1600ms);
  EXPECT_TRUE(h.try_admit(clock.now()).routable);
  // A 429 is not ill health: no ejection however many arrive.
  for (int i = 0; i < 10; ++i) {
    h.on_failure(clock.now(), failure(api::FailureClass::rate_limited, 429));
  }
  EXPECT_TRUE(h.peek(clock.now()).routable);
}

TEST(TargetHealth, TheProvidersQuotaRefusesWithoutHarmAndSettlesTokens) {
  common::ManualClock clock;
  auto p = provider_with_everything();
  p.limits.rpm = 2;
  p.limits.tpm = 1000;
  TargetHealth h(p);
  ASSERT_TRUE(h.has_quota());
  EXPECT_TRUE(h.take_quota(300, clock.now()).ok);
  EXPECT_TRUE(h.take_quota(300, clock.now()).ok);
  auto full = h.take_quota(10, clock.now());
  EXPECT_FALSE(full.ok);
  EXPECT_EQ(full.kind, "requests");
  EXPECT_EQ(full.wait, 30000ms);  // 2 a minute: one back in 30 s
  // The answers used 50 tokens each, not 300: 500 come back.
  h.settle_quota(300, 50, clock.now());
  h.settle_quota(300, 50, clock.now());
  clock.advance(30s);
  EXPECT_TRUE(h.take_quota(850, clock.now()).ok);  // 900 left, refilled to the full 1000
  clock.advance(30s);
  auto tokens = h.take_quota(900, clock.now());
  EXPECT_FALSE(tokens.ok);
  EXPECT_EQ(tokens.kind, "tokens");
  // At its limit the target is still healthy: nothing was recorded against it.
  EXPECT_TRUE(h.peek(clock.now()).routable);
  EXPECT_EQ(h.snapshot(clock.now()).recent_calls, 0u);
}

TEST(TargetHealth, ActiveCheckVerdictWithThresholds) {
  common::ManualClock clock;
  TargetHealth h(provider_with_everything());
  h.set_active(false, "connect refused");
  EXPECT_TRUE(h.peek(clock.now()).routable);  // unhealthy_after = 2
  h.set_active(false, "connect refused");
  auto v = h.peek(clock.now());
  EXPECT_FALSE(v.routable);
  EXPECT_NE(v.reason.find("connect refused"), std::string::npos);
  EXPECT_EQ(h.snapshot(clock.now()).active_healthy, false);
  h.set_active(true, "");
  EXPECT_FALSE(h.peek(clock.now()).routable);  // healthy_after = 2
  h.set_active(true, "");
  EXPECT_TRUE(h.peek(clock.now()).routable);
}

TEST(TargetHealth, ProviderKeyRejectedIsHardAndExpires) {
  common::ManualClock clock;
  TargetHealth h(provider_with_everything());
  h.on_failure(clock.now(), failure(api::FailureClass::provider_auth, 401));
  auto v = h.peek(clock.now());
  EXPECT_FALSE(v.routable);
  EXPECT_TRUE(v.hard);
  EXPECT_TRUE(h.snapshot(clock.now()).provider_key_rejected);
  clock.advance(61s);
  EXPECT_TRUE(h.peek(clock.now()).routable);
}

TEST(TargetHealth, OperatorEjectAndRestore) {
  common::ManualClock clock;
  TargetHealth h(provider_with_everything());
  h.operator_eject(clock.now());
  EXPECT_FALSE(h.try_admit(clock.now()).routable);
  EXPECT_TRUE(h.peek(clock.now()).hard);
  h.operator_restore();
  EXPECT_TRUE(h.try_admit(clock.now()).routable);
}

TEST(TargetHealth, BulkheadAtMaxConnections) {
  common::ManualClock clock;
  TargetHealth h(provider_with_everything());
  h.inflight = 2;
  auto v = h.try_admit(clock.now());
  EXPECT_FALSE(v.routable);
  EXPECT_NE(v.reason.find("max_connections"), std::string::npos);
  h.inflight = 1;
  EXPECT_TRUE(h.try_admit(clock.now()).routable);
}

TEST(TargetHealth, CircuitOpensOnFailureRateAndHalfOpens) {
  common::ManualClock clock;
  auto p = provider_with_everything();
  p.health.passive.reset();
  p.circuit_breaker->min_requests = 4;
  p.circuit_breaker->open_after_failure_rate = 0.5;
  p.circuit_breaker->open_for = 5s;
  p.circuit_breaker->half_open_probes = 1;
  TargetHealth h(p);
  h.on_success(clock.now(), 100.0);
  h.on_success(clock.now(), 100.0);
  h.on_failure(clock.now(), failure(api::FailureClass::server_error));
  h.on_failure(clock.now(), failure(api::FailureClass::server_error));
  auto v = h.try_admit(clock.now());
  EXPECT_FALSE(v.routable);
  EXPECT_NE(v.reason.find("circuit open"), std::string::npos) << v.reason;
  EXPECT_EQ(h.snapshot(clock.now()).circuit, resilience::CircuitState::open);
  clock.advance(6s);
  EXPECT_TRUE(h.try_admit(clock.now()).routable);   // the one half-open probe
  EXPECT_FALSE(h.try_admit(clock.now()).routable);  // no second probe until it reports
  h.on_success(clock.now(), 90.0);
  EXPECT_EQ(h.snapshot(clock.now()).circuit, resilience::CircuitState::closed);
}

// The admin view lists every hold, not only the verdict's first, each with the time it has
// left when it ends by time alone; and the last error's age.
TEST(TargetHealth, SnapshotListsEveryHoldWithItsCountdown) {
  common::ManualClock clock;
  auto p = provider_with_everything();
  p.circuit_breaker->min_requests = 3;
  p.circuit_breaker->open_after_failure_rate = 0.5;
  p.circuit_breaker->open_for = 5s;
  TargetHealth h(p);
  auto fresh = h.snapshot(clock.now());
  EXPECT_TRUE(fresh.holds.empty());
  EXPECT_FALSE(fresh.ttft_sampled);
  EXPECT_FALSE(fresh.last_error_age);
  for (int i = 0; i < 3; ++i) {
    h.on_failure(clock.now(), failure(api::FailureClass::server_error));
  }
  api::Failure limited{api::FailureClass::rate_limited, 429, 2000ms, "HTTP 429", ""};
  h.on_failure(clock.now(), limited);
  h.operator_eject(clock.now());
  clock.advance(1s);
  auto s = h.snapshot(clock.now());
  EXPECT_FALSE(s.routable);
  EXPECT_EQ(s.reason, "ejected by operator");
  std::vector<std::string_view> kinds;
  for (const auto& hold : s.holds) {
    kinds.push_back(hold.kind);
  }
  EXPECT_EQ(kinds, (std::vector<std::string_view>{"operator", "ejected", "cooldown",
                                                  "circuit_open"}));
  ASSERT_EQ(s.holds.size(), 4u);
  EXPECT_FALSE(s.holds[0].remaining);  // an operator ejection ends by a restore, not by time
  EXPECT_EQ(s.holds[1].remaining, 9s);
  EXPECT_EQ(s.holds[2].remaining, 1s);
  EXPECT_NE(s.holds[2].reason.find("retry-after 2s"), std::string::npos) << s.holds[2].reason;
  EXPECT_EQ(s.holds[3].remaining, 4s);
  EXPECT_NE(s.holds[3].reason.find("circuit open"), std::string::npos) << s.holds[3].reason;
  EXPECT_EQ(s.last_error, "HTTP 429");
  EXPECT_EQ(s.last_error_age, 1s);
  // A hold that ended by time leaves the list; the others count on.
  clock.advance(1500ms);
  auto later = h.snapshot(clock.now());
  ASSERT_EQ(later.holds.size(), 3u);
  EXPECT_EQ(later.holds[2].kind, "circuit_open");
  EXPECT_EQ(later.holds[2].remaining, 2500ms);
  h.on_success(clock.now(), 120.0);
  EXPECT_TRUE(h.snapshot(clock.now()).ttft_sampled);
}

TEST(HealthRegistry, StateSurvivesReloadWhenEndpointUnchanged) {
  HealthRegistry registry;
  auto p = provider_with_everything();
  auto first = registry.attach(p);
  first->operator_eject(std::chrono::steady_clock::now());
  EXPECT_EQ(registry.attach(p), first);  // same endpoint: same state
  auto moved = p;
  moved.base_url = "https://other.example.test/v1";
  auto second = registry.attach(moved);
  EXPECT_NE(second, first);
  EXPECT_TRUE(second->peek(std::chrono::steady_clock::now()).routable);
  registry.retain({HealthRegistry::identity(moved)});
  EXPECT_EQ(registry.all().size(), 1u);
}

}  // namespace
}  // namespace llmgw::health

namespace llmgw::health {
namespace {

// Health events: one per transition, in order, with the reason; none per request.
TEST(TargetHealthEvents, OneEventPerTransition) {
  common::ManualClock clock;
  std::vector<std::string> seen;
  auto sink = std::make_shared<const HealthEventSink>([&](const HealthEvent& e) {
    seen.push_back(std::string(e.kind) + (e.degraded ? "!" : "") + ": " + e.reason);
  });
  auto cfg = provider_with_everything();
  cfg.health.active.reset();
  TargetHealth h(cfg, sink);
  for (int i = 0; i < 3; ++i) {
    h.on_failure(clock.now(), failure(api::FailureClass::server_error));
  }
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(h.peek(clock.now()).routable);  // no event per request
  }
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].rfind("ejected!: ejected for 10s", 0), 0u) << seen[0];
  clock.advance(11s);
  EXPECT_TRUE(h.peek(clock.now()).routable);  // the ejection ends by time alone
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], "ejection_ended: back in rotation");

  api::Failure limited{api::FailureClass::rate_limited, 429, std::chrono::milliseconds(2000),
                       "HTTP 429", ""};
  h.on_failure(clock.now(), limited);
  clock.advance(3s);
  h.peek(clock.now());
  h.operator_eject(clock.now());
  h.operator_restore();
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[2].rfind("cooldown!: cooling down after HTTP 429", 0), 0u) << seen[2];
  EXPECT_EQ(seen[3], "cooldown_ended: cool-down over");
  EXPECT_EQ(seen[4], "operator_ejected!: ejected by operator");
  EXPECT_EQ(seen[5], "operator_restored: restored by operator");
}

TEST(TargetHealthEvents, CircuitOpensProbesAndCloses) {
  common::ManualClock clock;
  std::vector<std::string> seen;
  auto sink = std::make_shared<const HealthEventSink>(
      [&](const HealthEvent& e) { seen.emplace_back(e.kind); });
  config::ProviderConfig p;
  p.name = "b";
  p.circuit_breaker = config::CircuitBreakerConfig{};
  p.circuit_breaker->min_requests = 2;
  p.circuit_breaker->open_after_failure_rate = 0.5;
  p.circuit_breaker->open_for = 5s;
  p.circuit_breaker->half_open_probes = 1;
  TargetHealth h(p, sink);
  h.on_failure(clock.now(), failure(api::FailureClass::server_error));
  h.on_failure(clock.now(), failure(api::FailureClass::server_error));
  clock.advance(6s);
  ASSERT_TRUE(h.try_admit(clock.now()).routable);  // the half-open probe
  h.on_success(clock.now(), std::nullopt);
  EXPECT_EQ(seen, (std::vector<std::string>{"circuit_open", "circuit_half_open", "circuit_closed"}));
}

}  // namespace
}  // namespace llmgw::health
