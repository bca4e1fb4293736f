#include "llmgw/state/availability.hpp"

namespace llmgw::state {

std::string_view to_string(Feature f) {
  switch (f) {
    case Feature::limits:
      return "limits";
    case Feature::budgets:
      return "budgets";
    case Feature::cache:
      return "cache";
  }
  return "?";
}

void Availability::report_ok(Feature f, std::string_view where) {
  auto& s = state_[static_cast<std::size_t>(f)];
  // The common case (already up) is one relaxed load, no write to a shared line.
  if (s.load(std::memory_order_relaxed) == kUp) {
    return;
  }
  const int was = s.exchange(kUp);
  if (was == kDown && sink_) {
    sink_(AvailabilityEvent{f, true, where, {}, {}});
  }
}

void Availability::report_down(Feature f, std::string_view where, std::string_view reason,
                               std::string_view policy) {
  auto& s = state_[static_cast<std::size_t>(f)];
  if (s.load(std::memory_order_relaxed) == kDown) {
    return;
  }
  if (s.exchange(kDown) != kDown && sink_) {
    sink_(AvailabilityEvent{f, false, where, reason, policy});
  }
}

}  // namespace llmgw::state
