// The multimodal-wrapper fixtures through the real binary: `validate` passes exactly the
// releases `map` maps fully (same exit status), and when config.json's architectures and
// model_type disagree, map, validate and inspect say which of them chose the entry, in their
// human and JSON output.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using nlohmann::json;
using testing::run_moeckpt;

const std::vector<std::string> kWrappers = {"qwen3_vl_moe", "qwen3_5_moe", "aria", "glm4v_moe", "kimi_k25", "kimi_vl", "gemma4", "deepseek_ocr2"};

TEST(CompositeCli, ValidateAndMapAgreeOnEveryWrapperFixture) {
  for (const auto& w : kWrappers) {
    for (const std::string& dir : {"testdata/composite/" + w, "testdata/composite/" + w + "_lm_only"}) {
      auto map = run_moeckpt({"map", dir, "--json"});
      auto val = run_moeckpt({"validate", dir, "--json"});
      ASSERT_TRUE(map.exit_code == 0 || map.exit_code == 1) << dir << ": " << map.err;
      json m = json::parse(map.out), v = json::parse(val.out);
      EXPECT_EQ(m["architecture"], w) << dir;
      EXPECT_EQ(v["summary"]["architecture"], w) << dir;
      bool full = m["summary"]["unmapped"] == 0 && m["summary"]["unfilled"] == 0 && m["summary"]["unexpected"] == 0;
      EXPECT_EQ(full, v["ok"].get<bool>()) << dir << "\n" << v.dump(1).substr(0, 2000);
      EXPECT_EQ(map.exit_code, val.exit_code) << dir;
      EXPECT_FALSE(m["towers"].empty() && dir == "testdata/composite/" + w) << dir;
    }
  }
}

TEST(CompositeCli, DisagreeingArchitecturesAndModelTypeAreExplainedEverywhere) {
  testing::TempDir t;
  for (const auto& e : fs::directory_iterator(testing::source_dir("testdata/composite/glm4v_moe_lm_only")))
    fs::copy_file(e.path(), t / e.path().filename().string());
  json c = json::parse(testing::read_file(t / "config.json"));
  c["model_type"] = "glm4v_moe_text";
  testing::write_file(t / "config.json", c.dump(2));
  const std::string dir = t.path().string();
  const std::string note = "architectures Glm4vMoeForConditionalGeneration chose glm4v_moe over model_type 'glm4v_moe_text' (entry glm4v_moe_text)";
  auto map = run_moeckpt({"map", dir});
  EXPECT_EQ(map.exit_code, 0) << map.err;
  EXPECT_NE(map.out.find("detection " + note + "\n"), std::string::npos) << map.out.substr(0, 600);
  EXPECT_EQ(json::parse(run_moeckpt({"map", dir, "--json"}).out)["detection_note"], note);
  auto val = run_moeckpt({"validate", dir});
  EXPECT_NE(val.out.find("detection " + note + "\n"), std::string::npos) << val.out;
  EXPECT_EQ(json::parse(run_moeckpt({"validate", dir, "--json"}).out)["summary"]["detection_note"], note);
  auto ins = run_moeckpt({"inspect", dir});
  EXPECT_NE(ins.out.find(note), std::string::npos) << ins.out;
  EXPECT_EQ(json::parse(run_moeckpt({"inspect", dir, "--json"}).out)["config"]["detection_note"], note);
  // Agreeing keys: no such line, no such field.
  auto plain = run_moeckpt({"map", "testdata/composite/glm4v_moe_lm_only", "--json"});
  EXPECT_FALSE(json::parse(plain.out).contains("detection_note"));
  EXPECT_EQ(run_moeckpt({"validate", "testdata/composite/glm4v_moe_lm_only"}).out.find("detection"), std::string::npos);
}

}  // namespace
}  // namespace moeckpt
