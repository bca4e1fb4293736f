#pragma once
// The verdict of a periodic check (active HTTP/TCP or semantic probe): healthy after
// `healthy_after` passes in a row, unhealthy after `unhealthy_after` failures in a row.
// Not thread safe.
namespace llmgw::resilience {

class HealthThreshold {
public:
  HealthThreshold(unsigned healthy_after, unsigned unhealthy_after, bool start_healthy = true);
  /// Records one check result; returns true when the verdict changed.
  bool record(bool passed);
  bool healthy() const;
  unsigned consecutive_failures() const;

private:
  unsigned healthy_after_;
  unsigned unhealthy_after_;
  bool healthy_;
  unsigned passes_ = 0;
  unsigned failures_ = 0;
};

}  // namespace llmgw::resilience
