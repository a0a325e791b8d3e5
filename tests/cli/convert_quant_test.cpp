// convert --dequant / --cast / --quantize and diff through the real binary, checked against
// references PyTorch computed on the reference machine (testdata/schemes/*.ref.safetensors,
// testdata/fp8model/*dequant_torch*), never against moeckpt's own output alone.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include "loader/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using testing::run_moeckpt;
using testing::TempDir;

std::string bytes_of(const Checkpoint& ck, const std::string& name) {
  const TensorInfo* t = ck.find(name);
  if (!t) return "<missing " + name + ">";
  auto b = ck.bytes(*t).span();
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

struct DequantCase {
  const char* input;     // under testdata/schemes
  const char* weight;    // weight name in the input (and the output)
  const char* ref_file;  // under testdata/schemes
  const char* ref_name;  // tensor in ref_file, without the .<dtype> suffix
  const char* dtype;     // --dequant argument, also the reference suffix
};

class DequantMatchesTorch : public ::testing::TestWithParam<DequantCase> {};

TEST_P(DequantMatchesTorch, BitExact) {
  const DequantCase& c = GetParam();
  TempDir tmp;
  auto r = run_moeckpt({"convert", std::string("testdata/schemes/") + c.input, (tmp / "out").string(), "--dequant", c.dtype});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Checkpoint out = Checkpoint::open(tmp / "out");
  Checkpoint ref = Checkpoint::open(testing::testdata(std::string("schemes/") + c.ref_file));
  const TensorInfo* t = out.find(c.weight);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(dtype_name(t->dtype), std::string(c.dtype == std::string("bf16") ? "BF16" : c.dtype == std::string("f16") ? "F16" : "F32"));
  EXPECT_TRUE(bytes_of(out, c.weight) == bytes_of(ref, std::string(c.ref_name) + "." + c.dtype)) << c.input << " " << c.weight;
  // No scale tensor survives a dequant.
  for (const auto& x : out.tensors()) EXPECT_EQ(x.name.find("scale"), std::string::npos) << x.name;
}

INSTANTIATE_TEST_SUITE_P(
    Schemes, DequantMatchesTorch,
    ::testing::Values(DequantCase{"block_fp8.safetensors", "a.weight", "block_fp8.ref.safetensors", "a.weight", "bf16"},
                      DequantCase{"block_fp8.safetensors", "b.weight", "block_fp8.ref.safetensors", "b.weight", "f32"},
                      DequantCase{"block_fp8.safetensors", "a.weight", "block_fp8.ref.safetensors", "a.weight", "f16"},
                      DequantCase{"per_tensor_fp8.safetensors", "t.weight", "per_tensor_fp8.ref.safetensors", "t.weight", "bf16"},
                      DequantCase{"per_tensor_fp8.safetensors", "c.weight", "per_tensor_fp8.ref.safetensors", "c.weight", "f32"},
                      DequantCase{"nvfp4.safetensors", "l.weight", "nvfp4.ref.safetensors", "l.weight", "bf16"},
                      DequantCase{"mxfp4_dsv4.safetensors", "layers.1.ffn.experts.0.w1.weight", "mxfp4_dsv4.ref.safetensors", "w", "bf16"}),
    [](const ::testing::TestParamInfo<DequantCase>& i) {
      std::string n = std::string(i.param.input).substr(0, std::string(i.param.input).find('.')) + "_" + i.param.dtype + "_" + std::to_string(i.index);
      for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

TEST(ConvertQuant, DequantOfARealFp8ModelEqualsTorch) {
  // transformers 5.17 FineGrainedFP8 quantized a Qwen3-MoE; torch dequantized it block by block.
  TempDir tmp;
  auto r = run_moeckpt({"convert", "testdata/fp8model/qwen3_moe_aligned_fp8", (tmp / "bf16").string(), "--dequant", "bf16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto d = run_moeckpt({"diff", (tmp / "bf16").string(), "testdata/fp8model/qwen3_moe_aligned_fp8.dequant_torch.safetensors", "--atol",
                        "0", "--rtol", "0", "--json"});
  ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
  auto j = nlohmann::json::parse(d.out);
  EXPECT_TRUE(j["equal_within_tolerance"].get<bool>());
  EXPECT_EQ(j["compared"].get<int>(), 35);
  // Against the BF16 model transformers quantized: the same tensor names, no scale left over, and
  // every value within E4M3's error: half a step is 1/16 relative; transformers also clamps each
  // block's extremes (its amax is rounded to E4M3 first, 0.0664 -> 0.0625), and the output is
  // rounded to BF16, hence 7% (plus a floor near zero).
  auto o = run_moeckpt({"diff", (tmp / "bf16").string(), "testdata/fp8model/qwen3_moe_aligned_bf16", "--atol", "1e-3", "--rtol", "0.07",
                        "--json"});
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  auto oj = nlohmann::json::parse(o.out);
  EXPECT_TRUE(oj["only_in_a"].empty()) << o.out;
  EXPECT_TRUE(oj["only_in_b"].empty()) << o.out;
  EXPECT_TRUE(oj["dtype_differences"].empty()) << o.out;
  EXPECT_EQ(oj["compared"].get<int>(), 35);
  // Config travels with it; the quantization_config does not (the output is no longer quantized).
  auto cfg = nlohmann::json::parse(testing::read_file(tmp / "bf16" / "config.json"));
  EXPECT_FALSE(cfg.contains("quantization_config"));
}

TEST(ConvertQuant, DiffSeesQuantizationError) {
  // The FP8 model against the BF16 model it was made from: close, not equal.
  auto strict = run_moeckpt({"diff", "testdata/fp8model/qwen3_moe_aligned_fp8", "testdata/fp8model/qwen3_moe_aligned_bf16", "--atol",
                             "0", "--rtol", "0"});
  EXPECT_EQ(strict.exit_code, 1) << strict.err;
  auto loose = run_moeckpt({"diff", "testdata/fp8model/qwen3_moe_aligned_fp8", "testdata/fp8model/qwen3_moe_aligned_bf16", "--atol",
                            "0.01", "--rtol", "0.07"});
  EXPECT_EQ(loose.exit_code, 0) << loose.out << loose.err;
}

TEST(ConvertQuant, QuantizeFp8BlockRoundTripsWithinFp8Error) {
  TempDir tmp;
  auto q = run_moeckpt({"convert", "testdata/fp8model/qwen3_moe_aligned_bf16", (tmp / "fp8").string(), "--quantize", "fp8-block"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  // What moeckpt wrote, re-read by moeckpt's scanner: block FP8 weights with scales of the right shape.
  auto v = run_moeckpt({"validate", (tmp / "fp8").string()});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  Checkpoint out = Checkpoint::open(tmp / "fp8");
  const TensorInfo* w = out.find("model.layers.1.mlp.experts.0.gate_proj.weight");
  const TensorInfo* s = out.find("model.layers.1.mlp.experts.0.gate_proj.weight_scale_inv");
  ASSERT_TRUE(w && s);
  EXPECT_EQ(dtype_name(w->dtype), std::string("F8_E4M3"));
  EXPECT_EQ(s->shape, (std::vector<uint64_t>{2, 2}));  // [256, 256] in 128x128 blocks
  // The config now says how the weights are stored, as engines read it.
  auto cfg = nlohmann::json::parse(testing::read_file(tmp / "fp8" / "config.json"));
  EXPECT_EQ(cfg["quantization_config"]["quant_method"], "fp8");
  EXPECT_EQ(cfg["quantization_config"]["weight_block_size"], nlohmann::json::array({128, 128}));
  // Norms and the router stay as they were.
  Checkpoint src = Checkpoint::open(testing::testdata("fp8model/qwen3_moe_aligned_bf16"));
  EXPECT_EQ(bytes_of(out, "model.norm.weight"), bytes_of(src, "model.norm.weight"));
  // E4M3 keeps 3 mantissa bits: every value within 1/16 relative (plus a small absolute floor).
  auto d = run_moeckpt({"diff", (tmp / "fp8").string(), "testdata/fp8model/qwen3_moe_aligned_bf16", "--rtol", "0.0625", "--atol", "1e-3"});
  EXPECT_EQ(d.exit_code, 0) << d.out;
}

TEST(ConvertQuant, RequantizingTorchsDequantReproducesTransformersFp8File) {
  // transformers' FineGrainedFP8 saturates each block's extremes (its scales are 0.0625/448 where
  // the bf16 amax is 0.0664), so its dequantized values have amax = 448 x scale exactly; moeckpt's
  // amax/448 rule then finds the same scales and codes: every tensor byte-identical.
  TempDir tmp;
  auto q = run_moeckpt({"convert", "testdata/fp8model/qwen3_moe_aligned_fp8.dequant_torch.safetensors", (tmp / "fp8").string(),
                        "--quantize", "fp8-block"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  Checkpoint mine = Checkpoint::open(tmp / "fp8");
  Checkpoint theirs = Checkpoint::open(testing::testdata("fp8model/qwen3_moe_aligned_fp8"));
  ASSERT_EQ(mine.tensors().size(), theirs.tensors().size());
  for (const auto& t : theirs.tensors()) EXPECT_TRUE(bytes_of(mine, t.name) == bytes_of(theirs, t.name)) << t.name;
}

TEST(ConvertQuant, QuantizeMxfp4WritesPackedNibblesAndE8m0Scales) {
  TempDir tmp;
  auto q = run_moeckpt({"convert", "testdata/fp8model/qwen3_moe_aligned_bf16", (tmp / "fp4").string(), "--quantize", "mxfp4"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  Checkpoint out = Checkpoint::open(tmp / "fp4");
  const TensorInfo* w = out.find("model.layers.1.mlp.experts.0.down_proj.weight");
  const TensorInfo* s = out.find("model.layers.1.mlp.experts.0.down_proj.scale");
  ASSERT_TRUE(w && s);
  EXPECT_EQ(w->shape, (std::vector<uint64_t>{256, 128}));  // [out, in/2]
  EXPECT_EQ(s->shape, (std::vector<uint64_t>{256, 8}));    // [out, in/32]
  EXPECT_EQ(dtype_name(s->dtype), std::string("F8_E8M0"));
  // FP4 E2M1 is coarse (1 mantissa bit), yet no value moves by more than half its block's amax.
  auto d = run_moeckpt({"diff", (tmp / "fp4").string(), "testdata/fp8model/qwen3_moe_aligned_bf16", "--rtol", "0.5", "--atol", "0.02"});
  EXPECT_EQ(d.exit_code, 0) << d.out;
}

TEST(ConvertQuant, CastChangesFloatTypesOnly) {
  TempDir tmp;
  auto r = run_moeckpt({"convert", "testdata/fp8model/qwen3_moe_aligned_bf16", (tmp / "f32").string(), "--cast", "f32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Checkpoint out = Checkpoint::open(tmp / "f32");
  for (const auto& t : out.tensors()) EXPECT_EQ(dtype_name(t.dtype), std::string("F32")) << t.name;
  // BF16 -> F32 is exact, so the values are unchanged.
  auto d = run_moeckpt({"diff", (tmp / "f32").string(), "testdata/fp8model/qwen3_moe_aligned_bf16", "--atol", "0", "--rtol", "0"});
  EXPECT_EQ(d.exit_code, 0) << d.out;
}

TEST(ConvertQuant, RefusesWhatItCannotDoCorrectly) {
  TempDir tmp;
  // Scales that do not fit their weights (transformers' fused gate_up split inside a 128-row block).
  auto bad = run_moeckpt({"convert", "testdata/fp8model/qwen3_moe_fp8", (tmp / "a").string(), "--dequant", "bf16"});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_NE(bad.err.find("weight_scale_inv"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(tmp / "a"));
  // Casting a quantized checkpoint would throw its scales away.
  auto cast = run_moeckpt({"convert", "testdata/fp8model/qwen3_moe_aligned_fp8", (tmp / "b").string(), "--cast", "bf16"});
  EXPECT_EQ(cast.exit_code, 2);
  EXPECT_NE(cast.err.find("--dequant"), std::string::npos) << cast.err;
  EXPECT_FALSE(fs::exists(tmp / "b"));
  // Quantizing what is already quantized.
  auto twice = run_moeckpt({"convert", "testdata/fp8model/qwen3_moe_aligned_fp8", (tmp / "c").string(), "--quantize", "fp8-block"});
  EXPECT_NE(twice.exit_code, 0);
  EXPECT_FALSE(fs::exists(tmp / "c"));
}

TEST(Tensor, PrintsDequantizedValuesAndStats) {
  auto r = run_moeckpt({"tensor", "testdata/schemes/block_fp8.safetensors", "a.weight", "--dequant", "--stats", "--json", "-n", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["dequantized"]["scheme"], "fp8-block");
  EXPECT_EQ(j["values"].size(), 4u);
  EXPECT_EQ(j["stats"]["count"].get<uint64_t>(), 300u * 200u);
  // The first values equal torch's f32 dequant of the same weight.
  Checkpoint ref = Checkpoint::open(testing::testdata("schemes/block_fp8.ref.safetensors"));
  std::string b = bytes_of(ref, "a.weight.f32");
  for (size_t i = 0; i < 4; ++i) {
    float v;
    std::memcpy(&v, b.data() + 4 * i, 4);
    EXPECT_EQ(j["values"][i].get<float>(), v) << i;
  }
  auto missing = run_moeckpt({"tensor", "testdata/schemes/block_fp8.safetensors", "nope.weight"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("nope.weight"), std::string::npos);
}

std::string one_tensor(const std::string& dtype, const std::string& bytes, uint64_t n) {
  nlohmann::json h = {{"x", {{"dtype", dtype}, {"shape", {n}}, {"data_offsets", {0, bytes.size()}}}}};
  return testing::safetensors_bytes(h.dump(), bytes);
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  size_t i = 0;
  for (float x : v) std::memcpy(s.data() + 4 * i++, &x, 4);
  return s;
}

TEST(Diff, InfinitiesMatchOnlyThemselvesAndFloatsDoNotMatchIntegers) {
  TempDir tmp;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  testing::write_file(tmp / "a.safetensors", one_tensor("F32", floats({1.0f, inf, nan}), 3));
  testing::write_file(tmp / "b.safetensors", one_tensor("F32", floats({1.0f, inf, nan}), 3));
  testing::write_file(tmp / "c.safetensors", one_tensor("F32", floats({1.0f, 5.0f, nan}), 3));
  testing::write_file(tmp / "d.safetensors", one_tensor("I32", std::string(12, '\0'), 3));
  auto same = run_moeckpt({"diff", (tmp / "a.safetensors").string(), (tmp / "b.safetensors").string()});
  EXPECT_EQ(same.exit_code, 0) << same.out;  // equal infinities, NaN against NaN
  // A finite value against an infinity is a difference whatever --rtol says (rtol x inf = inf).
  auto inf_vs_finite = run_moeckpt({"diff", (tmp / "c.safetensors").string(), (tmp / "a.safetensors").string(), "--rtol", "0.5"});
  EXPECT_EQ(inf_vs_finite.exit_code, 1) << inf_vs_finite.out;
  auto kinds = run_moeckpt({"diff", (tmp / "a.safetensors").string(), (tmp / "d.safetensors").string(), "--json"});
  EXPECT_EQ(kinds.exit_code, 1) << kinds.out;
  EXPECT_EQ(nlohmann::json::parse(kinds.out)["not_comparable"], nlohmann::json::array({"x"}));
}

}  // namespace
}  // namespace moeckpt
