// convert --text-only / --drop-mtp / --only-mtp through the real binary: the outputs map (and,
// without MTP, validate) cleanly, hold no tower or MTP tensor, and are deterministic,
// resumable and refused with one line on bad input; map names the --text-only fix.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>

#include "loader/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using nlohmann::json;
using testing::run_moeckpt;
using testing::snapshot;
using testing::TempDir;

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// One error line, the last: the plan's notes (warnings) may come before it.
bool one_error_last(const std::string& err) {
  size_t first = err.find("error:"), last = err.rfind("error:");
  return first != std::string::npos && first == last && err.find('\n', last) == err.size() - 1;
}

TEST(TextOnlyCli, EveryMultimodalFixtureGivesATextCheckpointThatMapsClean) {
  TempDir tmp;
  const std::map<std::string, std::pair<std::string, std::string>> towers = {
      {"qwen3_vl_moe", {"model.visual.", "Qwen3VLMoeTextModel"}},
      {"qwen3_5_moe", {"model.visual.", "Qwen3_5MoeForCausalLM"}},
      {"aria", {"vision_tower.", "AriaTextForCausalLM"}}};
  for (const auto& [family, expect] : towers) {
    for (const std::string suffix : {"", "_lm_only"}) {
      const std::string in = "testdata/composite/" + family + suffix;
      const fs::path out = tmp / (family + suffix);
      ASSERT_EQ(run_moeckpt({"convert", in, out.string(), "--text-only", "-q"}).exit_code, 0) << in;
      auto m = run_moeckpt({"map", out.string()});
      EXPECT_EQ(m.exit_code, 0) << in << "\n" << m.out << m.err;
      Checkpoint ck = Checkpoint::open(out);
      for (const auto& t : ck.tensors()) {
        EXPECT_FALSE(t.name.starts_with(expect.first)) << in << ": " << t.name;
        EXPECT_FALSE(t.name.starts_with("multi_modal_projector.")) << in << ": " << t.name;
        EXPECT_FALSE(t.name.find("language_model.") != std::string::npos) << in << ": " << t.name;
      }
      json config = json::parse(testing::read_file(out / "config.json"));
      EXPECT_EQ(config["architectures"][0], expect.second) << in;
      EXPECT_FALSE(config.contains("text_config")) << in;
      EXPECT_TRUE(fs::exists(out / "generation_config.json")) << in;
    }
  }
}

TEST(TextOnlyCli, MapNamesTheFixOnItsLastLine) {
  auto m = run_moeckpt({"map", "testdata/composite/qwen3_5_moe_lm_only", "--arch", "qwen3_5_moe_text"});
  EXPECT_EQ(m.exit_code, 1);
  std::string last = m.out.substr(m.out.rfind('\n', m.out.size() - 2) + 1);
  EXPECT_NE(last.find("moeckpt convert testdata/composite/qwen3_5_moe_lm_only OUT --text-only"), std::string::npos) << last;
  auto j = run_moeckpt({"map", "testdata/composite/qwen3_5_moe_lm_only", "--arch", "qwen3_5_moe_text", "--json"});
  EXPECT_EQ(json::parse(j.out)["fix"]["class"], "Qwen3_5MoeForCausalLM");
  // A clean map, or one the wrapper does not explain, suggests nothing.
  EXPECT_EQ(run_moeckpt({"map", "testdata/composite/qwen3_5_moe"}).out.find("--text-only"), std::string::npos);
  EXPECT_EQ(run_moeckpt({"map", "testdata/models/mixtral", "--arch", "qwen3_moe"}).out.find("--text-only"), std::string::npos);
}

