// Dequantization of every scheme against references torch (and, for gpt-oss MXFP4,
// transformers' own dequantizer) computed in the reference environment (testdata/generate.py,
// part "schemes"): bit for bit in BF16, F16 and F32.
#include <gtest/gtest.h>

#include <cstring>

#include "loader/checkpoint.h"
#include "quant/dequant.h"
#include "quant/scheme.h"
#include "test_util.h"

namespace moeckpt::quant {
namespace {

std::vector<std::byte> dequant_all(const Checkpoint& ck, const QuantTensor& q, Fmt out) {
  uint64_t rows = dequant_rows(q), elems = dequant_row_elems(q);
  std::vector<std::byte> buf(rows * elems * static_cast<uint64_t>(fmt_bits(out)) / 8);
  const DequantBytes b = dequant_bytes(ck, q);
  dequantize_rows(q, b.input(), out, 0, rows, buf.data());
  return buf;
}

const QuantTensor& find_q(const QuantScan& scan, const std::string& name) {
  for (const auto& q : scan.tensors)
    if (q.name == name) return q;
  throw std::runtime_error("no quantized tensor " + name);
}

struct Case {
  const char* input;      // under testdata/schemes
  const char* tensor;     // dequantized name
  const char* reference;  // reference file under testdata/schemes
  const char* ref_stem;   // reference tensors are <ref_stem>.bf16 / .f16 / .f32
  Scheme scheme;
};

const Case kCases[] = {
    {"block_fp8.safetensors", "a.weight", "block_fp8.ref.safetensors", "a.weight", Scheme::kBlockFp8},
    {"block_fp8.safetensors", "b.weight", "block_fp8.ref.safetensors", "b.weight", Scheme::kBlockFp8},
    {"block_fp8_32x64", "c.weight", "block_fp8_32x64.ref.safetensors", "c.weight", Scheme::kBlockFp8},
    {"block_fp8_flat_scale.safetensors", "e.weight", "block_fp8.ref.safetensors", "b.weight", Scheme::kBlockFp8},
    {"per_tensor_fp8.safetensors", "t.weight", "per_tensor_fp8.ref.safetensors", "t.weight", Scheme::kPerTensorFp8},
    {"per_tensor_fp8.safetensors", "c.weight", "per_tensor_fp8.ref.safetensors", "c.weight", Scheme::kPerChannelFp8},
    {"mxfp4_dsv4.safetensors", "layers.1.ffn.experts.0.w1.weight", "mxfp4_dsv4.ref.safetensors", "w", Scheme::kMxfp4Packed},
    {"mxfp4_dsv4.safetensors", "layers.1.ffn.experts.0.w2.weight", "mxfp4_dsv4.ref.safetensors", "w", Scheme::kMxfp4Packed},
    {"mxfp4_gptoss.safetensors", "model.layers.0.mlp.experts.gate_up_proj", "mxfp4_gptoss.ref.safetensors", "gate_up_proj", Scheme::kMxfp4GptOss},
    {"mxfp4_gptoss.safetensors", "model.layers.0.mlp.experts.gate_up_proj", "mxfp4_gptoss.ref_transformers.safetensors", "gate_up_proj",
     Scheme::kMxfp4GptOss},
    {"nvfp4.safetensors", "l.weight", "nvfp4.ref.safetensors", "l.weight", Scheme::kNvfp4},
};

class SchemeReference : public ::testing::TestWithParam<Case> {};

TEST_P(SchemeReference, DequantizesBitExactly) {
  const Case& c = GetParam();
  Checkpoint ck = Checkpoint::open(testing::testdata(std::string("schemes/") + c.input));
  Checkpoint ref = Checkpoint::open(testing::testdata(std::string("schemes/") + c.reference));
  QuantScan scan = scan_quantized(ck);
  const QuantTensor& q = find_q(scan, c.tensor);
  EXPECT_EQ(q.scheme, c.scheme);
  for (auto [fmt, suffix] : {std::pair{Fmt::kBF16, ".bf16"}, std::pair{Fmt::kF16, ".f16"}, std::pair{Fmt::kF32, ".f32"}}) {
    const TensorInfo* r = ref.find(std::string(c.ref_stem) + suffix);
    ASSERT_NE(r, nullptr) << c.reference << " lacks " << c.ref_stem << suffix;
    EXPECT_EQ(q.shape, r->shape) << c.tensor;
    auto got = dequant_all(ck, q, fmt);
    TensorBytes want = ref.bytes(*r);
    ASSERT_EQ(got.size(), want.size());
    size_t bad = 0, first = 0;
    size_t es = static_cast<size_t>(fmt_bits(fmt)) / 8;
    for (size_t i = 0; i < got.size(); i += es)
      if (std::memcmp(got.data() + i, want.data() + i, es) != 0 && bad++ == 0) first = i / es;
    EXPECT_EQ(bad, 0u) << c.input << " " << c.tensor << suffix << ": " << bad << " elements differ, first at " << first;
  }
}

INSTANTIATE_TEST_SUITE_P(Schemes, SchemeReference, ::testing::ValuesIn(kCases), [](const ::testing::TestParamInfo<Case>& p) {
  std::string s = std::string(p.param.reference) + "_" + p.param.tensor;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
});

// Quantized MoE checkpoints as released (testdata/generate_quant.py): every quantized weight of
// each fixture dequantizes bit for bit to the reference's <weight> (bf16), <weight>@f16 and
// <weight>@f32, with the scheme, and nothing is left undetected (every reference weight found).
struct Released {
  const char* fixture;
  Scheme scheme;
};

class ReleasedFormat : public ::testing::TestWithParam<Released> {};

TEST_P(ReleasedFormat, DequantizesBitExactly) {
  const Released& c = GetParam();
  Checkpoint ck = Checkpoint::open(testing::testdata(std::string("quantfmt/") + c.fixture));
  Checkpoint ref = Checkpoint::open(testing::testdata(std::string("quantfmt/") + c.fixture + ".ref.safetensors"));
  QuantScan scan = scan_quantized(ck);
  EXPECT_TRUE(scan.findings.empty()) << scan.findings.front().message;
  size_t refs = 0;
  for (const auto& t : ref.tensors()) refs += t.name.ends_with("@f32");
  ASSERT_EQ(scan.tensors.size(), refs);
  for (const auto& q : scan.tensors) {
    EXPECT_EQ(q.scheme, c.scheme) << q.name;
    for (auto [fmt, suffix] : {std::pair{Fmt::kBF16, ""}, std::pair{Fmt::kF16, "@f16"}, std::pair{Fmt::kF32, "@f32"}}) {
      const TensorInfo* r = ref.find(q.name + suffix);
      ASSERT_NE(r, nullptr) << q.name << suffix;
      ASSERT_EQ(q.shape, r->shape) << q.name;
      auto got = dequant_all(ck, q, fmt);
      TensorBytes want = ref.bytes(*r);
      ASSERT_EQ(got.size(), want.size());
      EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size()), 0) << c.fixture << " " << q.name << suffix;
    }
  }
}

