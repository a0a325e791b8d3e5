// Quantization: re-quantizing torch's own dequantized block-FP8 values gives back torch's codes
// and scales; quantize -> dequantize stays within each format's error bound.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "loader/checkpoint.h"
#include "quant/dequant.h"
#include "quant/kernels.h"
#include "quant/quantize.h"
#include "quant/scheme.h"
#include "simd_targets.h"
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

// The scalar definition the fused kernels must equal bit for bit: per block the amax through
// the reference kernel, scale = amax / 448 (1 for zeros), codes = e4m3fn(x / scale) saturated.
void reference_fp8_block(const MatrixView& m, uint64_t b0, uint64_t b1, std::vector<float>& scales, std::vector<std::byte>& codes) {
  const uint64_t so = (m.out + b0 - 1) / b0, si = (m.in + b1 - 1) / b1, es = static_cast<uint64_t>(fmt_bits(m.fmt)) / 8;
  scales.assign(m.rows / m.out * so * si, 0.0f);
  for (uint64_t r = 0; r < m.rows; ++r)
    for (uint64_t j = 0; j < si; ++j) {
      const uint64_t c0 = j * b1, n = std::min(m.in, c0 + b1) - c0;
      float& s = scales[((r / m.out) * so + (r % m.out) / b0) * si + j];
      s = std::max(s, ref::absmax(m.fmt, m.data + (r * m.in + c0) * es, n));
    }
  for (float& s : scales) s = s == 0.0f ? 1.0f : s / 448.0f;
  codes.assign(m.rows * m.in, std::byte{0});
  for (uint64_t r = 0; r < m.rows; ++r) {
    RowJob job{m.fmt, m.data + r * m.in * es, m.in, ScaleOp::kDivide, scales.data() + ((r / m.out) * so + (r % m.out) / b0) * si, b1,
               Fmt::kE4M3FN, codes.data() + r * m.in, true};
    ref::run_row(job);
  }
}

// Fused band-and-tile quantization (SIMD amax and encode) against that definition: random
// weights with zero blocks, subnormals, the largest finite values and quotients near E4M3
// rounding points; 3-D tensors, partial bands and blocks, tiles wider than one block, slices
// that start and end inside a band; per-block, per-channel and per-tensor blocks.
TEST(QuantizeFp8Block, FusedPassEqualsTheScalarDefinition) {
  std::mt19937 rng(21);
  struct Shape {
    uint64_t lead, out, in, b0, b1;
  };
  const Shape shapes[] = {{1, 300, 3000, 128, 128}, {2, 130, 256, 128, 128}, {1, 7, 1000, 1, 1000}, {3, 40, 200, 40, 200},
                          {1, 256, 2048, 128, 128}, {1, 129, 130, 128, 128}, {2, 5, 64, 128, 128},
                          {1, 130, 8300, 128, 128}};  // the last: bands over 2 MB, cut into tiles for any tile of 2 MB or less
  for (Fmt f : {Fmt::kBF16, Fmt::kF32, Fmt::kF16})
    for (const Shape& sh : shapes) {
      const uint64_t rows = sh.lead * sh.out, es = static_cast<uint64_t>(fmt_bits(f)) / 8;
      std::vector<std::byte> data(rows * sh.in * es);
      const float big = f == Fmt::kF16 ? 65504.0f : f == Fmt::kBF16 ? 3.3895314e38f : 3.4028235e38f;
      for (uint64_t i = 0; i < rows * sh.in; ++i) {
        const uint64_t r = i / sh.in, c = i % sh.in;
        float x = std::ldexp(static_cast<float>(static_cast<int>(rng() % 20001) - 10000), -static_cast<int>(rng() % 24));
        if (r % 128 < 3 && c < 128) x = 0.0f;                                     // a zero block (or part of one)
        if (rng() % 997 == 0) x = std::ldexp(1.0f, -130 - static_cast<int>(rng() % 10));  // float32 subnormal
        if (r == rows / 2 && c == sh.in / 3) x = -big;                            // the format's largest magnitude
        if (rng() % 101 == 0) x = 448.0f + 0.5f * static_cast<float>(rng() % 64);  // near e4m3 rounding points
        encode_at(f, x, data.data(), i);
      }
      MatrixView m{f, data.data(), rows, sh.out, sh.in};
      std::vector<float> want_s;
      std::vector<std::byte> want_c;
      reference_fp8_block(m, sh.b0, sh.b1, want_s, want_c);
      std::vector<float> got_s(want_s.size());
      fp8_block_scales(m, sh.b0, sh.b1, 0, want_s.size() / ((sh.in + sh.b1 - 1) / sh.b1), got_s.data());
      ASSERT_EQ(0, std::memcmp(got_s.data(), want_s.data(), 4 * want_s.size())) << fmt_name(f) << " " << sh.out << "x" << sh.in;
      // Whole, and in slices that cut bands: [0, a), [a, b), [b, rows).
      const uint64_t a = std::min<uint64_t>(rows, 77), b = std::min<uint64_t>(rows, 200);
      std::vector<std::byte> got(rows * sh.in);
      for (auto [r0, r1] : {std::pair<uint64_t, uint64_t>{0, rows}, {0, a}, {a, b}, {b, rows}}) {
        if (r0 >= r1) continue;
        fp8_block_quantize(m, sh.b0, sh.b1, r0, r1, got.data() + r0 * sh.in);
      }
      ASSERT_EQ(0, std::memcmp(got.data(), want_c.data(), got.size())) << fmt_name(f) << " " << sh.out << "x" << sh.in;
      std::vector<std::byte> with(rows * sh.in);
      fp8_block_quantize_with(m, sh.b0, sh.b1, want_s.data(), 0, rows, with.data());
      ASSERT_EQ(0, std::memcmp(with.data(), want_c.data(), with.size())) << fmt_name(f) << " " << sh.out << "x" << sh.in << " (given scales)";
    }
}

