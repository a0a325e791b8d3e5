// The shell completions in cli/completions/ parse, and offer every command and every option
// that the program's --help prints.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "docs_util.h"

namespace moeckpt {
namespace {

namespace fs = std::filesystem;
using testing::shell_quote;

fs::path completion(const std::string& name) { return testing::source_dir("cli/completions/" + name); }

// Runs the bash completion function on a command line whose last word is being completed and
// returns the candidates. The built program comes first on PATH, for the --arch list.
std::set<std::string> bash_complete(const std::vector<std::string>& words) {
  std::string array;
  for (const auto& w : words) array += " " + shell_quote(w);
  std::string bin_dir = fs::path(testing::moeckpt_binary()).parent_path().string();
  std::string script = "PATH=" + shell_quote(bin_dir) + ":$PATH; . " + shell_quote(completion("moeckpt.bash").string()) +
                       "; COMP_WORDS=(" + array + "); COMP_CWORD=" + std::to_string(words.size() - 1) +
                       "; _moeckpt; printf '%s\\n' \"${COMPREPLY[@]}\"";
  auto r = testing::run_shell("bash -c " + shell_quote(script));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::set<std::string> out;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

TEST(Completion, BashFileParses) {
  auto r = testing::run_shell("bash -n " + shell_quote(completion("moeckpt.bash").string()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "");
}

TEST(Completion, BashCompletesCommandNames) {
  auto commands = testing::help_commands();
  ASSERT_EQ(commands.size(), 8u);
  EXPECT_EQ(bash_complete({"moeckpt", ""}), std::set<std::string>(commands.begin(), commands.end()));
  EXPECT_EQ(bash_complete({"moeckpt", "in"}), std::set<std::string>{"inspect"});
  // After a global option and its value, the command name is still what comes next.
  EXPECT_EQ(bash_complete({"moeckpt", "--color", "never", "va"}), std::set<std::string>{"validate"});
}

TEST(Completion, BashCompletesEveryOptionOfEachCommand) {
  auto global = testing::help_long_options("");
  for (const auto& cmd : testing::help_commands()) {
    auto got = bash_complete({"moeckpt", cmd, "--"});
    for (const auto& opt : testing::help_long_options(cmd)) EXPECT_TRUE(got.count(opt)) << cmd << " " << opt;
    for (const auto& opt : global) EXPECT_TRUE(got.count(opt)) << cmd << " " << opt;
  }
}

TEST(Completion, BashCompletesOptionValues) {
  EXPECT_EQ(bash_complete({"moeckpt", "--color", ""}), (std::set<std::string>{"auto", "always", "never"}));
  EXPECT_EQ(bash_complete({"moeckpt", "convert", "--quantize", ""}), (std::set<std::string>{"fp8-block", "mxfp4", "fp8-tensor", "fp8-channel", "nvfp4"}));
  EXPECT_EQ(bash_complete({"moeckpt", "map", "--arch", "mixt"}), std::set<std::string>{"mixtral"});
}

// zsh and fish name long options differently ("--dry-run" in zsh, "-l dry-run" in fish); both
// must name every option of every command's --help.
void expect_file_names_every_option(const fs::path& file, bool fish) {
  auto text = testing::read_file(file);
  std::vector<std::string> opts = testing::help_long_options("");
  for (const auto& cmd : testing::help_commands()) {
    EXPECT_TRUE(text.find(cmd) != std::string::npos) << file.filename() << " lacks command " << cmd;
    auto more = testing::help_long_options(cmd);
    opts.insert(opts.end(), more.begin(), more.end());
  }
  for (const auto& opt : opts) {
    std::string word = fish ? "-l " + opt.substr(2) : opt;
    EXPECT_TRUE(testing::contains_option(text, word)) << file.filename() << " lacks " << opt;
  }
}

TEST(Completion, ZshFileNamesEveryOption) { expect_file_names_every_option(completion("_moeckpt"), false); }
TEST(Completion, FishFileNamesEveryOption) { expect_file_names_every_option(completion("moeckpt.fish"), true); }

TEST(Completion, ZshFileParses) {
  if (!testing::have_program("zsh")) GTEST_SKIP() << "zsh is not installed";
  auto r = testing::run_shell("zsh -n " + shell_quote(completion("_moeckpt").string()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "");
}

TEST(Completion, FishFileParses) {
  if (!testing::have_program("fish")) GTEST_SKIP() << "fish is not installed";
  auto r = testing::run_shell("fish --no-execute " + shell_quote(completion("moeckpt.fish").string()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace moeckpt
