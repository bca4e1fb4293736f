// Prompt templates: what parses (placeholders, whitespace in the braces, literal braces), what
// the loader must refuse (an unclosed '{{', a name that is no variable name) and how values
// render (strings as they are, numbers and booleans as JSON text, the rest refused).
#include "llmgw/prompts/template.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace llmgw::prompts {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

Template parsed(std::string_view text) {
  auto t = parse(text);
  EXPECT_TRUE(t.ok()) << text << ": " << (t.ok() ? "" : t.error());
  return t.ok() ? *t : Template{};
}

std::string parse_error(std::string_view text) {
  auto t = parse(text);
  EXPECT_FALSE(t.ok()) << text;
  return t.ok() ? std::string() : t.error();
}

std::string rendered(std::string_view text, const json& variables) {
  auto r = render(parsed(text), variables);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? *r : std::string("<error: ") + (r.ok() ? "" : r.error().variable) + ">";
}

TEST(PromptTemplate, LiteralTextAndPlaceholdersInOrder) {
  auto t = parsed("Hello {{name}}, you are {{ age }} years old.");
  ASSERT_EQ(t.pieces.size(), 5u);
  EXPECT_EQ(t.pieces[0].text, "Hello ");
  EXPECT_FALSE(t.pieces[0].variable);
  EXPECT_EQ(t.pieces[1].text, "name");
  EXPECT_TRUE(t.pieces[1].variable);
  EXPECT_EQ(t.pieces[3].text, "age");
  EXPECT_EQ(t.pieces[4].text, " years old.");
  EXPECT_EQ(t.variables(), (Strings{"name", "age"}));
}

TEST(PromptTemplate, WhitespaceInsideTheBracesIsAllowed) {
  for (std::string_view text : {"{{x}}", "{{ x }}", "{{\tx\t}}", "{{\n  x\n}}", "{{x   }}"}) {
    EXPECT_EQ(parsed(text).variables(), Strings{"x"}) << text;
  }
}

TEST(PromptTemplate, EachVariableIsListedOnceInOrderOfFirstUse) {
  EXPECT_EQ(parsed("{{b}} {{a}} {{b}} {{ a }} {{_c9}}").variables(), (Strings{"b", "a", "_c9"}));
  EXPECT_TRUE(parsed("no placeholders at all").variables().empty());
  EXPECT_TRUE(parsed("").pieces.empty());
}

TEST(PromptTemplate, LoneBracesAreLiteral) {
  auto t = parsed("a } b { c }} d {x} e");
  ASSERT_EQ(t.pieces.size(), 1u);
  EXPECT_EQ(t.pieces[0].text, "a } b { c }} d {x} e");
  EXPECT_EQ(rendered(R"({"json": {{value}}})", json{{"value", 1}}), R"({"json": 1})");
}

TEST(PromptTemplate, AnUnclosedPlaceholderIsAnErrorThatSaysWhere) {
  EXPECT_EQ(parse_error("Hi {{name"), "unclosed '{{' at character 4 (expected {{name}})");
  EXPECT_EQ(parse_error("{{a}} and {{"), "unclosed '{{' at character 11 (expected {{name}})");
  // Characters, not bytes: what an editor shows.
  EXPECT_EQ(parse_error("héllo {{x"), "unclosed '{{' at character 7 (expected {{name}})");
}

TEST(PromptTemplate, APlaceholderMustNameAVariable) {
  for (std::string_view text : {"{{}}", "{{ }}", "{{1x}}", "{{a-b}}", "{{a b}}", "{{a.b}}",
                                "{{{x}}}", "{{ä}}", "{{a {{b}}"}) {
    auto e = parse_error(text);
    EXPECT_TRUE(e.starts_with("invalid placeholder '")) << text << ": " << e;
  }
  EXPECT_EQ(parse_error("Say {{ a-b }}!"),
            "invalid placeholder '{{ a-b }}' at character 5 (a variable name is letters, digits "
            "and '_', not starting with a digit)");
}

TEST(PromptTemplate, VariableNames) {
  for (std::string_view ok : {"a", "A", "_", "_a1", "snake_case", "CamelCase9"}) {
    EXPECT_TRUE(valid_variable_name(ok)) << ok;
  }
  for (std::string_view bad : {"", "1a", "a-b", "a b", "a.b", "é", "$x"}) {
    EXPECT_FALSE(valid_variable_name(bad)) << bad;
  }
}

TEST(PromptTemplate, StringsRenderAsTheyAreNumbersAndBooleansAsJson) {
  auto vars = json::parse(
      R"({"s": "text with \"quotes\"", "i": 42, "n": -7, "f": 1.5, "t": true, "no": false})");
  EXPECT_EQ(rendered("{{s}}|{{i}}|{{n}}|{{f}}|{{t}}|{{no}}", vars),
            "text with \"quotes\"|42|-7|1.5|true|false");
  EXPECT_EQ(rendered("Hello {{ name }}!", json{{"name", "Ada"}, {"unused", 1}}), "Hello Ada!");
  EXPECT_EQ(rendered("{{x}}{{x}}", json{{"x", "ab"}}), "abab");
  EXPECT_EQ(rendered("{{x}}", json{{"x", ""}}), "");
}

TEST(PromptTemplate, AValueIsNeverExpandedAgain) {
  EXPECT_EQ(rendered("{{a}}", json{{"a", "{{b}}"}, {"b", "no"}}), "{{b}}");
}

TEST(PromptTemplate, AMissingVariableIsTheFirstInTemplateOrder) {
  auto r = render(parsed("{{a}} {{b}} {{c}}"), json{{"a", 1}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, RenderError::Kind::missing);
  EXPECT_EQ(r.error().variable, "b");
  // Not an object: every variable is missing.
  auto none = render(parsed("x {{a}}"), json::array());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().variable, "a");
  EXPECT_EQ(*render(parsed("no variables"), json()), "no variables");
}

TEST(PromptTemplate, ObjectsArraysAndNullHaveNoText) {
  for (const auto& value : {json::object(), json::array({1}), json()}) {
    auto r = render(parsed("{{v}}"), json{{"v", value}});
    ASSERT_FALSE(r.ok()) << value.dump();
    EXPECT_EQ(r.error().kind, RenderError::Kind::not_scalar);
    EXPECT_EQ(r.error().variable, "v");
  }
}

}  // namespace
}  // namespace llmgw::prompts
