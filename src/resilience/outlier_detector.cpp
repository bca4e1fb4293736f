#include "llmgw/resilience/outlier_detector.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmgw::resilience {

namespace {

std::string format_duration(Duration d) {
  if (d.count() % 1000 == 0) {
    return std::to_string(d.count() / 1000) + "s";
  }
  return std::to_string(d.count()) + "ms";
}

}  // namespace

OutlierDetector::OutlierDetector(const config::PassiveHealthConfig& cfg)
    : cfg_(cfg), window_(cfg.window) {}

// eject_for * 2^level, capped. Doubling stops at the cap, so no overflow for any level.
Duration OutlierDetector::ejection_length(unsigned level) const {
  const Duration cap = std::max(cfg_.max_eject_for, cfg_.eject_for);
  Duration d = cfg_.eject_for;
  for (unsigned i = 0; i < level && d < cap; ++i) {
    d *= 2;
  }
  return std::min(d, cap);
}

void OutlierDetector::settle(TimePoint now) {
  if (ejection_open_ && now >= ejected_until_) {
    // The target gets a fresh start: judging it on the failures that ejected it would re-eject
    // it on its first new failure.
    ejection_open_ = false;
    window_.reset();
    consecutive_ = 0;
  }
}

void OutlierDetector::start_ejection(TimePoint now, Reason why) {
  const Duration len = ejection_length(level_);
  if (why != Reason::manual && len < ejection_length(level_ + 1)) {
    // Only evidence from traffic grows the next ejection; an operator's eject says nothing
    // about the target. Growth stops at the cap so that successes bring it back down at once.
    ++level_;
  }
  ejection_open_ = true;
  ejected_until_ = now + len;
  ejected_for_ = len;
  reason_ = why;
  ++ejections_;
}

void OutlierDetector::on_success(TimePoint now) {
  settle(now);
  if (ejected(now)) {
    // Late results of calls sent before the ejection: the evidence is cleared when it ends.
    return;
  }
  consecutive_ = 0;
  window_.record(now, true);
  if (level_ > 0) {
    --level_;
  }
}

bool OutlierDetector::on_failure(TimePoint now) {
  settle(now);
  if (ejected(now)) {
    return false;  // already out; a failure must not extend or re-count the ejection
  }
  if (consecutive_ < std::numeric_limits<unsigned>::max()) {
    ++consecutive_;
  }
  window_.record(now, false);
  // consecutive_failures == 0 disables this check (validation requires >= 1 anyway).
  if (cfg_.consecutive_failures > 0 && consecutive_ >= cfg_.consecutive_failures) {
    reason_consecutive_ = consecutive_;
    start_ejection(now, Reason::consecutive);
    return true;
  }
  const auto t = window_.totals(now);
  if (t.total() >= cfg_.min_requests && t.failure_rate() >= cfg_.failure_rate) {
    reason_totals_ = t;
    start_ejection(now, Reason::rate);
    return true;
  }
  return false;
}

bool OutlierDetector::ejected(TimePoint now) const {
  return ejection_open_ && now < ejected_until_;
}

TimePoint OutlierDetector::ejected_until() const {
  return ejected_until_;
}

unsigned OutlierDetector::ejections() const {
  return ejections_;
}

std::string OutlierDetector::describe(TimePoint now) const {
  if (!ejected(now)) {
    return "";
  }
  std::string s = "ejected for " + format_duration(ejected_for_);
  switch (reason_) {
    case Reason::consecutive:
      return s + " after " + std::to_string(reason_consecutive_) + " consecutive failures";
    case Reason::rate:
      return s + " after failure rate " +
             std::to_string(std::lround(reason_totals_.failure_rate() * 100)) + "% over " +
             std::to_string(reason_totals_.total()) + " calls";
    case Reason::manual:
      return s + " by operator";
  }
  return s;
}

void OutlierDetector::eject(TimePoint now) {
  settle(now);
  if (ejected(now)) {
    // Already out: the operator's eject must not shorten the ejection nor count a new one.
    const Duration len = ejection_length(level_);
    if (now + len > ejected_until_) {
      ejected_until_ = now + len;
      ejected_for_ = len;
      reason_ = Reason::manual;
    }
    return;
  }
  start_ejection(now, Reason::manual);
}

void OutlierDetector::restore() {
  ejection_open_ = false;
  ejected_until_ = TimePoint{};
  window_.reset();
  consecutive_ = 0;
}

}  // namespace llmgw::resilience
