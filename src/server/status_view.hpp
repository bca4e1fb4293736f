#pragma once
// The admin view of routing now, read once per admin request: every provider's health and
// every model's plan. /admin/upstreams renders it as JSON and GET / as the status page, so
// the page and scripts reading the JSON see the same verdicts, reasons and countdowns.
// Reads health through TargetHealth's thread-safe snapshot (the admin handler runs on the
// control thread while workers route).
#include <string>
#include <vector>

#include "llmgw/health/target_health.hpp"
#include "llmgw/router/preview.hpp"
#include "llmgw/router/route_table.hpp"

namespace llmgw::server {

struct ProviderStatus {
  const router::ProviderRoute* route = nullptr;
  health::HealthSnapshot health;
};

struct StatusView {
  std::vector<ProviderStatus> providers;     // config order
  std::vector<router::ModelPreview> models;  // config order; empty from provider_status()
};

/// The providers' half only (what the metrics gauges mirror).
StatusView provider_status(const router::RouteTable& table, resilience::TimePoint now);
/// Providers and models.
StatusView status_view(const router::RouteTable& table, resilience::TimePoint now);

/// GET /admin/upstreams.
std::string upstreams_json(const StatusView& view);
/// GET /: one self-contained HTML page (no scripts, no external assets) refreshing itself.
std::string status_page(const StatusView& view);

}  // namespace llmgw::server
