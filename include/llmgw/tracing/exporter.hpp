#pragma once
// Spans leave the gateway through one exporter thread: workers hand finished spans to a
// bounded queue (a lock, a move; a full queue drops them and counts), and the thread sends
// them in batches (every export_interval, or sooner when a batch is full) with the blocking
// I/O on itself. A collector that is slow, down or refusing costs spans, never requests.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "llmgw/tracing/span.hpp"

namespace llmgw::config {
struct TracingConfig;
}
namespace llmgw::metrics {
class Metrics;
}
namespace prometheus {
class Counter;
}

namespace llmgw::tracing {

/// Sends one encoded batch; runs on the exporter thread only. True when the collector took it.
class Poster {
public:
  virtual ~Poster() = default;
  virtual bool post(const std::string& body) = 0;
};

/// POST {otlp_endpoint}/v1/traces over the upstream client (TLS and all), on its own
/// io_context that only the exporter thread runs.
std::unique_ptr<Poster> make_http_poster(const config::TracingConfig& cfg);

class Exporter {
public:
  struct Options {
    std::string service_name = "llmgw";
    double sample_ratio = 1.0;
    std::size_t max_queue_spans = 8192;
    std::size_t max_batch_spans = 512;
    std::chrono::milliseconds export_interval{1000};
    // The whole flush at stop takes at most this long (the poster's own timeout per batch).
    std::chrono::milliseconds stop_flush{5000};
  };

  /// `metrics` (may be null) gets llmgw_trace_spans_total{result="exported|dropped|failed"}.
  Exporter(Options options, std::unique_ptr<Poster> poster, metrics::Metrics* metrics);
  static std::shared_ptr<Exporter> make(const config::TracingConfig& cfg,
                                        metrics::Metrics& metrics);
  /// Exports what is queued, then stops; once an export fails, the rest is dropped (counted):
  /// a collector that is down must not hold the shutdown for a timeout per batch.
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  double sample_ratio() const { return options_.sample_ratio; }

  /// Queues a request's spans (on a worker: no I/O, no waiting beyond the queue's lock). What
  /// does not fit is dropped and counted.
  void submit(std::vector<Span> spans);
  /// Exports everything queued now and returns when done (tests, stop).
  void flush();

  std::uint64_t exported() const { return exported_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }

private:
  enum class Sent { nothing, ok, failed };
  void run();
  Sent export_batch();
  void count_dropped(std::size_t n);

  const Options options_;
  std::unique_ptr<Poster> poster_;
  prometheus::Counter* exported_counter_ = nullptr;
  prometheus::Counter* dropped_counter_ = nullptr;
  prometheus::Counter* failed_counter_ = nullptr;
  std::atomic<std::uint64_t> exported_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> failed_{0};

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Span> queue_;
  bool stopping_ = false;
  std::mutex post_mutex_;  // one batch at a time (the thread, flush())
  std::thread thread_;
};

}  // namespace llmgw::tracing
