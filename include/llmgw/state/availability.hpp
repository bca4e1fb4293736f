#pragma once
// Whether the shared state (state.backend: redis) answers, per feature that uses it. Every call
// reports its outcome; only a change (up → down, down → up) reaches the sink, once, so an
// outage is one log line and one metric step, not one per request. The sink (set by the app:
// metric + daemon log) runs on the reporting thread.
#include <array>
#include <atomic>
#include <functional>
#include <string>
#include <string_view>

namespace llmgw::state {

enum class Feature { limits, budgets, cache };
inline constexpr std::size_t kFeatures = 3;
std::string_view to_string(Feature f);

struct AvailabilityEvent {
  Feature feature;
  bool available = false;
  std::string_view where;   // "redis 127.0.0.1:6379"
  std::string_view reason;  // why it is down (empty when it came back)
  std::string_view policy;  // what the feature does meanwhile (state.on_unavailable)
};

class Availability {
public:
  using Sink = std::function<void(const AvailabilityEvent&)>;
  /// Before any report (at start, on the control thread).
  void set_sink(Sink sink) { sink_ = std::move(sink); }
  void report_ok(Feature f, std::string_view where);
  void report_down(Feature f, std::string_view where, std::string_view reason,
                   std::string_view policy);
  /// True until a failure is reported (and again after a success).
  bool available(Feature f) const {
    return state_[static_cast<std::size_t>(f)].load(std::memory_order_relaxed) != kDown;
  }

private:
  static constexpr int kUnknown = 0, kUp = 1, kDown = 2;
  std::array<std::atomic<int>, kFeatures> state_{};
  Sink sink_;
};

}  // namespace llmgw::state
