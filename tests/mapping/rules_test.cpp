#include "mapping/rules.h"

#include <gtest/gtest.h>

#include "loader/error.h"

namespace moeckpt {
namespace {

RuleSet rules(std::string_view json) { return RuleSet::parse(json, "rules.json"); }

std::string map_name(const RuleSet& r, std::string_view name) {
  auto out = r.apply(name);
  return out ? *out : "<dropped>";
}

std::string error_of(std::string_view json) {
  try {
    rules(json);
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), kExitUsage);
    return e.what();
  }
  return "<accepted>";
}

TEST(Rules, KindsApplyInVllmOrderRegexSubstrPrefixSuffix) {
  // Written in reverse order on purpose: the kinds still apply regex, substr, prefix, suffix.
  auto r = rules(R"j({"suffix": {".weight": ".w"}, "prefix": {"model.": "m."}, "substr": {"layers": "L"},
                     "regex": {"^model\\.": "model.model."}})j");
  // regex: model.layers.0.x.weight -> model.model.layers.0.x.weight; substr: layers -> L;
  // prefix: model. -> m.; suffix: .weight -> .w
  EXPECT_EQ(map_name(r, "model.layers.0.x.weight"), "m.model.L.0.x.w");
}

TEST(Rules, RegexReplacesEveryMatchAndTranslatesPythonGroups) {
  auto r = rules(R"j({"regex": {"experts\\.(\\d+)\\.w(\\d)": "e\\g<1>_\\2", "(?P<k>a)b": "\\g<k>\\g<k>"}})j");
  EXPECT_EQ(map_name(r, "x.experts.3.w1.y.experts.12.w2"), "x.e3_1.y.e12_2");
  EXPECT_EQ(map_name(r, "ab.ab"), "aa.aa");
}

TEST(Rules, SubstrReplacesTheFirstOccurrenceOnly) {
  auto r = rules(R"j({"substr": {"ab": "X"}})j");
  EXPECT_EQ(map_name(r, "ab.ab"), "X.ab");
}

TEST(Rules, SuffixReplacesTheLastOccurrence) {
  auto r = rules(R"j({"suffix": {".scale": ".weight_scale_inv"}})j");
  EXPECT_EQ(map_name(r, "a.scale.b.scale"), "a.scale.b.weight_scale_inv");
  EXPECT_EQ(map_name(r, "a.scale.b"), "a.scale.b");
}

TEST(Rules, PrefixOnlyAtTheStart) {
  auto r = rules(R"j({"prefix": {"model.": "language_model.model."}})j");
  EXPECT_EQ(map_name(r, "model.norm.weight"), "language_model.model.norm.weight");
  EXPECT_EQ(map_name(r, "x.model.norm.weight"), "x.model.norm.weight");
}

TEST(Rules, EveryMatchingRuleOfAKindAppliesInOrder) {
  auto r = rules(R"j({"substr": {"a": "b", "b": "c"}})j");
  EXPECT_EQ(map_name(r, "a"), "c");  // the second sees the first's result
  auto r2 = rules(R"j({"substr": {"b": "c", "a": "b"}})j");
  EXPECT_EQ(map_name(r2, "a"), "b");
}

TEST(Rules, NullDropsTheTensorAtOnce) {
  auto r = rules(R"j({"substr": {"rotary_emb.inv_freq": null, "x": "y"}})j");
  EXPECT_EQ(map_name(r, "model.rotary_emb.inv_freq"), "<dropped>");
  EXPECT_EQ(map_name(r, "x"), "y");
}

TEST(Rules, AcceptsVllmSectionNames) {
  auto r = rules(R"j({"orig_to_new_prefix": {"a.": "b."}, "description": "PEFT prefix"})j");
  EXPECT_EQ(map_name(r, "a.x"), "b.x");
}

TEST(Rules, ErrorsNameTheLine) {
  EXPECT_NE(error_of("{\n  \"regex\": {\n    \"(unclosed\": \"x\"\n  }\n}").find("rules.json:3: regex '(unclosed'"), std::string::npos);
  EXPECT_NE(error_of("{\n  \"prefx\": {}\n}").find("rules.json:2: unknown section 'prefx'"), std::string::npos);
  EXPECT_NE(error_of("{\n \"substr\": {\n  \"a\": 3\n }\n}").find("rules.json:3: rule 'a': value must be a string or null"), std::string::npos);
  EXPECT_NE(error_of("{\n \"substr\": {\n  \"a\": \"b\",\n  \"a\": \"c\"\n }\n}").find("rules.json:4: key 'a' appears twice"), std::string::npos);
  EXPECT_NE(error_of("{\n \"substr\": {\"a\": \"b\",,}\n}").find("rules.json:2: not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(R"j({"regex": {"(a)": "\\g<2>"}})j").find("refers to group 2"), std::string::npos);
  EXPECT_NE(error_of(R"j({"regex": {"(?=a)b": "x"}})j").find("not valid RE2 syntax"), std::string::npos);
  EXPECT_NE(error_of(R"j({"substr": {"": "x"}})j").find("empty key"), std::string::npos);
  EXPECT_NE(error_of("[]").find("JSON object"), std::string::npos);
}

TEST(Rules, RegexIsLinearTimeOnHostileInput) {
  // (a+)+b backtracks exponentially in Python; RE2 answers at once.
  auto r = rules(R"j({"regex": {"(a+)+b": "x"}})j");
  const std::string input(5000, 'a');
  EXPECT_EQ(map_name(r, input), input);
}

}  // namespace
}  // namespace moeckpt
