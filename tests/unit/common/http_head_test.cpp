#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "llmgw/common/http_head.hpp"

namespace llmgw::common {
namespace {

struct Field {
  std::string name;
  std::string value;
};

TEST(HttpHead, StatusLineCarriesTheStandardReason) {
  std::string out;
  append_status_line(out, 200);
  append_status_line(out, 503);
  append_status_line(out, 431);
  append_status_line(out, 299);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nHTTP/1.1 503 Service Unavailable\r\n"
            "HTTP/1.1 431 Request Header Fields Too Large\r\nHTTP/1.1 299 Unknown\r\n");
}

TEST(HttpHead, AnOutOfRangeStatusBecomes500) {
  std::string out;
  append_status_line(out, 42);
  EXPECT_EQ(out, "HTTP/1.1 500 Internal Server Error\r\n");
}

TEST(HttpHead, RequestLineAndFields) {
  std::string out;
  append_request_line(out, "POST", "/v1/chat/completions?x=1");
  append_field(out, "Host", "api.example.com");
  EXPECT_EQ(out, "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: api.example.com\r\n");
}

// Beast's set(): the last value of a repeated name wins, whatever its case.
TEST(HttpHead, ARepeatedNameKeepsItsLastValue) {
  std::vector<Field> fields{{"content-type", "text/plain"}, {"x-a", "1"},
                            {"Content-Type", "application/json"}};
  std::string out;
  append_fields(out, fields);
  EXPECT_EQ(out, "x-a: 1\r\nContent-Type: application/json\r\n");
}

// The writer frames the message itself: a caller's length, encoding or connection fields would
// contradict it (and hop-by-hop fields never cross a proxy).
TEST(HttpHead, FramingAndHopByHopFieldsAreDropped) {
  std::vector<Field> fields{{"Content-Length", "5"},   {"transfer-encoding", "chunked"},
                            {"Connection", "close"},   {"Keep-Alive", "timeout=5"},
                            {"Upgrade", "h2c"},        {"TE", "trailers"},
                            {"Trailer", "x"},          {"Proxy-Connection", "keep-alive"},
                            {"retry-after", "3"}};
  std::string out;
  append_fields(out, fields);
  EXPECT_EQ(out, "retry-after: 3\r\n");
}

}  // namespace
}  // namespace llmgw::common
