// The manual pages render without a warning, and document every option the program's --help
// prints: a new option without a man page entry fails here.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "docs_util.h"

namespace moeckpt {
namespace {

namespace fs = std::filesystem;
using testing::shell_quote;

std::vector<fs::path> man_pages() {
  std::vector<fs::path> pages;
  for (const auto& e : fs::directory_iterator(testing::source_dir("man"))) {
    auto ext = e.path().extension();
    if (ext == ".1" || ext == ".5" || ext == ".7") pages.push_back(e.path());
  }
  return pages;
}

// The page as plain text: ASCII hyphens, no bold or underline, lines long enough and no
// hyphenation, so an option name is never split.
std::string render_plain(const fs::path& page) {
  auto r = testing::run_shell("groff -man -Tascii -P-cbou -rLL=1000n -rHY=0 " + shell_quote(page.string()) +
                              " 2>/dev/null");
  EXPECT_EQ(r.exit_code, 0) << page;
  return r.out;
}

TEST(ManPages, EveryCommandAndTheRulesFormatHaveAPage) {
  auto pages = man_pages();
  EXPECT_GE(pages.size(), 10u);
  EXPECT_TRUE(fs::exists(testing::source_dir("man/moeckpt.1")));
  EXPECT_TRUE(fs::exists(testing::source_dir("man/moeckpt-rules.5")));
  EXPECT_TRUE(fs::exists(testing::source_dir("man/moeckpt-formats.7")));
  for (const auto& cmd : testing::help_commands()) {
    EXPECT_TRUE(fs::exists(testing::source_dir("man/moeckpt-" + cmd + ".1"))) << cmd;
  }
}

TEST(ManPages, GroffRendersEveryPageWithoutWarnings) {
  for (const auto& page : man_pages()) {
    auto r = testing::run_shell("groff -man -Tutf8 -ww -z " + shell_quote(page.string()));
    EXPECT_EQ(r.exit_code, 0) << page;
    EXPECT_EQ(r.out, "") << page;
  }
}

TEST(ManPages, ManDbRendersEveryPageWithoutWarnings) {
  // A fixed width: man's line-breaking warnings depend on it.
  for (const auto& page : man_pages()) {
    auto r = testing::run_shell("MANWIDTH=80 MANPAGER=cat man --warnings -l " + shell_quote(page.string()) +
                                " >/dev/null");
    EXPECT_EQ(r.exit_code, 0) << page;
    EXPECT_EQ(r.out, "") << page;
  }
}

TEST(ManPages, TopLevelPageDocumentsEveryGlobalOption) {
  auto text = render_plain(testing::source_dir("man/moeckpt.1"));
  auto opts = testing::help_long_options("");
  EXPECT_GE(opts.size(), 6u);
  for (const auto& opt : opts) EXPECT_TRUE(testing::contains_option(text, opt)) << "moeckpt.1 lacks " << opt;
}

TEST(ManPages, EachCommandPageDocumentsEveryOptionOfItsHelp) {
  auto commands = testing::help_commands();
  EXPECT_EQ(commands.size(), 8u);
  for (const auto& cmd : commands) {
    auto page = testing::source_dir("man/moeckpt-" + cmd + ".1");
    auto text = render_plain(page);
    auto opts = testing::help_long_options(cmd);
    EXPECT_FALSE(opts.empty()) << cmd;
    for (const auto& opt : opts) {
      EXPECT_TRUE(testing::contains_option(text, opt)) << page.filename() << " lacks " << opt;
    }
  }
}

}  // namespace
}  // namespace moeckpt
