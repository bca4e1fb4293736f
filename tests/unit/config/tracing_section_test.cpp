// The tracing section: defaults, every setting, and errors at their FILE:LINE:COL.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "llmgw/config/loader.hpp"

namespace llmgw::config {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

LoadResult load(std::string_view yaml) {
  return load_string(yaml, "t.yaml", [](std::string_view) { return std::nullopt; });
}

std::vector<std::string> errors_of(std::string_view yaml) {
  std::vector<std::string> out;
  for (const auto& e : load(yaml).errors) {
    out.push_back(e.to_string());
  }
  return out;
}

TEST(TracingSection, OffWhenAbsentAndDefaultsWhenOnlyTheEndpointIsGiven) {
  auto none = load("server:\n");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.config->tracing);
  auto on = load("tracing:\n  otlp_endpoint: http://127.0.0.1:4318\n");
  ASSERT_TRUE(on.ok());
  ASSERT_TRUE(on.config->tracing);
  const auto& t = *on.config->tracing;
  EXPECT_EQ(t.url.host, "127.0.0.1");
  EXPECT_EQ(t.url.port, 4318);
  EXPECT_EQ(t.sample_ratio, 1.0);
  EXPECT_EQ(t.service_name, "llmgw");
  EXPECT_EQ(t.max_queue_spans, 8192u);
  EXPECT_EQ(t.export_interval, std::chrono::seconds(1));
}

TEST(TracingSection, EverySettingIsRead) {
  auto r = load(R"(tracing:
  otlp_endpoint: https://collector.example:4318/otlp
  sample_ratio: 0.25
  service_name: gw-eu
  headers: { x-api-key: secret-123 }
  max_queue_spans: 100
  max_batch_spans: 10
  export_interval: 200ms
  export_timeout: 2s
)");
  ASSERT_TRUE(r.ok());
  const auto& t = *r.config->tracing;
  EXPECT_EQ(t.url.path, "/otlp");
  EXPECT_EQ(t.sample_ratio, 0.25);
  EXPECT_EQ(t.service_name, "gw-eu");
  EXPECT_EQ(t.headers.at("x-api-key"), "secret-123");
  EXPECT_EQ(t.max_queue_spans, 100u);
  EXPECT_EQ(t.max_batch_spans, 10u);
  EXPECT_EQ(t.export_interval, std::chrono::milliseconds(200));
  EXPECT_EQ(t.export_timeout, std::chrono::seconds(2));
  // The collector's headers are credentials: /admin/config shows none of them.
  EXPECT_EQ(to_redacted_json(*r.config).find("secret-123"), std::string::npos);
}

TEST(TracingSection, ErrorsNameTheirPlace) {
  EXPECT_THAT(errors_of("tracing:\n  sample_ratio: 0.5\n"),
              ElementsAre(StartsWith("t.yaml:2:3: tracing")));
  EXPECT_THAT(errors_of("tracing:\n  otlp_endpoint: http://c:4318\n  sample_ratio: 1.5\n"),
              ElementsAre(StartsWith("t.yaml:3:17: tracing.sample_ratio:")));
  EXPECT_THAT(errors_of("tracing:\n  otlp_endpoint: collector:4318\n"),
              ElementsAre(AllOf(StartsWith("t.yaml:2:18: tracing.otlp_endpoint:"),
                                HasSubstr("invalid URL"))));
  EXPECT_THAT(errors_of("tracing:\n  otlp_endpoint: http://c:4318/v1/traces\n"),
              ElementsAre(AllOf(StartsWith("t.yaml:2:18: tracing.otlp_endpoint:"),
                                HasSubstr("/v1/traces is appended"))));
  EXPECT_THAT(errors_of("tracing:\n  otlp_endpoint: http://c:4318\n  sampler: always\n"),
              ElementsAre(StartsWith("t.yaml:3:3: tracing.sampler: unknown key")));
}

}  // namespace
}  // namespace llmgw::config
