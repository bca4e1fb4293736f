#include "llmgw/api/json.hpp"

#include <gtest/gtest.h>

#include <string>

namespace llmgw::api {
namespace {

std::string nested(std::size_t depth, std::string_view inner = "1") {
  return std::string(depth, '[') + std::string(inner) + std::string(depth, ']');
}

TEST(ParseJson, BuildsTheSameTreeAsNlohmann) {
  const char* text = R"({"a":[1,2.5,-3,true,null,"x\u00e9"],"b":{"c":{}},"d":[]})";
  auto ours = parse_json(text);
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(*ours, nlohmann::json::parse(text));
  auto ordered = parse_ordered_json(R"({"z":1,"a":2})");
  ASSERT_TRUE(ordered.ok());
  EXPECT_EQ(ordered->dump(), R"({"z":1,"a":2})");  // order kept
}

TEST(ParseJson, DepthLimitIsExactAndNamesThePath) {
  EXPECT_TRUE(parse_json(nested(128)).ok());
  auto deep = parse_json(nested(129));
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().kind, JsonError::Kind::too_deep);

  JsonLimits three{3};
  EXPECT_TRUE(parse_json(R"({"a":{"b":[1]}})", three).ok());
  auto e = parse_json(R"({"messages":[{"content":[[1]]}]})", three);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().path, "messages[0].content");
  EXPECT_NE(e.error().message.find("3 levels"), std::string::npos);
  auto in_array = parse_json(R"([1,2,[3,[4,[5]]]])", three);
  ASSERT_FALSE(in_array.ok());
  EXPECT_EQ(in_array.error().path, "[2][1][1]");  // the container that would go too deep
}

TEST(ParseJson, HundredThousandLevelsAreRefusedWithoutRecursing) {
  auto e = parse_json(nested(100000));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().kind, JsonError::Kind::too_deep);
  EXPECT_LT(shorten_path(e.error().path).size(), 260u);
}

TEST(ParseJson, DuplicateKeysAndNulBytesAreRefused) {
  auto dup = parse_json(R"({"model":"a","x":{"k":1,"k":2}})");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().kind, JsonError::Kind::duplicate_key);
  EXPECT_EQ(dup.error().path, "x.k");
  EXPECT_TRUE(parse_json(R"({"k":1,"k":2})", JsonLimits{128, false}).ok());

  std::string with_nul = R"({"a":1})";
  with_nul.push_back('\0');
  with_nul += "garbage";
  auto nul = parse_json(with_nul);
  ASSERT_FALSE(nul.ok());
  EXPECT_EQ(nul.error().kind, JsonError::Kind::nul_byte);
  EXPECT_NE(nul.error().message.find("byte 7"), std::string::npos);
}

TEST(ParseJson, SyntaxErrorsNameAByteNotTheInput) {
  auto e = parse_json(R"({"a": tru})");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().kind, JsonError::Kind::syntax);
  EXPECT_EQ(e.error().message.find("tru"), std::string::npos);  // no echo of client text
  EXPECT_FALSE(parse_json("").ok());
  EXPECT_FALSE(parse_json("{} {}").ok());
}

TEST(ScanJson, ReportsTopLevelTypesAndLimits) {
  auto shape = scan_json(R"({"choices":[{"x":{"y":1}}],"usage":{}})", 8, {"choices", "data"});
  EXPECT_TRUE(shape.valid);
  EXPECT_TRUE(shape.object);
  EXPECT_EQ(shape.type(0), nlohmann::json::value_t::array);
  EXPECT_EQ(shape.type(1), nlohmann::json::value_t::discarded);
  // A nested "choices" is not a top-level one.
  auto nested_key = scan_json(R"({"a":{"choices":[]}})", 8, {"choices"});
  EXPECT_EQ(nested_key.type(0), nlohmann::json::value_t::discarded);
  EXPECT_FALSE(scan_json(nested(100000), 128).valid);
  EXPECT_FALSE(scan_json("{\"a\":", 128).valid);
  EXPECT_FALSE(scan_json("[1]", 128).object);
}

TEST(NestingExceeds, SkipsStringsAndCountsContainers) {
  EXPECT_FALSE(nesting_exceeds(R"({"a":"[[[[[[[[[[","b":[1]})", 2));
  EXPECT_TRUE(nesting_exceeds(R"({"a":[{"b":1}]})", 2));
  EXPECT_FALSE(nesting_exceeds(R"({"a":"\"[[[[["})", 1));  // escaped quote stays in the string
  EXPECT_TRUE(nesting_exceeds(nested(100000), 128));
}

}  // namespace
}  // namespace llmgw::api