const Released kReleased[] = {
    {"ct_fp8_qwen3", Scheme::kPerChannelFp8},      {"ct_fp8_static_dsv3", Scheme::kPerTensorFp8},
    {"ct_nvfp4_qwen3", Scheme::kNvfp4Ct},          {"ct_w4a16_qwen3", Scheme::kIntPacked},
    {"ct_w4a16_asym_dsv3", Scheme::kIntPacked},    {"ct_w8a16_dsv3", Scheme::kIntPacked},
    {"modelopt_fp8_qwen3", Scheme::kPerTensorFp8}, {"modelopt_nvfp4_dsv3", Scheme::kNvfp4},
    {"gptq_qwen3", Scheme::kGptq},                 {"gptq_actorder_dsv3", Scheme::kGptq},
    {"awq_qwen3", Scheme::kAwq},
};

INSTANTIATE_TEST_SUITE_P(Released, ReleasedFormat, ::testing::ValuesIn(kReleased),
                         [](const ::testing::TestParamInfo<Released>& p) { return std::string(p.param.fixture); });

TEST(Scan, IntegerSchemesReadBitsGroupsAndCompanions) {
  Checkpoint ck = Checkpoint::open(testing::testdata("quantfmt/gptq_actorder_dsv3"));
  QuantScan scan = scan_quantized(ck);
  const QuantTensor& q = find_q(scan, "model.layers.1.mlp.experts.0.gate_proj.weight");
  EXPECT_EQ(q.bits, 4u);
  EXPECT_EQ(q.block_cols, 16u);
  ASSERT_NE(q.zero, nullptr);
  ASSERT_NE(q.g_idx, nullptr);
  EXPECT_EQ(q.g_idx->name, "model.layers.1.mlp.experts.0.gate_proj.g_idx");
  EXPECT_EQ(q.shape, (std::vector<uint64_t>{ck.find("model.layers.1.mlp.experts.0.gate_proj.qweight")->shape[1],
                                            ck.find("model.layers.1.mlp.experts.0.gate_proj.g_idx")->shape[0]}));
}

