// Every input the fuzzers ever crashed on (tests/regress/<target>/) goes through the same code
// the fuzz target drives and must give a clean result or a moeckpt::Error, nothing else.
#include <gtest/gtest.h>

#include <filesystem>

#include "loader/config_file.h"
#include "loader/error.h"
#include "loader/index_reader.h"
#include "loader/safetensors_reader.h"
#include "loader/torch_reader.h"
#include "mapping/config_checks.h"
#include "mapping/rules.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

template <typename F>
int for_each_input(const std::string& target, F&& f) {
  int n = 0;
  fs::path dir = testing::source_dir("tests/regress/" + target);
  if (!fs::exists(dir)) return 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string bytes = testing::read_file(e.path());
    SCOPED_TRACE(e.path().string());
    try {
      f(bytes);
    } catch (const Error&) {
      // refused cleanly
    }
    ++n;
  }
  return n;
}

std::span<const std::byte> span_of(const std::string& s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }

TEST(FuzzRegressions, SafetensorsHeaders) {
  for_each_input("safetensors_header", [](const std::string& b) { parse_safetensors(span_of(b), "r"); });
}

TEST(FuzzRegressions, IndexFiles) {
  for_each_input("index_file", [](const std::string& b) { parse_index(b, "r"); });
}

TEST(FuzzRegressions, RulesFiles) {
  EXPECT_GE(for_each_input("rules", [](const std::string& b) { RuleSet::parse(b, "r").apply("model.layers.0.x.weight"); }), 2);
}

TEST(FuzzRegressions, Configs) {
  EXPECT_GE(for_each_input("config", [](const std::string& b) {
              Json c = parse_config(b, "r");
              check_config(c, "r", nullptr, true, ParallelOptions{2, 2});
            }),
            1);
}

TEST(FuzzRegressions, TorchFiles) {
  for_each_input("torch_file", [](const std::string& b) {
    auto f = parse_torch_file(span_of(b), "r");
    std::vector<std::byte> scratch;
    for (const auto& s : f.storages) read_torch_storage(span_of(b), s, "r", scratch);
  });
}

}  // namespace
}  // namespace moeckpt
