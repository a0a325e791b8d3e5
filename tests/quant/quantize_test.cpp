// Quantization: re-quantizing torch's own dequantized block-FP8 values gives back torch's codes
// and scales; quantize -> dequantize stays within each format's error bound.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "loader/checkpoint.h"
#include "quant/dequant.h"
#include "quant/quantize.h"
#include "quant/scheme.h"
#include "test_util.h"

namespace moeckpt::quant {
namespace {

MatrixView view(const TensorInfo& t, const TensorBytes& b) {
  MatrixView m{*fmt_of(t.dtype), b.data(), 1, 1, t.shape.back()};
  m.out = t.shape.size() >= 2 ? t.shape[t.shape.size() - 2] : 1;
  m.rows = numel(t) / m.in;
  return m;
}

TEST(QuantizeFp8Block, RequantizingTorchsDequantizedValuesGivesTorchsCodes) {
  Checkpoint q = Checkpoint::open(testing::testdata("schemes/block_fp8.safetensors"));
  Checkpoint ref = Checkpoint::open(testing::testdata("schemes/block_fp8.ref.safetensors"));
  for (std::string name : {"a.weight", "b.weight"}) {
    const TensorInfo* dq = ref.find(name + ".f32");
    const TensorInfo* codes = q.find(name);
    const TensorInfo* scales = q.find(name + "_scale_inv");
    ASSERT_TRUE(dq && codes && scales);
    TensorBytes dqb = ref.bytes(*dq), cb = q.bytes(*codes), sb = q.bytes(*scales);
    MatrixView m = view(*dq, dqb);
    const uint64_t srows = (m.out + 127) / 128, si = (m.in + 127) / 128;
    std::vector<float> s(srows * si);
    fp8_block_scales(m, 128, 128, 0, srows, s.data());
    EXPECT_EQ(0, std::memcmp(s.data(), sb.data(), s.size() * 4)) << name << " scales";
    std::vector<std::byte> got(m.rows * m.in);
    fp8_block_quantize(m, 128, 128, 0, m.rows, got.data());
    EXPECT_EQ(0, std::memcmp(got.data(), cb.data(), got.size())) << name << " codes";
  }
}

TEST(QuantizeFp8Block, RoundTripWithinHalfAnE4M3Step) {
  Checkpoint src = Checkpoint::open(testing::testdata("schemes/dense_src.safetensors"));
  for (std::string name : {"x.weight", "y.weight"}) {
    const TensorInfo& t = *src.find(name);
    TensorBytes b = src.bytes(t);
    MatrixView m = view(t, b);
    const uint64_t srows = (m.out + 127) / 128, si = (m.in + 127) / 128;
    std::vector<float> s(srows * si);
    fp8_block_scales(m, 128, 128, 0, srows, s.data());
    std::vector<std::byte> codes(m.rows * m.in);
    fp8_block_quantize(m, 128, 128, 0, m.rows, codes.data());
    for (uint64_t r = 0; r < m.rows; ++r)
      for (uint64_t c = 0; c < m.in; ++c) {
        float x = decode_at(m.fmt, m.data, r * m.in + c);
        float scale = s[(r / 128) * si + c / 128];
        float y = decode_at(Fmt::kE4M3FN, codes.data(), r * m.in + c) * scale;
        // 3 mantissa bits: half a step is 2^-4 relative; below 2^-6 the step is 2^-9 absolute.
        float bound = std::max(std::fabs(x) * 0x1p-4f, scale * 0x1p-10f) * 1.0001f;
        ASSERT_LE(std::fabs(x - y), bound) << name << " [" << r << "," << c << "] x=" << x << " y=" << y;
      }
  }
}

TEST(QuantizeMxfp4, RoundTripWithinTheMxBoundAndDequantizesThroughTheScheme) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  const uint64_t out = 8, in = 96;
  std::vector<float> x(out * in);
  for (auto& v : x) v = nd(rng);
  x[5] = 0.0f;
  for (uint64_t c = 32; c < 64; ++c) x[2 * in + c] = 0.0f;  // an all-zero group
  MatrixView m{Fmt::kF32, reinterpret_cast<const std::byte*>(x.data()), out, out, in};
  std::vector<std::byte> scales(out * in / 32), packed(out * in / 2);
  mxfp4_scales(m, 0, out, scales.data());
  mxfp4_quantize(m, 0, out, packed.data());
  for (uint64_t r = 0; r < out; ++r)
    for (uint64_t c = 0; c < in; ++c) {
      float s = std::ldexp(1.0f, static_cast<int>(scales[r * (in / 32) + c / 32]) - 127);
      float y = decode_at(Fmt::kE2M1, packed.data(), r * in + c) * s;
      // Elements scaled into [0, 8): steps up to 2 (x 2^e), and (6, 8) saturates to 6.
      ASSERT_LE(std::fabs(x[r * in + c] - y), 2 * s) << r << "," << c;
    }
  // The shared exponent follows the OCP rule: floor(log2(amax)) - 2.
  float amax = 0;
  for (uint64_t c = 0; c < 32; ++c) amax = std::max(amax, std::fabs(x[c]));
  EXPECT_EQ(static_cast<int>(scales[0]) - 127, static_cast<int>(std::floor(std::log2(amax))) - 2);
  EXPECT_EQ(static_cast<int>(scales[2 * 3 + 1]), 0);  // all-zero group: 2^-127
}

TEST(QuantizeFp8Block, RefusesNaN) {
  std::vector<float> x(256, 1.0f);
  x[17] = NAN;
  MatrixView m{Fmt::kF32, reinterpret_cast<const std::byte*>(x.data()), 2, 2, 128};
  std::vector<std::byte> codes(256);
  EXPECT_THROW(fp8_block_quantize(m, 128, 128, 0, 2, codes.data()), Error);
}

TEST(ShouldQuantize, LinearWeightsOnly) {
  using V = std::vector<uint64_t>;
  auto fp8 = QuantizeTarget::kFp8Block;
  EXPECT_TRUE(should_quantize("model.layers.0.self_attn.q_proj.weight", DType::kBF16, V{64, 64}, fp8));
  EXPECT_TRUE(should_quantize("model.layers.1.mlp.experts.0.gate_proj.weight", DType::kF32, V{64, 64}, fp8));
  EXPECT_FALSE(should_quantize("model.layers.1.mlp.gate.weight", DType::kBF16, V{4, 64}, fp8));
  EXPECT_FALSE(should_quantize("model.embed_tokens.weight", DType::kBF16, V{100, 64}, fp8));
  EXPECT_FALSE(should_quantize("lm_head.weight", DType::kBF16, V{100, 64}, fp8));
  EXPECT_FALSE(should_quantize("model.norm.weight", DType::kBF16, V{64}, fp8));
  EXPECT_FALSE(should_quantize("x.weight", DType::kF8_E4M3, V{64, 64}, fp8));
  EXPECT_FALSE(should_quantize("x.weight", DType::kBF16, V{64, 48}, QuantizeTarget::kMxfp4));
}

}  // namespace
}  // namespace moeckpt::quant
