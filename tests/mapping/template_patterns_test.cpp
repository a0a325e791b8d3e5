#include "mapping/template_patterns.h"

#include <gtest/gtest.h>

#include <thread>

#include "loader/error.h"

namespace moeckpt {
namespace {

TEST(TemplatePatterns, MatchGivesTheLowestMatchingIndex) {
  TemplatePatterns p("mapping/archs/t.json", {"^a\\.(?P<L>\\d+)\\.w$", "^a\\.\\d+\\.[a-z]$", "^b$"}, {"a.{L}.w", "a.{N}.{*}", "b"});
  EXPECT_EQ(p.match("a.3.w"), 0u);
  EXPECT_EQ(p.match("a.3.x"), 1u);
  EXPECT_EQ(p.match("b"), 2u);
  EXPECT_EQ(p.match("a.3.w.extra"), std::nullopt);  // anchored at both ends
  EXPECT_EQ(p.match("xb"), std::nullopt);
  EXPECT_TRUE(p.matches("b"));
  EXPECT_FALSE(p.matches("c"));
}

TEST(TemplatePatterns, NoPatternsMatchNothing) {
  TemplatePatterns p("mapping/archs/t.json", {}, {});
  EXPECT_EQ(p.match(""), std::nullopt);
  EXPECT_FALSE(p.matches("anything"));
  EXPECT_NO_THROW(p.compile());
}

// A pattern that does not compile is reported on every use, naming the entry and the template,
// whether compile() or a match came first.
TEST(TemplatePatterns, ABadPatternIsAnErrorNamingFileAndTemplateOnEveryUse) {
  TemplatePatterns p("mapping/archs/bad.json", {"^ok$", "^(unclosed$"}, {"ok", "the.bad.one"});
  for (int i = 0; i < 2; ++i) {
    try {
      (void)p.matches("ok");
      FAIL() << "accepted a pattern that does not compile";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("mapping/archs/bad.json"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("the.bad.one"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(p.compile(), Error);
}

// The first use compiles once even when threads race to it (the planner and the opener run
// in parallel).
TEST(TemplatePatterns, ConcurrentFirstUsesAgree) {
  TemplatePatterns p("mapping/archs/t.json", {"^x\\.\\d+$", "^y$"}, {"x.{N}", "y"});
  std::vector<std::thread> ts;
  std::vector<int> ok(8, 0);
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] { ok[i] = p.match("x.12") == 0u && p.match("y") == 1u && !p.matches("z"); });
  for (auto& t : ts) t.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(ok[i], 1) << i;
}

}  // namespace
}  // namespace moeckpt