TEST(TextOnlyCli, DryRunShowsWhatIsLeftOutRenamedAndTheConfig) {
  TempDir tmp;
  auto r = run_moeckpt({"convert", "testdata/composite/qwen3_5_moe", (tmp / "d").string(), "--text-only", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "d"));
  EXPECT_NE(r.err.find("of the vision tower"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("renamed 'model.language_model.' -> 'model.'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("model_type \"qwen3_5_moe_text\""), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("model.layers.0.mlp.gate.weight"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("model.visual."), std::string::npos) << r.out;
  auto j = run_moeckpt({"convert", "testdata/composite/qwen3_5_moe", (tmp / "d").string(), "--text-only", "--dry-run", "--json"});
  EXPECT_EQ(json::parse(j.out)["config"]["architectures"][0], "Qwen3_5MoeForCausalLM");
}

TEST(TextOnlyCli, DeterministicResumableAndDropsTheTowersProcessorFiles) {
  TempDir tmp;
  fs::copy(testing::source_dir("testdata/composite/aria"), tmp / "in", fs::copy_options::recursive);
  testing::write_file(tmp / "in" / "preprocessor_config.json", R"({"image_processor_type": "AriaImageProcessor"})");
  testing::write_file(tmp / "in" / "tokenizer_config.json", R"({"model_max_length": 256})");
  const std::string in = (tmp / "in").string();
  ASSERT_EQ(run_moeckpt({"convert", in, (tmp / "a").string(), "--text-only", "-q", "--max-shard-size", "40KB"}).exit_code, 0);
  ASSERT_EQ(run_moeckpt({"convert", in, (tmp / "b").string(), "--text-only", "-q", "--max-shard-size", "40KB", "--threads", "1"}).exit_code, 0);
  auto a = snapshot(tmp / "a");
  EXPECT_EQ(a, snapshot(tmp / "b"));
  EXPECT_FALSE(a.count("preprocessor_config.json"));
  EXPECT_TRUE(a.count("tokenizer_config.json"));
  EXPECT_TRUE(a.count("model.safetensors.index.json"));
  // A second run on the same output: refused, then resumed (nothing left to write).
  auto again = run_moeckpt({"convert", in, (tmp / "a").string(), "--text-only", "--max-shard-size", "40KB"});
  EXPECT_EQ(again.exit_code, 4) << again.err;
  EXPECT_TRUE(one_error_last(again.err)) << again.err;
  auto resumed = run_moeckpt({"convert", in, (tmp / "a").string(), "--text-only", "--max-shard-size", "40KB", "--resume", "-q"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(snapshot(tmp / "a"), a);
  // The input is untouched.
  EXPECT_TRUE(fs::exists(tmp / "in" / "preprocessor_config.json"));
}

TEST(MtpCli, DroppedTheModelMapsAndValidatesCleanWithNoMtpTensor) {
  TempDir tmp;
  for (const std::string family : {"deepseek_v3", "glm4_moe", "qwen3_next"}) {
    const fs::path out = tmp / family;
    auto r = run_moeckpt({"convert", "testdata/mtp/" + family, out.string(), "--drop-mtp", "-q"});
    ASSERT_EQ(r.exit_code, 0) << family << r.err;
    auto m = run_moeckpt({"map", out.string()});
    EXPECT_EQ(m.exit_code, 0) << family << m.out;
    EXPECT_EQ(m.out.find("(MTP)"), std::string::npos) << family;
    auto v = run_moeckpt({"validate", out.string()});
    EXPECT_EQ(v.exit_code, 0) << family << v.out << v.err;
    Checkpoint ck = Checkpoint::open(out);
    for (const auto& t : ck.tensors()) {
      EXPECT_FALSE(t.name.starts_with("mtp.")) << t.name;
      EXPECT_FALSE(t.name.starts_with("model.layers.2.")) << t.name;
    }
  }
}

TEST(MtpCli, KeptAloneTheDraftHoldsTheMtpLayerOnly) {
  TempDir tmp;
  auto r = run_moeckpt({"convert", "testdata/mtp/deepseek_v3", (tmp / "d").string(), "--only-mtp"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("--speculative-config"), std::string::npos) << r.err;
  Checkpoint ck = Checkpoint::open(tmp / "d");
  EXPECT_GT(ck.tensors().size(), 20u);
  for (const auto& t : ck.tensors()) EXPECT_TRUE(t.name.starts_with("model.layers.2.")) << t.name;
  EXPECT_EQ(json::parse(testing::read_file(tmp / "d" / "config.json")),
            json::parse(testing::read_file(testing::source_dir("testdata/mtp/deepseek_v3/config.json"))));
}

TEST(ExtractCli, BadInputIsOneLineAndLeavesNothing) {
  TempDir tmp;
  struct Case {
    std::vector<std::string> args;
    int code;
    const char* says;
  };
  const std::string out = (tmp / "o").string();
  const std::vector<Case> cases = {
      {{"convert", "testdata/models/qwen3_moe", out, "--text-only"}, 2, "not a multimodal wrapper"},
      {{"convert", "testdata/mtp/deepseek_v3", out, "--drop-mtp", "--only-mtp"}, 2, "contradict"},
      {{"convert", "testdata/models/deepseek_v3", out, "--only-mtp"}, 2, "no draft to keep"},
      {{"convert", "testdata/models/qwen3_moe", out, "--drop-mtp"}, 2, "nothing to drop"},
  };
  for (const auto& c : cases) {
    auto r = run_moeckpt(c.args);
    EXPECT_EQ(r.exit_code, c.code) << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(tmp / "o"));
  }
  // A composite whose text_config is missing or not an object.
  for (const std::string bad : {"", "\"text_config\": [1, 2],"}) {
    fs::remove_all(tmp / "in");
    fs::copy(testing::source_dir("testdata/composite/qwen3_5_moe"), tmp / "in", fs::copy_options::recursive);
    json config = json::parse(testing::read_file(tmp / "in" / "config.json"));
    if (bad.empty()) config.erase("text_config");
    else config["text_config"] = json::array({1, 2});
    testing::write_file(tmp / "in" / "config.json", config.dump());
    auto r = run_moeckpt({"convert", (tmp / "in").string(), out, "--text-only"});
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("text_config"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(tmp / "o"));
  }
  // An existing output.
  fs::create_directories(tmp / "full");
  testing::write_file(tmp / "full" / "x.txt", "mine");
  auto r = run_moeckpt({"convert", "testdata/composite/aria", (tmp / "full").string(), "--text-only"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_TRUE(one_error_last(r.err)) << r.err;
  EXPECT_EQ(testing::read_file(tmp / "full" / "x.txt"), "mine");
}

}  // namespace
}  // namespace moeckpt
