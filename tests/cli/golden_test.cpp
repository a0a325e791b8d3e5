// Golden files: tests/golden/cases*.txt (one manifest per area, read in name order) list "name | exit code | arguments"; each case runs the
// real binary from the source directory and must print exactly tests/golden/<name>.json.
// Regenerate with tests/golden/update.sh after a deliberate change, and review the diff against
// an independent source (the fixtures' reference.json, vLLM's code) before committing it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.h"

namespace moeckpt {
namespace {

struct GoldenCase {
  std::string name;
  int exit_code = 0;
  std::vector<std::string> args;
};

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::vector<std::string> manifests() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(testing::source_dir("tests/golden"))) {
    std::string n = e.path().filename().string();
    if (n.starts_with("cases") && n.ends_with(".txt")) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<GoldenCase> load_cases() {
  std::vector<GoldenCase> out;
  for (const auto& file : manifests()) {
    std::ifstream f(file);
    std::string line;
    while (std::getline(f, line)) {
      line = trim(line);
      if (line.empty() || line[0] == '#') continue;
      auto a = line.find('|'), b = line.find('|', a + 1);
      GoldenCase c;
      c.name = trim(line.substr(0, a));
      c.exit_code = std::stoi(trim(line.substr(a + 1, b - a - 1)));
      std::istringstream words(line.substr(b + 1));
      for (std::string w; words >> w;) c.args.push_back(w);
      out.push_back(c);
    }
  }
  return out;
}

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, MatchesItsFile) {
  const auto& c = GetParam();
  auto r = testing::run_moeckpt(c.args);
  EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
  std::string want = testing::read_file(testing::source_dir("tests/golden/" + c.name + ".json"));
  EXPECT_EQ(r.out, want) << "golden file tests/golden/" << c.name << ".json differs; run tests/golden/update.sh and review";
}

std::string case_id(const ::testing::TestParamInfo<GoldenCase>& p) {
  std::string s = p.param.name;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden, ::testing::ValuesIn(load_cases()), case_id);

TEST(GoldenManifest, IsNotEmpty) { EXPECT_GE(load_cases().size(), 10u); }

TEST(GoldenManifest, NamesAreUnique) {
  auto cases = load_cases();
  std::vector<std::string> names;
  for (const auto& c : cases) names.push_back(c.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end()) << "a golden name is listed twice";
}

}  // namespace
}  // namespace moeckpt
