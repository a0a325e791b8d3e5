// Dequantization of every scheme against references torch (and, for gpt-oss MXFP4,
// transformers' own dequantizer) computed in the reference environment (testdata/generate.py,
// part "schemes"): bit for bit in BF16, F16 and F32.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "loader/checkpoint.h"
#include "quant/codec.h"
#include "quant/dequant.h"
#include "quant/row_sink.h"
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

// Calls whose output reaches kStreamMinBytes write through non-temporal stores (row_sink.h):
// one such call equals the same rows dequantized one call per row (in place), byte for byte,
// into outputs at 64-byte-aligned and misaligned addresses, with rows whose length is not a
// multiple of 64 bytes (so row starts fall anywhere in a line) and tails past the vectors.
struct StreamCase {
  const char* name;
  QuantTensor q;
  std::vector<TensorInfo> infos;  // weight, scale, scale2, zero, g_idx (referenced by q)
  std::vector<std::vector<uint8_t>> bytes;
};

TensorInfo info(const char* name, DType d, std::vector<uint64_t> shape) {
  TensorInfo t;
  t.name = name;
  t.dtype = d;
  t.shape = std::move(shape);
  return t;
}

std::vector<uint8_t> random_bytes(uint64_t n, std::mt19937& rng, uint8_t mask = 0xFF) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng() & mask);
  return v;
}

std::vector<uint8_t> f16_scales(uint64_t n, std::mt19937& rng) {
  std::vector<uint8_t> v(2 * n);
  for (uint64_t i = 0; i < n; ++i) encode_at(Fmt::kF16, 1e-3f * static_cast<float>(1 + rng() % 100), v.data(), i);
  return v;
}

// rows x cols int4, group 40 (25 groups, even, not a multiple of 32) of scheme s.
StreamCase int4_case(const char* name, Scheme s, uint64_t rows, uint64_t cols, bool act_order, std::mt19937& rng) {
  const uint64_t group = 40, groups = cols / group;
  StreamCase c{name, {}, {}, {}};
  c.infos.resize(5);
  c.bytes.resize(5);
  if (s == Scheme::kIntPacked) {
    c.infos[0] = info("w.weight_packed", DType::kI32, {rows, cols / 8});
    c.infos[1] = info("w.weight_scale", DType::kF16, {rows, groups});
    c.infos[3] = info("w.weight_zero_point", DType::kI32, {rows / 8, groups});
  } else {
    c.infos[0] = s == Scheme::kGptq ? info("w.qweight", DType::kI32, {cols / 8, rows}) : info("w.qweight", DType::kI32, {cols, rows / 8});
    c.infos[1] = info("w.scales", DType::kF16, {groups, rows});
    c.infos[3] = info("w.qzeros", DType::kI32, {groups, rows / 8});
  }
  c.bytes[0] = random_bytes(rows * cols / 2, rng);
  c.bytes[1] = f16_scales(rows * groups, rng);
  c.bytes[3] = random_bytes(groups * rows / 2, rng);
  c.q.scheme = s;
  c.q.shape = {rows, cols};
  c.q.bits = 4;
  c.q.block_cols = group;
  c.q.weight = &c.infos[0];
  c.q.scale = &c.infos[1];
  c.q.zero = &c.infos[3];
  if (act_order) {
    c.infos[4] = info("w.weight_g_idx", DType::kI32, {cols});
    c.bytes[4].resize(4 * cols);
    for (uint64_t k = 0; k < cols; ++k) {
      const auto g = static_cast<int32_t>(rng() % groups);
      std::memcpy(c.bytes[4].data() + 4 * k, &g, 4);
    }
    c.q.g_idx = &c.infos[4];
  }
  return c;
}

StreamCase nvfp4_ct_case(uint64_t rows, uint64_t cols, std::mt19937& rng) {
  StreamCase c{"nvfp4-pack-quantized", {}, {}, {}};
  c.infos = {info("w.weight_packed", DType::kU8, {rows, cols / 2}), info("w.weight_scale", DType::kF8_E4M3, {rows, cols / 16}),
             info("w.weight_global_scale", DType::kF32, {1})};
  c.bytes = {random_bytes(rows * cols / 2, rng), random_bytes(rows * cols / 16, rng, 0x77), std::vector<uint8_t>(4)};
  const float global = 2688.0f / 0.1f;
  std::memcpy(c.bytes[2].data(), &global, 4);
  c.q.scheme = Scheme::kNvfp4Ct;
  c.q.shape = {rows, cols};
  c.q.block_cols = 16;
  c.q.weight = &c.infos[0];
  c.q.scale = &c.infos[1];
  c.q.scale2 = &c.infos[2];
  return c;
}

std::span<const std::byte> span_of(const std::vector<std::vector<uint8_t>>& b, size_t i) {
  if (i >= b.size()) return {};
  return {reinterpret_cast<const std::byte*>(b[i].data()), b[i].size()};
}

TEST(Streaming, OneLargeCallEqualsRowByRowAtAnyAlignment) {
  std::mt19937 rng(21);
  std::vector<StreamCase> cases;
  // 1000 columns: 2000-byte BF16 rows; 600 rows: 1.2 MB, past the threshold.
  cases.push_back(int4_case("pack-quantized", Scheme::kIntPacked, 600, 1000, false, rng));
  cases.push_back(int4_case("act-order", Scheme::kIntPacked, 600, 1000, true, rng));
  cases.push_back(int4_case("gptq", Scheme::kGptq, 600, 1000, false, rng));
  cases.push_back(int4_case("awq", Scheme::kAwq, 600, 1000, false, rng));
  cases.push_back(nvfp4_ct_case(600, 1008, rng));
  for (StreamCase& c : cases) {
    const DequantInput in{span_of(c.bytes, 0), span_of(c.bytes, 1), span_of(c.bytes, 2), span_of(c.bytes, 3), span_of(c.bytes, 4)};
    const uint64_t rows = c.q.shape[0];
    for (Fmt out : {Fmt::kBF16, Fmt::kF32}) {
      const uint64_t row_bytes = c.q.shape[1] * static_cast<uint64_t>(fmt_bits(out)) / 8, total = rows * row_bytes;
      ASSERT_GE(total, kStreamMinBytes) << c.name;
      ASSERT_LT(row_bytes, kStreamMinBytes) << c.name;  // one row a call stays in place
      std::vector<std::byte> want(total);
      for (uint64_t r = 0; r < rows; ++r) dequantize_rows(c.q, in, out, r, r + 1, want.data() + r * row_bytes);
      std::vector<std::byte> buf(total + 256, std::byte{0xAB});
      const uint64_t base = 64 + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;  // a canary line before
      for (uint64_t offset : {uint64_t{0}, uint64_t{2}, uint64_t{16}, uint64_t{62}}) {
        std::fill(buf.begin(), buf.end(), std::byte{0xAB});
        std::byte* dst = buf.data() + base + offset;
        dequantize_rows(c.q, in, out, 0, rows, dst);
        EXPECT_EQ(std::memcmp(dst, want.data(), total), 0) << c.name << " " << fmt_name(out) << " offset " << offset;
        EXPECT_EQ(dst[-1], std::byte{0xAB}) << c.name << " wrote before its output";
        EXPECT_EQ(dst[total], std::byte{0xAB}) << c.name << " wrote past its output";
      }
    }
  }
}

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
