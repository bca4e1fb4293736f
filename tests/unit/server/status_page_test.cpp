#include <gtest/gtest.h>

#include "server/status_view.hpp"

namespace llmgw::server {
namespace {

using namespace std::chrono_literals;

StatusView hostile_view() {
  StatusView view;
  health::HealthSnapshot s;
  s.provider = "<script>alert(1)</script>";
  s.routable = false;
  s.reason = "ejected by operator";
  s.holds.push_back(health::Hold{"operator", "ejected by operator", 0ms, true, std::nullopt});
  s.holds.push_back(health::Hold{"cooldown", "cooling down after HTTP 429 with retry-after 2s",
                                 1001ms, false, 1001ms});
  s.last_error = "HTTP 500: <img src=x onerror=\"alert('x')\">";
  s.last_error_age = 125s;
  view.providers.push_back(ProviderStatus{nullptr, s});
  router::ModelPreview m;
  m.name = "chat\"><b>";
  m.plan.push_back(router::PlanStep{"chat\"><b>", "b&co", "m'1", false});
  m.routable = true;
  view.models.push_back(m);
  return view;
}

TEST(StatusPage, EscapesEveryNameAndMessage) {
  auto page = status_page(hostile_view());
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_EQ(page.find("<b>"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("data-model=\"chat&quot;&gt;&lt;b&gt;\""), std::string::npos);
  EXPECT_NE(page.find("b&amp;co (m&#39;1)"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos) << "the page runs no script at all";
}

TEST(StatusPage, CountdownsAgesAndNoData) {
  auto page = status_page(hostile_view());
  // Rounded up: 1001 ms left is "2 s left", never a "0 s left" while the hold stands.
  EXPECT_NE(page.find("data-ms=\"1001\">2 s left</span>"), std::string::npos) << page;
  EXPECT_NE(page.find("(2 min ago)"), std::string::npos);
  EXPECT_NE(page.find("<td class=\"ttft\">&mdash;</td>"), std::string::npos)
      << "no TTFT sample: no data, not 0.0";
  EXPECT_NE(page.find("<li data-kind=\"operator\">ejected by operator</li>"), std::string::npos);
  EXPECT_NE(page.find("<li data-provider=\"b&amp;co\" class=\"next\">"), std::string::npos);
}

}  // namespace
}  // namespace llmgw::server
