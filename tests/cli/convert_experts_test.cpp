// convert --experts through the real binary on every fixture: per-expert -> fused -> per-expert
// is byte-identical, the engine layout maps cleanly (the fused-only fixtures included), the
// dry run shows the plan, and outputs behave like every convert (exists, resume).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <re2/re2.h>

#include <filesystem>

#include "loader/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using nlohmann::json;
using testing::run_moeckpt;
using testing::TempDir;

const fs::path kData = MOECKPT_TESTDATA;

// Fixtures holding per-expert tensors (".experts.<e>."), found by name alone.
std::vector<fs::path> per_expert_fixtures() {
  std::vector<fs::path> out;
  const re2::RE2 per(R"(.*\.experts\.\d+\..*)");
  std::vector<fs::path> dirs;
  for (const char* root : {"models", "composite"})
    for (const auto& d : fs::directory_iterator(kData / root))
      if (d.is_directory()) dirs.push_back(d.path());
  for (const auto& d : dirs) {
    // Per-expert names no spec fuses are refused (RefusesPerExpertNamesNoLayoutFuses): DeepSeek
    // V4's original release names, and transformers 5.17's Kimi-K2.5 save (blocks.N, unmapped).
    const std::string fam = d.filename().string();
    // ERNIE-4.5-VL's one expert list of two id groups has no fused layout either.
    if (fam.starts_with("deepseek_v4_original") || fam.starts_with("kimi_k25_hf") || fam.starts_with("ernie4_5_vl_moe")) continue;
    Checkpoint ck = Checkpoint::open(d);
    for (const auto& t : ck.tensors())
      if (re2::RE2::FullMatch(t.name, per)) {
        out.push_back(d);
        break;
      }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool has_per_expert_names(const fs::path& dir) {
  Checkpoint ck = Checkpoint::open(dir);
  const re2::RE2 per(R"(.*\.experts\.\d+\..*)");
  // Qwen3-Omni's talker (a tower of entry qwen3_omni_moe, which vLLM's thinker does not load)
  // keeps its own per-expert experts.
  for (const auto& t : ck.tensors())
    if (!t.name.starts_with("talker.") && re2::RE2::FullMatch(t.name, per)) return true;
  return false;
}

TEST(ConvertExperts, RoundTripIsByteIdenticalForEveryPerExpertFixture) {
  const auto fixtures = per_expert_fixtures();
  ASSERT_GE(fixtures.size(), 34u);  // 32 families of testdata/models, 2 composites (Qwen3.5-MoE, under the wrapper's names)
  for (const auto& fix : fixtures) {
    const std::string fam = fix.filename().string();
    TempDir tmp;
    const fs::path fused = tmp.path() / "fused", back = tmp.path() / "back", copy = tmp.path() / "copy";
    auto r = run_moeckpt({"convert", fix.string(), fused.string(), "--experts", "fused", "-q"});
    ASSERT_EQ(r.exit_code, 0) << fam << ": " << r.err;
    EXPECT_FALSE(has_per_expert_names(fused)) << fam << ": fused output still holds per-expert tensors";
    r = run_moeckpt({"convert", fused.string(), back.string(), "--experts", "per-expert", "-q"});
    ASSERT_EQ(r.exit_code, 0) << fam << ": " << r.err;
    r = run_moeckpt({"diff", back.string(), fix.string(), "--atol", "0", "--rtol", "0"});
    EXPECT_EQ(r.exit_code, 0) << fam << ": " << r.out << r.err;
    // And byte for byte what a plain copy of the fixture writes.
    r = run_moeckpt({"convert", fix.string(), copy.string(), "-q"});
    ASSERT_EQ(r.exit_code, 0) << fam << ": " << r.err;
    EXPECT_EQ(testing::read_file(back / "model.safetensors"), testing::read_file(copy / "model.safetensors")) << fam;
  }
}

// Per-expert tensors under names no spec fuses are refused, not passed through under a
// "fused" label: DeepSeek V4's original release (layers.N.ffn.experts.E.w1).
TEST(ConvertExperts, RefusesPerExpertNamesNoLayoutFuses) {
  TempDir tmp;
  auto r = run_moeckpt({"convert", (kData / "models/deepseek_v4_original").string(), (tmp.path() / "o").string(), "--experts", "fused"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("layers.0.ffn.experts.0."), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no fused layout of deepseek_v4"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp.path() / "o" / "model.safetensors"));
}

// Every fixture whose map is clean (testdata/models, and transformers' own saves in
// testdata/models_hf) stays clean in the engine layout, and the fused fixtures
// whose only gap is the expert layout become clean; map names the command that does it.
TEST(ConvertExperts, EngineLayoutMapsCleanly) {
  std::vector<fs::path> dirs{kData / "torchbin/mixtral_bin"};
  for (const char* area : {"models", "models_hf"})
    for (const auto& d : fs::directory_iterator(kData / area))
      if (d.is_directory()) dirs.push_back(d.path());
  const std::set<std::string> fixed_by_layout = {"mixtral_bin", "minimax_m3_vl_text"};
  size_t checked = 0;
  for (const auto& fix : dirs) {
    const std::string fam = fix.filename().string();
    const auto before = run_moeckpt({"map", fix.string()});
    if (before.exit_code != 0 && !fixed_by_layout.count(fam)) continue;
    if (fixed_by_layout.count(fam)) {
      EXPECT_EQ(before.exit_code, 1) << fam;
      EXPECT_NE(before.out.find("fix: only the expert layout differs"), std::string::npos) << fam << before.out;
      EXPECT_NE(before.out.find("--experts engine"), std::string::npos) << fam;
    } else {
      EXPECT_EQ(before.out.find("\nfix: "), std::string::npos) << fam;
    }
    TempDir tmp;
    auto r = run_moeckpt({"convert", fix.string(), (tmp.path() / "out").string(), "--experts", "engine", "-q"});
    ASSERT_EQ(r.exit_code, 0) << fam << ": " << r.err;
    r = run_moeckpt({"map", (tmp.path() / "out").string()});
    EXPECT_EQ(r.exit_code, 0) << fam << ":\n" << r.out;
    ++checked;
  }
  EXPECT_GE(checked, 40u);
}

TEST(ConvertExperts, CompositesConvertUnderTheWrappersNames) {
  TempDir tmp;
  auto r = run_moeckpt({"convert", (kData / "composite/qwen3_5_moe").string(), (tmp.path() / "f").string(), "--experts", "fused", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Checkpoint ck = Checkpoint::open(tmp.path() / "f");
  EXPECT_NE(ck.find("model.language_model.layers.0.mlp.experts.gate_up_proj"), nullptr);
  EXPECT_NE(ck.find("model.visual.blocks.0.attn.qkv.weight"), nullptr) << "the tower is copied as it is";
  // Qwen3-VL-MoE's engine reads the fused experts it ships: kept, and per-expert is refused.
  r = run_moeckpt({"convert", (kData / "composite/qwen3_vl_moe").string(), (tmp.path() / "v").string(), "--experts", "per-expert"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST(ConvertExperts, DryRunShowsTheSplits) {
  auto r = run_moeckpt({"convert", (kData / "torchbin/mixtral_bin").string(), "/nonexistent/out", "--experts", "engine", "--dry-run", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json plan = json::parse(r.out);
  size_t splits = 0;
  for (const auto& t : plan["tensors"]) {
    const std::string op = t["op"];
    if (op.starts_with("split ")) {
      ++splits;
      EXPECT_TRUE(t["source"].get<std::string>().ends_with(".mlp.experts.gate_up_proj") ||
                  t["source"].get<std::string>().ends_with(".mlp.experts.down_proj"))
          << t;
    }
  }
  EXPECT_EQ(splits, 2u * 4u * 3u);  // 2 layers, 4 experts, w1 w3 w2
  r = run_moeckpt({"convert", (kData / "torchbin/mixtral_bin").string(), "/nonexistent/out", "--experts", "engine", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("split gate_up_proj expert 3 (up half) from model.layers.1.mlp.experts.gate_up_proj"), std::string::npos) << r.out;
}

TEST(ConvertExperts, OutputsBehaveLikeEveryConvert) {
  TempDir tmp;
  const std::string in = (kData / "torchbin/mixtral_bin").string(), out = (tmp.path() / "out").string();
  auto r = run_moeckpt({"convert", in, out, "--experts", "per-expert", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string first = testing::read_file(fs::path(out) / "model.safetensors");
  r = run_moeckpt({"convert", in, out, "--experts", "per-expert", "-q"});
  EXPECT_EQ(r.exit_code, 4) << "a second run on one output must not overwrite it silently: " << r.err;
  r = run_moeckpt({"convert", in, out, "--experts", "per-expert", "--resume", "-q"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::read_file(fs::path(out) / "model.safetensors"), first);
  r = run_moeckpt({"convert", in, out, "--experts", "per-expert", "--overwrite", "--threads", "1", "-q"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::read_file(fs::path(out) / "model.safetensors"), first) << "deterministic across thread counts";
}

TEST(ConvertExperts, BadRequestsAreRefusedWithOneLine) {
  TempDir tmp;
  const std::string in = (kData / "models/gpt_oss").string();
  auto r = run_moeckpt({"convert", in, (tmp.path() / "a").string(), "--experts", "per-expert"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("no per-expert layout is known"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp.path() / "a" / "model.safetensors"));
  r = run_moeckpt({"convert", in, (tmp.path() / "b").string(), "--experts", "sideways"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_moeckpt({"convert", in, (tmp.path() / "c").string(), "--experts", "fused", "--cast", "F32"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace
}  // namespace moeckpt