TEST(Scan, FlattenedScaleIsReadWithAWarning) {
  Checkpoint ck = Checkpoint::open(testing::testdata("schemes/block_fp8_flat_scale.safetensors"));
  QuantScan scan = scan_quantized(ck);
  ASSERT_EQ(scan.tensors.size(), 1u);
  ASSERT_EQ(scan.findings.size(), 1u);
  EXPECT_EQ(scan.findings[0].code, "W-SCALE-FLATTENED");
  EXPECT_TRUE(scan.complete());
}

TEST(Scan, BlockSizeComesFromTheConfig) {
  Checkpoint ck = Checkpoint::open(testing::testdata("schemes/block_fp8_32x64"));
  QuantScan scan = scan_quantized(ck);
  ASSERT_EQ(scan.tensors.size(), 1u);
  EXPECT_EQ(scan.tensors[0].block_rows, 32u);
  EXPECT_EQ(scan.tensors[0].block_cols, 64u);
}

TEST(Scan, InputScaleIsDroppedAndNvfp4FindsItsGlobalScale) {
  Checkpoint ck = Checkpoint::open(testing::testdata("schemes/nvfp4.safetensors"));
  QuantScan scan = scan_quantized(ck);
  ASSERT_EQ(scan.tensors.size(), 1u);
  ASSERT_NE(scan.tensors[0].scale2, nullptr);
  ASSERT_EQ(scan.tensors[0].dropped.size(), 1u);
  EXPECT_EQ(scan.tensors[0].dropped[0]->name, "l.input_scale");
  EXPECT_TRUE(scan.findings.empty());
}

TEST(Scan, TransformersSplitFusedExpertScalesAreRefused) {
  // transformers 5.17 quantized the fused gate_up [384, 256] expert weight in 128-row blocks
  // and split it in two at row 192, inside a block: up_proj's scale has 2 elements where its
  // [192, 256] weight needs [2, 2]. Its first 64 rows' scale went to gate_proj. Refused.
  Checkpoint ck = Checkpoint::open(testing::testdata("fp8model/qwen3_moe_fp8"));
  QuantScan scan = scan_quantized(ck);
  int shape_errors = 0;
  for (const auto& f : scan.findings) {
    if (f.code != "E-SCALE-SHAPE") continue;
    ++shape_errors;
    EXPECT_NE(f.tensor.find("up_proj.weight_scale_inv"), std::string::npos) << f.tensor;
  }
  EXPECT_EQ(shape_errors, 4);  // one per expert
  EXPECT_FALSE(scan.complete());
}

}  // namespace
}  // namespace moeckpt::quant
