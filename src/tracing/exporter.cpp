// The span queue and its exporter thread (see exporter.hpp).
#include "llmgw/tracing/exporter.hpp"

#include <algorithm>

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <spdlog/spdlog.h>

#include "llmgw/config/config.hpp"
#include "llmgw/metrics/metrics.hpp"

namespace llmgw::tracing {

Exporter::Exporter(Options options, std::unique_ptr<Poster> poster, metrics::Metrics* metrics)
    : options_(std::move(options)), poster_(std::move(poster)) {
  if (metrics) {
    auto& family = prometheus::BuildCounter()
                       .Name("llmgw_trace_spans_total")
                       .Help("Trace spans by what became of them: exported, dropped (the "
                             "queue was full), failed (the collector did not take them)")
                       .Register(metrics->registry());
    exported_counter_ = &family.Add({{"result", "exported"}});
    dropped_counter_ = &family.Add({{"result", "dropped"}});
    failed_counter_ = &family.Add({{"result", "failed"}});
  }
  thread_ = std::thread([this] { run(); });
}

std::shared_ptr<Exporter> Exporter::make(const config::TracingConfig& cfg,
                                         metrics::Metrics& metrics) {
  Options o;
  o.service_name = cfg.service_name;
  o.sample_ratio = cfg.sample_ratio;
  o.max_queue_spans = cfg.max_queue_spans;
  o.max_batch_spans = cfg.max_batch_spans;
  o.export_interval = cfg.export_interval;
  o.stop_flush = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.export_timeout);
  return std::make_shared<Exporter>(std::move(o), make_http_poster(cfg), &metrics);
}

Exporter::~Exporter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  // What is left goes out while the collector takes it, for at most one export timeout in
  // all: a slow collector must not hold the exit past the service manager's stop timeout.
  const auto deadline = std::chrono::steady_clock::now() + options_.stop_flush;
  while (std::chrono::steady_clock::now() < deadline && export_batch() == Sent::ok) {
  }
  std::lock_guard lock(mutex_);
  count_dropped(queue_.size());
  queue_.clear();
}

void Exporter::count_dropped(std::size_t n) {
  if (n == 0) {
    return;
  }
  dropped_.fetch_add(n, std::memory_order_relaxed);
  if (dropped_counter_) {
    dropped_counter_->Increment(static_cast<double>(n));
  }
}

void Exporter::submit(std::vector<Span> spans) {
  std::size_t lost = 0;
  bool full_batch = false;
  {
    std::lock_guard lock(mutex_);
    const auto before = queue_.size();
    for (auto& s : spans) {
      if (queue_.size() >= options_.max_queue_spans) {
        ++lost;
        continue;
      }
      queue_.push_back(std::move(s));
    }
    full_batch = before < options_.max_batch_spans && queue_.size() >= options_.max_batch_spans;
  }
  count_dropped(lost);
  // Once per full batch, not per request: the thread otherwise wakes on its interval.
  if (full_batch) {
    wake_.notify_one();
  }
}

void Exporter::flush() {
  while (export_batch() != Sent::nothing) {
  }
}

void Exporter::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.export_interval, [this] {
      return stopping_ || queue_.size() >= options_.max_batch_spans;
    });
    lock.unlock();
    // A round ends at the first failure: a collector that is down gets one request per
    // interval, not one per queued batch.
    while (export_batch() == Sent::ok) {
    }
    lock.lock();
  }
}

Exporter::Sent Exporter::export_batch() {
  std::lock_guard post(post_mutex_);
  std::vector<Span> batch;
  {
    std::lock_guard lock(mutex_);
    const auto n = std::min(queue_.size(), options_.max_batch_spans);
    if (n == 0) {
      return Sent::nothing;
    }
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  const auto body = otlp_json(batch, options_.service_name, LLMGW_VERSION);
  bool ok = false;
  try {
    ok = poster_->post(body);
  } catch (const std::exception& e) {
    spdlog::debug("tracing: export failed: {}", e.what());
  }
  auto& total = ok ? exported_ : failed_;
  total.fetch_add(batch.size(), std::memory_order_relaxed);
  if (auto* counter = ok ? exported_counter_ : failed_counter_) {
    counter->Increment(static_cast<double>(batch.size()));
  }
  return ok ? Sent::ok : Sent::failed;
}

}  // namespace llmgw::tracing
