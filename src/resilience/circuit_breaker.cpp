#include "llmgw/resilience/circuit_breaker.hpp"

#include <algorithm>

namespace llmgw::resilience {

const char* to_string(CircuitState s) {
  switch (s) {
    case CircuitState::closed:
      return "closed";
    case CircuitState::half_open:
      return "half_open";
    case CircuitState::open:
      return "open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(const config::CircuitBreakerConfig& cfg)
    : cfg_(cfg), window_(cfg.window) {}

// Config validation requires >= 1; a zero would leave half-open unable to ever close.
unsigned CircuitBreaker::probe_limit() const {
  return std::max(cfg_.half_open_probes, 1u);
}

void CircuitBreaker::advance(TimePoint now) {
  if (state_ == CircuitState::open && now >= open_until_) {
    state_ = CircuitState::half_open;
    probes_in_flight_ = 0;
    probe_successes_ = 0;
  }
}

void CircuitBreaker::open(TimePoint now, OpenReason why) {
  state_ = CircuitState::open;
  open_until_ = now + cfg_.open_for;
  open_reason_ = why;
  // Outcomes of probes still in flight arrive while open and are ignored, so forget them.
  probes_in_flight_ = 0;
  probe_successes_ = 0;
}

bool CircuitBreaker::try_acquire(TimePoint now) {
  advance(now);
  switch (state_) {
    case CircuitState::closed:
      return true;
    case CircuitState::open:
      return false;
    case CircuitState::half_open:
      if (probes_in_flight_ >= probe_limit()) {
        return false;
      }
      ++probes_in_flight_;
      return true;
  }
  return false;
}

void CircuitBreaker::on_success(TimePoint now) {
  advance(now);
  switch (state_) {
    case CircuitState::closed:
      window_.record(now, true);
      return;
    // Late outcomes of calls admitted before it opened: the window is cleared on closing anyway.
    case CircuitState::open:
      return;
    case CircuitState::half_open:
      if (probes_in_flight_ > 0) {
        --probes_in_flight_;
      }
      ++probe_successes_;
      if (probe_successes_ >= probe_limit()) {
        // Start from a clean window so the failures that opened it cannot re-trip it at once.
        state_ = CircuitState::closed;
        window_.reset();
        probes_in_flight_ = 0;
        probe_successes_ = 0;
      }
      return;
  }
}

void CircuitBreaker::on_failure(TimePoint now) {
  advance(now);
  switch (state_) {
    case CircuitState::closed: {
      window_.record(now, false);
      const auto t = window_.totals(now);
      if (t.total() >= cfg_.min_requests && t.failure_rate() >= cfg_.open_after_failure_rate) {
        tripped_with_ = t;
        open(now, OpenReason::tripped);
      }
      return;
    }
    case CircuitState::open:
      return;
    case CircuitState::half_open:
      open(now, OpenReason::probe_failed);
      return;
  }
}

void CircuitBreaker::on_abandoned(TimePoint now) {
  advance(now);
  if (state_ == CircuitState::half_open && probes_in_flight_ > 0) {
    --probes_in_flight_;
  }
}

CircuitState CircuitBreaker::state(TimePoint now) {
  advance(now);
  return state_;
}

std::string CircuitBreaker::describe(TimePoint now) {
  advance(now);
  switch (state_) {
    case CircuitState::closed:
      return "";
    case CircuitState::half_open:
      return "circuit half-open (" + std::to_string(probes_in_flight_) + " of " +
             std::to_string(probe_limit()) + " probes in flight)";
    case CircuitState::open:
      switch (open_reason_) {
        case OpenReason::tripped:
          return "circuit open (" + std::to_string(tripped_with_.failures) + " of " +
                 std::to_string(tripped_with_.total()) + " recent calls failed)";
        case OpenReason::probe_failed:
          return "circuit open (a half-open probe failed)";
        case OpenReason::forced:
          return "circuit open (forced by operator)";
      }
  }
  return "";
}

void CircuitBreaker::force_open(TimePoint now) {
  open(now, OpenReason::forced);
}

void CircuitBreaker::reset() {
  state_ = CircuitState::closed;
  window_.reset();
  probes_in_flight_ = 0;
  probe_successes_ = 0;
}

SlidingCounter::Totals CircuitBreaker::window_totals(TimePoint now) const {
  return window_.totals(now);
}

unsigned CircuitBreaker::probes_in_flight() const {
  return probes_in_flight_;
}

}  // namespace llmgw::resilience