TEST(QuantizeFp8Block, NaNOrInfNamesTheFirstRowOfItsBand) {
  // Band 1 (rows 128..255): rows 130 and 200 hold NaN/Inf in different tiles; the error names
  // row 130, as a row-by-row scan finds it, from the scales and the codes alike.
  // 9000 columns: bands of 2.3 MB, several tiles wide (quantize.cpp kTileBytes, 256 KB).
  constexpr uint64_t kIn = 9000;
  std::vector<uint16_t> x(256 * kIn, 0x3F80);  // bfloat16 1.0
  x[200 * kIn + 5] = 0x7F80;                   // +Inf, first tile
  x[130 * kIn + 8900] = 0x7FC0;                // NaN, last tile
  MatrixView m{Fmt::kBF16, reinterpret_cast<const std::byte*>(x.data()), 256, 256, kIn};
  std::vector<std::byte> codes(256 * kIn);
  std::vector<float> s(2 * ((kIn + 127) / 128));
  for (int part = 0; part < 2; ++part) {
    try {
      if (part == 0) fp8_block_quantize(m, 128, 128, 0, 256, codes.data());
      else fp8_block_scales(m, 128, 128, 0, 2, s.data());
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(e.reason().find("row 130 "), std::string::npos) << e.reason();
    }
  }
}

// NVFP4 one element at a time: per 16-element group the E4M3FN scale e4m3(amax / (6 * global))
// (a block of zeros: e4m3(1)), then each element x / (value(scale) * global) to E2M1, both
// saturated: the definition nvfp4_scales / nvfp4_quantize are held to.
void reference_nvfp4(const MatrixView& m, float global, std::vector<std::byte>& scales, std::vector<std::byte>& codes) {
  const uint64_t groups = m.in / 16, es = static_cast<uint64_t>(fmt_bits(m.fmt)) / 8;
  scales.assign(m.rows * groups, std::byte{0});
  codes.assign(m.rows * m.in / 2, std::byte{0});
  const float denom = 6.0f * global;
  for (uint64_t r = 0; r < m.rows; ++r)
    for (uint64_t g = 0; g < groups; ++g) {
      const std::byte* src = m.data + (r * m.in + 16 * g) * es;
      const float amax = ref::absmax(m.fmt, src, 16);
      encode_at(Fmt::kE4M3FN, amax == 0.0f ? 1.0f : amax / denom, &scales[r * groups + g], 0, true);
      const float s = decode_at(Fmt::kE4M3FN, &scales[r * groups + g], 0) * global;
      for (uint64_t i = 0; i < 16; ++i) encode_at(Fmt::kE2M1, decode_at(m.fmt, src, i) / s, &codes[(r * m.in + 16 * g) / 2], i, true);
    }
}

