// validate's quantization checks through the real binary: config.json against the quantized
// tensors, and with --data the values of weights and scales (NaN/Inf codes, bad scales).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <filesystem>
#include <limits>
#include <set>

#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using nlohmann::json;
using testing::run_moeckpt;
using testing::TempDir;

struct Tensor {
  std::string name, dtype;
  std::vector<uint64_t> shape;
  std::string bytes;
};

std::string f32s(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  size_t i = 0;
  for (float x : v) std::memcpy(s.data() + 4 * i++, &x, 4);
  return s;
}

std::string st_file(const std::vector<Tensor>& ts) {
  json h = json::object();
  std::string data;
  for (const auto& t : ts) {
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  return testing::safetensors_bytes(h.dump(), data);
}

// (code, tensor) of every finding of `validate ... --json`.
std::set<std::pair<std::string, std::string>> findings(const testing::RunResult& r) {
  std::set<std::pair<std::string, std::string>> out;
  auto j = json::parse(r.out);
  for (const auto& f : j["findings"]) out.insert({f["code"].get<std::string>(), f["tensor"].is_null() ? "" : f["tensor"].get<std::string>()});
  return out;
}

bool has_code(const testing::RunResult& r, const std::string& code) {
  for (const auto& f : findings(r))
    if (f.first == code) return true;
  return false;
}

// A copy of a fixture directory with its config.json edited.
fs::path with_config(const TempDir& tmp, const std::string& fixture, const std::function<void(json&)>& edit) {
  fs::path dir = tmp / "ck";
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(testing::testdata(fixture))) fs::copy_file(e.path(), dir / e.path().filename());
  json cfg = json::parse(testing::read_file(dir / "config.json"));
  edit(cfg);
  testing::write_file(dir / "config.json", cfg.dump(2));
  return dir;
}

TEST(ValidateQuant, CleanFp8ModelHasNoQuantFindings) {
  auto r = run_moeckpt({"validate", "testdata/fp8model/qwen3_moe_aligned_fp8", "--data", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  auto j = json::parse(r.out);
  EXPECT_TRUE(j["findings"].empty()) << r.out;
  // --data reports every float tensor's amax and NaN/Inf counts; the scales are small positives.
  const auto& v = j["summary"]["values"];
  EXPECT_EQ(v.size(), 58u);
  EXPECT_EQ(v["model.layers.1.self_attn.k_proj.weight"]["amax"].get<double>(), 448.0);
  EXPECT_GT(v["model.layers.1.self_attn.k_proj.weight_scale_inv"]["amax"].get<double>(), 0.0);
}

TEST(ValidateQuant, QuantizedTensorsWithoutQuantizationConfig) {
  TempDir tmp;
  auto dir = with_config(tmp, "fp8model/qwen3_moe_aligned_fp8", [](json& c) { c.erase("quantization_config"); });
  auto r = run_moeckpt({"validate", dir.string(), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has_code(r, "E-QUANT-CONFIG-MISSING")) << r.out;
}

TEST(ValidateQuant, QuantizationConfigWithoutQuantizedTensors) {
  TempDir tmp;
  auto dir = with_config(tmp, "fp8model/qwen3_moe_aligned_bf16",
                         [](json& c) { c["quantization_config"] = {{"quant_method", "fp8"}, {"weight_block_size", {128, 128}}}; });
  auto r = run_moeckpt({"validate", dir.string(), "--json"});
  // An error: the engine would build FP8 layers for the BF16 weights and never load a scale.
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(has_code(r, "E-QUANT-CONFIG-UNUSED")) << r.out;
  TempDir tmp2;
  auto twin = with_config(tmp2, "fp8model/qwen3_moe_aligned_bf16", [](json&) {});
  auto clean = run_moeckpt({"validate", twin.string(), "--json"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out;
  EXPECT_FALSE(has_code(clean, "E-QUANT-CONFIG-UNUSED")) << clean.out;
}

TEST(ValidateQuant, QuantMethodThatDoesNotDescribeTheTensors) {
  TempDir tmp;
  auto dir = with_config(tmp, "fp8model/qwen3_moe_aligned_fp8", [](json& c) { c["quantization_config"]["quant_method"] = "mxfp4"; });
  auto r = run_moeckpt({"validate", dir.string(), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has_code(r, "E-QUANT-METHOD-MISMATCH")) << r.out;
}

TEST(ValidateQuant, DataScanFindsBadValuesAndScales) {
  TempDir tmp;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::string fp8 = {0x38, 0x40, 0x7f, 0x00};  // 1.0, 2.0, NaN (E4M3FN's only NaN code), 0
  std::string fp8_ok = {0x38, 0x40, 0x30, 0x00};
  testing::write_file(tmp / "m.safetensors",
                      st_file({{"nan.weight", "F8_E4M3", {2, 2}, fp8},
                               {"nan.weight_scale_inv", "F32", {1, 1}, f32s({0.5f})},
                               {"badscale.weight", "F8_E4M3", {2, 2}, fp8_ok},
                               {"badscale.weight_scale_inv", "F32", {1, 1}, f32s({nan})},
                               {"negscale.weight", "F8_E4M3", {2, 2}, fp8_ok},
                               {"negscale.weight_scale_inv", "F32", {1, 1}, f32s({-0.25f})},
                               {"zeroscale.weight", "F8_E4M3", {2, 2}, fp8_ok},
                               {"zeroscale.weight_scale_inv", "F32", {1, 1}, f32s({0.0f})},
                               {"norm.weight", "F32", {3}, f32s({1.0f, inf, -inf})},
                               {"fine.weight", "F32", {2}, f32s({1.0f, -2.0f})}}));
  auto quick = run_moeckpt({"validate", (tmp / "m.safetensors").string(), "--json"});
  for (const auto& f : findings(quick)) EXPECT_EQ(f.first.rfind("E-VALUES", 0), std::string::npos) << "values are scanned only with --data";

  auto r = run_moeckpt({"validate", (tmp / "m.safetensors").string(), "--data", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  auto got = findings(r);
  std::set<std::pair<std::string, std::string>> want = {{"E-VALUES-NAN", "nan.weight"},
                                                        {"E-SCALE-VALUE", "badscale.weight_scale_inv"},
                                                        {"E-SCALE-VALUE", "negscale.weight_scale_inv"},
                                                        {"W-SCALE-ZERO", "zeroscale.weight_scale_inv"},
                                                        {"E-VALUES-INF", "norm.weight"},
                                                        {"W-CONFIG-MISSING", ""}};
  EXPECT_EQ(got, want) << r.out;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["summary"]["values"]["norm.weight"]["inf"].get<int>(), 2);
  EXPECT_EQ(j["summary"]["values"]["fine.weight"]["amax"].get<double>(), 2.0);
}

TEST(ValidateQuant, DataScanReportsACorruptShardAsAFinding) {
  // validate --data reads every byte; a shard cut short is already a load problem, so the data
  // scan of the remaining files still runs and the command still exits with findings, not a crash.
  TempDir tmp;
  std::string bytes = st_file({{"a.weight", "F32", {2}, f32s({1.0f, 2.0f})}});
  testing::write_file(tmp / "m.safetensors", bytes.substr(0, bytes.size() - 3));
  auto r = run_moeckpt({"validate", (tmp / "m.safetensors").string(), "--data"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 134) << "crashed";
}

}  // namespace
}  // namespace moeckpt
