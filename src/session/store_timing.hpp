#pragma once
// Timing one session store call for llmgw_session_store_duration_seconds{store,op}: the session
// stage and tap, and the stored responses' stage and tap (module-private).
#include <chrono>
#include <string_view>

#include "llmgw/metrics/metrics.hpp"
#include "llmgw/session/store.hpp"

namespace llmgw::session {

class StoreTiming {
public:
  StoreTiming(metrics::Metrics* metrics, const SessionStore& store, std::string_view op)
      : metrics_(metrics), store_(store), op_(op), t0_(std::chrono::steady_clock::now()) {}

  void done(bool ok) const {
    if (metrics_) {
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0_;
      metrics_->session_store(store_.kind(), op_, took.count(), ok);
    }
  }

private:
  metrics::Metrics* metrics_;
  const SessionStore& store_;
  std::string_view op_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace llmgw::session