// The many-groups kernel (bfloat16) and the general path (float32) against that definition:
// rows of 1 to 129 groups (tails after every multiple of the kernel's N groups), zero groups,
// subnormal inputs, exact E2M1 ties (small integers times powers of two), groups so small
// against the global scale that their scale is an E4M3 subnormal or zero (divisor 0), the
// largest bfloat16, all-zero weights, and global scales given too small (saturated scales) or
// so small that 6 * global is not normal (the one-at-a-time path).
TEST(QuantizeNvfp4, ScalesAndCodesEqualTheScalarDefinition) {
  std::mt19937 rng(33);
  for_each_target([&](const char* target) {
  for (Fmt f : {Fmt::kBF16, Fmt::kF32})
    for (uint64_t in : {16, 32, 48, 64, 112, 128, 240, 256, 272, 496, 512, 528, 2048, 2064})
      for (int kind = 0; kind < 6; ++kind) {
        const uint64_t rows = 5, es = static_cast<uint64_t>(fmt_bits(f)) / 8;
        std::vector<std::byte> data(rows * in * es);
        for (uint64_t i = 0; i < rows * in; ++i) {
          const uint64_t g = i / 16;
          float x = std::ldexp(static_cast<float>(static_cast<int>(rng() % 201) - 100), -static_cast<int>(rng() % 12));
          if (g % 7 == 3) x = 0.0f;                                                      // a zero group
          if (g % 11 == 5) x *= 1e-6f;                                                    // scale: E4M3 subnormal or 0
          if (rng() % 501 == 0) x = std::ldexp(1.0f, -127 - static_cast<int>(rng() % 6));  // subnormal input
          if (kind == 1) x = 0.0f;                                                        // an all-zero weight
          if (kind == 2 && i == in + 7) x = -3.3895314e38f;                               // the largest bfloat16
          if (kind == 5) x *= 1e-39f;                                                     // 6 * global not normal
          encode_at(f, x, data.data(), i);
        }
        MatrixView m{f, data.data(), rows, rows, in};
        float global = nvfp4_global_scale(m);
        if (kind == 3) global *= 0.01f;  // scales saturate at 448
        if (kind == 4) global = std::ldexp(1.0f, -120);
        std::vector<std::byte> want_s, want_c;
        reference_nvfp4(m, global, want_s, want_c);
        std::vector<std::byte> got_s(want_s.size(), std::byte{0xAB}), got_c(want_c.size(), std::byte{0xAB}), sc2(want_s.size());
        nvfp4_scales(m, global, 0, rows, got_s.data());
        nvfp4_quantize(m, global, 0, 2, got_c.data());
        nvfp4_quantize(m, global, 2, rows, got_c.data() + 2 * in / 2);
        ASSERT_EQ(0, std::memcmp(got_s.data(), want_s.data(), want_s.size())) << target << " " << fmt_name(f) << " in " << in << " kind " << kind;
        ASSERT_EQ(0, std::memcmp(got_c.data(), want_c.data(), want_c.size())) << target << " " << fmt_name(f) << " in " << in << " kind " << kind;
        // The kernel itself, row by row, with and without codes.
        if (f != Fmt::kBF16) continue;
        for (uint64_t r = 0; r < rows; ++r) {
          std::vector<uint8_t> s(in / 16), c(in / 2), s2(in / 16);
          const auto* row = reinterpret_cast<const uint16_t*>(data.data()) + r * in;
          if (!nvfp4_bf16_row(row, in, global, s.data(), c.data())) {
            EXPECT_TRUE(kind >= 5 || std::string(simd_target()) == "EMU128" || std::string(simd_target()) == "SCALAR") << kind;
            continue;
          }
          ASSERT_TRUE(nvfp4_bf16_row(row, in, global, s2.data(), nullptr));
          EXPECT_EQ(0, std::memcmp(s.data(), &want_s[r * in / 16], in / 16)) << "in " << in << " kind " << kind << " row " << r;
          EXPECT_EQ(0, std::memcmp(s2.data(), &want_s[r * in / 16], in / 16)) << "in " << in << " kind " << kind << " row " << r;
          EXPECT_EQ(0, std::memcmp(c.data(), &want_c[r * in / 2], in / 2)) << "in " << in << " kind " << kind << " row " << r;
        }
      }
  });
}

