// The span exporter: a bounded queue that drops and counts rather than waits, batches of at
// most max_batch_spans, failures counted, nothing lost at stop.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "llmgw/metrics/metrics.hpp"
#include "llmgw/tracing/exporter.hpp"

namespace llmgw::tracing {
namespace {

// What the fake collector saw; outlives the exporter that owns the poster.
struct Collector {
  void set(bool accept_, bool throw_) {
    std::lock_guard lock(mutex);
    accept = accept_;
    throw_instead = throw_;
  }
  std::mutex mutex;
  std::vector<std::size_t> batch_sizes;
  bool accept = true;
  bool throw_instead = false;
};

class FakePoster final : public Poster {
public:
  explicit FakePoster(Collector& c) : c_(c) {}
  bool post(const std::string& body) override {
    std::lock_guard lock(c_.mutex);
    if (c_.throw_instead) {
      throw std::runtime_error("connection refused");
    }
    auto j = nlohmann::json::parse(body);
    c_.batch_sizes.push_back(j["resourceSpans"][0]["scopeSpans"][0]["spans"].size());
    return c_.accept;
  }

private:
  Collector& c_;
};

std::vector<Span> spans(std::size_t n) {
  std::vector<Span> out(n);
  for (auto& s : out) {
    s.trace_id = std::string(32, 'a');
    s.span_id = std::string(16, 'b');
    s.name = "chat";
  }
  return out;
}

Exporter::Options options(std::size_t queue, std::size_t batch) {
  Exporter::Options o;
  o.max_queue_spans = queue;
  o.max_batch_spans = batch;
  o.export_interval = std::chrono::hours(1);  // only a full batch, flush() or stop export
  return o;
}

TEST(Exporter, AFullQueueDropsAndCountsInsteadOfWaiting) {
  Collector c;
  metrics::Metrics m("test");
  Exporter e(options(3, 100), std::make_unique<FakePoster>(c), &m);
  e.submit(spans(2));
  e.submit(spans(3));
  EXPECT_EQ(e.dropped(), 2u);
  e.flush();
  EXPECT_EQ(e.exported(), 3u);
  EXPECT_EQ(c.batch_sizes, std::vector<std::size_t>{3});
  const auto text = m.serialize();
  EXPECT_NE(text.find("llmgw_trace_spans_total{result=\"dropped\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("llmgw_trace_spans_total{result=\"exported\"} 3"), std::string::npos);
}

TEST(Exporter, BatchesAreBoundedAndNothingQueuedIsLostAtStop) {
  Collector c;
  {
    Exporter e(options(100, 2), std::make_unique<FakePoster>(c), nullptr);
    e.submit(spans(5));  // a full batch wakes the thread; the rest waits for the stop
  }
  std::size_t total = 0;
  for (auto n : c.batch_sizes) {
    EXPECT_LE(n, 2u);
    total += n;
  }
  EXPECT_EQ(total, 5u);
}

TEST(Exporter, ACollectorThatRefusesOrFailsCostsTheSpansOnlyCounted) {
  Collector c;
  Exporter e(options(100, 100), std::make_unique<FakePoster>(c), nullptr);
  c.set(false, false);
  e.submit(spans(2));
  e.flush();
  c.set(false, true);
  e.submit(spans(3));
  e.flush();
  EXPECT_EQ(e.failed(), 5u);
  EXPECT_EQ(e.exported(), 0u);
  c.set(true, false);
  e.submit(spans(1));
  e.flush();
  EXPECT_EQ(e.exported(), 1u) << "the next batch goes as usual";
}

TEST(Exporter, ACollectorThatIsDownGetsOneBatchPerRoundNotOnePerQueuedBatch) {
  Collector c;
  c.set(false, false);
  metrics::Metrics m("test");
  {
    Exporter e(options(100, 2), std::make_unique<FakePoster>(c), &m);
    e.submit(spans(20));  // ten batches; the thread's round (and the stop) try one each
  }
  std::lock_guard lock(c.mutex);
  EXPECT_LE(c.batch_sizes.size(), 3u);
  const auto failed = 2 * c.batch_sizes.size();
  const auto text = m.serialize();
  EXPECT_NE(text.find("llmgw_trace_spans_total{result=\"failed\"} " + std::to_string(failed)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("llmgw_trace_spans_total{result=\"dropped\"} " +
                      std::to_string(20 - failed)),
            std::string::npos)
      << "the rest is dropped at stop, counted: " << text;
}

}  // namespace
}  // namespace llmgw::tracing
