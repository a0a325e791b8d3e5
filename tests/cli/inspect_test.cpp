#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>

#include "malformed_cases.h"
#include "test_util.h"

namespace moeckpt {
namespace {

using nlohmann::json;
using testing::run_moeckpt;

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// inspect --json lists exactly the tensors the safetensors headers hold (as Python's
// safetensors read them in the reference environment), for every transformers-written fixture.
TEST(Inspect, JsonTensorsMatchTheReferenceForEveryFixture) {
  int n = 0;
  for (const auto& dir : std::filesystem::directory_iterator(testing::testdata("models"))) {
    auto ref_path = dir.path() / "reference.json";
    if (!std::filesystem::exists(ref_path)) continue;
    auto r = run_moeckpt({"inspect", dir.path().string(), "--json"});
    ASSERT_EQ(r.exit_code, 0) << dir.path() << r.err;
    auto doc = json::parse(r.out);
    auto ref = json::parse(testing::read_file(ref_path));
    std::map<std::string, std::pair<std::string, json>> want;
    uint64_t bytes = 0;
    for (const auto& [fname, f] : ref["files"].items()) {
      for (const auto& t : f["tensors"]) {
        want[t["name"]] = {t["dtype"], t["shape"]};
        bytes += t["data_offsets"][1].get<uint64_t>() - t["data_offsets"][0].get<uint64_t>();
      }
    }
    ASSERT_EQ(doc["tensors"].size(), want.size()) << dir.path();
    std::string prev;
    for (const auto& t : doc["tensors"]) {
      auto it = want.find(t["name"].get<std::string>());
      ASSERT_NE(it, want.end()) << t["name"];
      EXPECT_EQ(t["dtype"], it->second.first) << t["name"];
      EXPECT_EQ(t["shape"], it->second.second) << t["name"];
      EXPECT_LT(prev, t["name"].get<std::string>()) << "tensors must be sorted by name";
      prev = t["name"];
    }
    EXPECT_EQ(doc["num_tensors"].get<size_t>(), want.size());
    EXPECT_EQ(doc["total_bytes"].get<uint64_t>(), bytes);
    EXPECT_EQ(doc["format"], "safetensors");
    ++n;
  }
  EXPECT_GE(n, 40);
}

TEST(Inspect, MalformedFilesGiveExit3AndOneLine) {
  testing::TempDir d;
  for (const auto& c : testing::malformed_safetensors_cases()) {
    auto path = d / (c.name + ".safetensors");
    testing::write_file(path, c.bytes);
    for (bool as_json : {false, true}) {
      std::vector<std::string> args = {"inspect", path.string()};
      if (as_json) args.push_back("--json");
      auto r = run_moeckpt(args);
      EXPECT_EQ(r.exit_code, 3) << c.name << ": " << r.err;
      EXPECT_EQ(count_lines(r.err), 1) << c.name << ": " << r.err;
      EXPECT_EQ(r.err.rfind("moeckpt: error: ", 0), 0u) << r.err;
      EXPECT_NE(r.err.find(path.string()), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
      EXPECT_TRUE(r.out.empty()) << c.name << ": partial output: " << r.out;
    }
  }
}

// DBRX keeps its expert sizes under ffn_config, which its registry entry names as its config
// section and no generic search looks in: inspect reads the detected entry's section.
TEST(Inspect, ReadsTheDetectedEntrysConfigSection) {
  auto r = run_moeckpt({"inspect", "testdata/models_hf/dbrx", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto moe = json::parse(r.out)["moe"];
  EXPECT_EQ(moe["num_experts"], 4);
  EXPECT_EQ(moe["top_k"], 2);
  EXPECT_EQ(moe["config_keys"]["num_experts"], "ffn_config.moe_num_experts");
}

TEST(Inspect, UsageErrorsGiveExit2) {
  EXPECT_EQ(run_moeckpt({"inspect"}).exit_code, 2);
  EXPECT_EQ(run_moeckpt({"inspect", "testdata/models/mixtral", "--filter", "("}).exit_code, 2);
  EXPECT_EQ(run_moeckpt({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(run_moeckpt({"inspect", "testdata/models/mixtral", "--color", "sometimes"}).exit_code, 2);
}

TEST(Inspect, MissingInputGivesExit3) {
  auto r = run_moeckpt({"inspect", "testdata/does-not-exist"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("testdata/does-not-exist: no such file or directory"), std::string::npos) << r.err;
}

TEST(Inspect, FilterNarrowsTensorsAndCounts) {
  auto all = json::parse(run_moeckpt({"inspect", "testdata/models/mixtral", "--json"}).out);
  auto r = run_moeckpt({"inspect", "testdata/models/mixtral", "--json", "--filter", R"(experts\.\d+\.w1\.)"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = json::parse(r.out);
  EXPECT_EQ(doc["num_tensors"], 8);  // 2 layers x 4 experts
  EXPECT_LT(doc["total_bytes"].get<uint64_t>(), all["total_bytes"].get<uint64_t>());
  for (const auto& t : doc["tensors"]) EXPECT_NE(t["name"].get<std::string>().find(".w1."), std::string::npos);
}

TEST(Inspect, ReportsMoeLayoutFromConfigAndTensors) {
  auto doc = json::parse(run_moeckpt({"inspect", "testdata/models/mixtral", "--json"}).out);
  EXPECT_EQ(doc["config"]["architecture"], "MixtralForCausalLM");
  EXPECT_EQ(doc["moe"]["num_experts"], 4);
  EXPECT_EQ(doc["moe"]["config_keys"]["num_experts"], "num_local_experts");
  EXPECT_EQ(doc["moe"]["top_k"], 2);
  EXPECT_EQ(doc["moe"]["expert_layers"], json::array({0, 1}));
  EXPECT_EQ(doc["moe"]["expert_dtype"], "BF16");
  EXPECT_EQ(doc["moe"]["expert_layout"], "per_expert");
  // GPT-OSS keeps its experts fused.
  auto g = json::parse(run_moeckpt({"inspect", "testdata/models/gpt_oss", "--json"}).out);
  EXPECT_EQ(g["moe"]["expert_layout"], "fused");
}

TEST(Inspect, HumanOutputSummarizes) {
  auto r = run_moeckpt({"inspect", "testdata/models/mixtral", "--tensors"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("MixtralForCausalLM"), std::string::npos);
  EXPECT_NE(r.out.find("4 (num_local_experts) routed experts"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model.layers.1.block_sparse_moe.experts.3.w2.weight"), std::string::npos);
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "no color when stdout is not a terminal";
  auto c = run_moeckpt({"inspect", "testdata/models/mixtral", "--color", "always"});
  EXPECT_NE(c.out.find("\x1b["), std::string::npos);
  auto nc = run_moeckpt({"inspect", "testdata/models/mixtral", "--color", "auto"}, {"NO_COLOR=1"});
  EXPECT_EQ(nc.out.find("\x1b["), std::string::npos);
}

}  // namespace
}  // namespace moeckpt