// Quotients exactly on every E2M1 rounding point and one bfloat16 step either side (where
// x * (1 / s) and x / s round apart, and the kernel must divide): each group's amax is set
// first, its divisor s taken from the definition, and the other elements made +-p * s in
// bfloat16 (p <= 5, so the amax stays). Global scales a power of two (s has 4 significant bits,
// p * s is exact) and not.
TEST(QuantizeNvfp4, QuotientsOnRoundingPointsEqualTheScalarDefinition) {
  std::mt19937 rng(34);
  const float points[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 0.5f, 1.0f, 3.0f, 0.125f};
  const uint64_t rows = 32, in = 1040;
  for_each_target([&](const char* target) {
    for (float global : {0.125f, 1.0f / 448.0f, 0.37f, std::ldexp(1.0f, -12)}) {
      std::vector<uint16_t> x(rows * in, 0);
      for (uint64_t i = 0; i < rows * in; i += 16)
        encode_at(Fmt::kBF16, std::ldexp(1.0f + static_cast<float>(rng() % 128) / 128.0f, static_cast<int>(rng() % 12) - 6), x.data(), i);
      MatrixView m{Fmt::kBF16, reinterpret_cast<const std::byte*>(x.data()), rows, rows, in};
      std::vector<std::byte> want_s, want_c;
      reference_nvfp4(m, global, want_s, want_c);
      for (uint64_t i = 0; i < rows * in; ++i) {
        if (i % 16 == 0) continue;
        const float sd = decode_at(Fmt::kE4M3FN, &want_s[i / 16], 0) * global;
        encode_at(Fmt::kBF16, (rng() % 2 ? 1.0f : -1.0f) * points[rng() % std::size(points)] * sd, x.data(), i);
        if (int d = static_cast<int>(rng() % 4); d == 1) ++x[i];
        else if (d == 2 && (x[i] & 0x7FFF) != 0) --x[i];
      }
      reference_nvfp4(m, global, want_s, want_c);
      std::vector<std::byte> got_s(want_s.size()), got_c(want_c.size());
      nvfp4_scales(m, global, 0, rows, got_s.data());
      nvfp4_quantize(m, global, 0, rows, got_c.data());
      EXPECT_EQ(0, std::memcmp(got_s.data(), want_s.data(), want_s.size())) << target << " " << global;
      EXPECT_EQ(0, std::memcmp(got_c.data(), want_c.data(), want_c.size())) << target << " " << global;
    }
  });
}

TEST(QuantizeNvfp4, NaNOrInfNamesItsRow) {
  std::vector<uint16_t> x(8 * 256, 0x3F80);
  x[5 * 256 + 200] = 0x7FC0;  // NaN in row 5
  MatrixView m{Fmt::kBF16, reinterpret_cast<const std::byte*>(x.data()), 8, 8, 256};
  std::vector<std::byte> s(8 * 16), c(8 * 128);
  for (int part = 0; part < 2; ++part) {
    try {
      if (part == 0) nvfp4_scales(m, 1.0f, 0, 8, s.data());
      else nvfp4_quantize(m, 1.0f, 0, 8, c.data());
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(e.reason().find("row 5 "), std::string::npos) << e.reason();
    }
  }
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
