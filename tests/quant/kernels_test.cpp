// The SIMD kernels equal the scalar reference bit for bit, on every SIMD target this CPU has
// (Highway lets a test restrict dispatch to one target at a time), for every fast path: all
// input codes, random float bit patterns with NaN/Inf/subnormals, group sizes that do and do not
// divide the vector width, and row lengths with tails.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>
#include <memory>
#include <random>
#include <vector>

#include "quant/kernels.h"
#include "simd_targets.h"

namespace moeckpt::quant {
namespace {

std::vector<uint8_t> random_bytes(Fmt f, uint64_t n, std::mt19937& rng) {
  uint64_t bytes = (n * static_cast<uint64_t>(fmt_bits(f)) + 7) / 8;
  std::vector<uint8_t> v(bytes);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  if (f == Fmt::kF32 || f == Fmt::kBF16 || f == Fmt::kF16) {
    // Mostly ordinary magnitudes (so scales and rounding matter), some specials and extremes.
    for (uint64_t i = 0; i < n; ++i) {
      float x;
      switch (rng() % 8) {
        case 0: x = std::bit_cast<float>(static_cast<uint32_t>(rng())); break;  // anything, NaN payloads included
        case 1: x = std::ldexp(static_cast<float>(rng() % 1000) - 500.0f, -static_cast<int>(rng() % 140)); break;
        default: x = (static_cast<float>(rng() % 200001) - 100000.0f) / 997.0f;
      }
      encode_at(f, x, v.data(), i);
    }
  }
  return v;
}

std::vector<float> random_scales(uint64_t count, std::mt19937& rng) {
  std::vector<float> s(count);
  for (auto& x : s) x = std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f, static_cast<int>(rng() % 20) - 14);
  return s;
}

struct Path {
  Fmt in, out;
  ScaleOp op;
};

void check_path(const Path& p, uint64_t n, uint64_t group, std::mt19937& rng, const char* target) {
  auto src = random_bytes(p.in, n, rng);
  auto scales = random_scales(n / std::max<uint64_t>(group, 1) + 1, rng);
  uint64_t out_bytes = (n * static_cast<uint64_t>(fmt_bits(p.out)) + 7) / 8;
  std::vector<uint8_t> want(out_bytes + 8, 0xAB), got(out_bytes + 8, 0xAB);
  RowJob j{p.in, src.data(), n, p.op, scales.data(), group, p.out, want.data(), false};
  for (bool saturate : {false, true}) {
    j.saturate = saturate;
    j.dst = want.data();
    ref::run_row(j);
    j.dst = got.data();
    run_row(j);
    size_t k = 0;
    while (k < got.size() && got[k] == want[k]) ++k;
    ASSERT_EQ(k, got.size()) << target << ": " << fmt_name(p.in) << " -> " << fmt_name(p.out) << " op "
                             << static_cast<int>(p.op) << " n " << n << " group " << group << " saturate " << saturate
                             << ": first differing output byte " << k << " (got " << int(got[k]) << ", want " << int(want[k]) << ")";
  }
}

// The tests that run on every SIMD target (for_each_target, simd_targets.h).
class EveryTarget : public ::testing::Test {};

TEST_F(EveryTarget, DequantFastPathsEqualTheReference) {
  std::mt19937 rng(7);
  const Fmt ins[] = {Fmt::kE4M3FN, Fmt::kE5M2, Fmt::kE4M3FNUZ, Fmt::kE5M2FNUZ, Fmt::kE2M1, Fmt::kF32, Fmt::kBF16, Fmt::kF16};
  const Fmt outs[] = {Fmt::kBF16, Fmt::kF32, Fmt::kF16};
  for_each_target([&](const char* target) {
    for (Fmt in : ins)
      for (Fmt out : outs)
        for (ScaleOp op : {ScaleOp::kNone, ScaleOp::kMultiply})
          for (uint64_t group : {uint64_t{128}, uint64_t{32}, uint64_t{16}, uint64_t{6}})
            for (uint64_t n : {uint64_t{0}, uint64_t{2}, uint64_t{300}, uint64_t{1024}})
              check_path({in, out, op}, n, group, rng, target);
  });
}

TEST_F(EveryTarget, DequantWithExtremeScalesEqualsTheReference) {
  // Scales that are Inf, zero, negative, huge (products overflow; saturate clamps them) or
  // float32 subnormal, mixed with ordinary ones, on every fast path into bfloat16 and float32.
  // (Not NaN: NaN input times NaN scale gives either NaN, as x86 multiplies pick the first
  // operand's and a vectorized product may have its operands in either order.)
  const float specials[] = {INFINITY, -INFINITY, 0.0f, -0.0f, -1.5f, 3.0e38f, -2.5e37f, 1.0e-40f, 1.0f};
  std::mt19937 rng(11);
  for_each_target([&](const char* target) {
    for (Fmt in : {Fmt::kE4M3FN, Fmt::kE5M2, Fmt::kE2M1, Fmt::kF32, Fmt::kBF16})
      for (Fmt out : {Fmt::kBF16, Fmt::kF32})
        for (uint64_t group : {uint64_t{128}, uint64_t{32}, uint64_t{16}})
          for (bool saturate : {false, true}) {
            const uint64_t n = 1024;
            std::vector<uint8_t> src(n * 4);
            for (auto& b : src) b = static_cast<uint8_t>(rng());
            std::vector<float> scales(n / group);
            for (size_t k = 0; k < scales.size(); ++k) scales[k] = k % 2 ? specials[(k / 2) % std::size(specials)] : 0.01f * static_cast<float>(k + 1);
            std::vector<uint8_t> want(n * 4 + 8, 0xAB), got(n * 4 + 8, 0xAB);
            RowJob j{in, src.data(), n, ScaleOp::kMultiply, scales.data(), group, out, want.data(), saturate};
            ref::run_row(j);
            j.dst = got.data();
            run_row(j);
            size_t k = 0;
            while (k < got.size() && got[k] == want[k]) ++k;
            const uint64_t e = k * 8 / static_cast<uint64_t>(fmt_bits(out));
            EXPECT_EQ(k, got.size()) << target << ": " << fmt_name(in) << " -> " << fmt_name(out) << " group " << group << " saturate "
                                     << saturate << ": first differing output byte " << k << " (got " << int(got[k]) << ", want "
                                     << int(want[k]) << "), element " << e << " input " << decode_at(in, src.data(), e) << " scale "
                                     << scales[e / group];
          }
  });
}

TEST_F(EveryTarget, Fp8WeightLikeCodesEqualTheReference) {
  // Weight-like E4M3 rows: long runs of normal codes only (the kernels' fast branch), with a
  // subnormal, zero or NaN code now and then; scales ordinary, and large enough to overflow.
  std::mt19937 rng(12);
  for_each_target([&](const char* target) {
    for (uint64_t group : {uint64_t{128}, uint64_t{64}, uint64_t{32}})
      for (bool saturate : {false, true})
        for (int rep = 0; rep < 4; ++rep) {
          const uint64_t n = 2048;
          std::vector<uint8_t> src(n);
          for (auto& c : src) c = static_cast<uint8_t>((rng() % 0x77 + 8) | (rng() & 0x80));  // magnitudes 0x08..0x7E
          for (int k = 0; k < rep * 3; ++k) src[rng() % n] = static_cast<uint8_t>(rng() % 2 ? rng() % 8 : 0x7F) | static_cast<uint8_t>(rng() & 0x80);
          std::vector<float> scales(n / group);
          for (auto& x : scales) x = rng() % 4 ? std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f, -static_cast<int>(rng() % 20)) : 1.0e38f;
          for (Fmt out : {Fmt::kBF16, Fmt::kF32}) {
            std::vector<uint8_t> want(n * 4, 0xAB), got(n * 4, 0xAB);
            RowJob j{Fmt::kE4M3FN, src.data(), n, ScaleOp::kMultiply, scales.data(), group, out, want.data(), saturate};
            ref::run_row(j);
            j.dst = got.data();
            run_row(j);
            EXPECT_EQ(want, got) << target << ": e4m3fn -> " << fmt_name(out) << " group " << group << " saturate " << saturate << " rep " << rep;
          }
        }
  });
}

TEST_F(EveryTarget, QuantizeFastPathsEqualTheReference) {
  std::mt19937 rng(8);
  for_each_target([&](const char* target) {
    for (Fmt in : {Fmt::kF32, Fmt::kBF16, Fmt::kF16})
      for (ScaleOp op : {ScaleOp::kNone, ScaleOp::kDivide})
        for (uint64_t group : {uint64_t{128}, uint64_t{5}})
          for (uint64_t n : {uint64_t{7}, uint64_t{640}, uint64_t{4096}}) check_path({in, Fmt::kE4M3FN, op}, n, group, rng, target);
  });
}

TEST_F(EveryTarget, QuantizeQuotientsNearRoundingPointsEqualTheReference) {
  // x / s landing on, or a few float32 ulps either side of, the points where E4M3 rounding
  // jumps (midpoints between codes, subnormal ones and 464 included): the quotient must be the
  // float32 division's, rounded once more to E4M3 exactly as the reference does.
  std::vector<float> points;
  for (uint8_t c = 0; c < 0x7E; ++c) {
    const uint8_t pair[2] = {c, static_cast<uint8_t>(c + 1)};
    points.push_back((decode_at(Fmt::kE4M3FN, pair, 0) + decode_at(Fmt::kE4M3FN, pair, 1)) / 2);
  }
  points.push_back(464.0f);
  std::mt19937 rng(13);
  for_each_target([&](const char* target) {
    for (Fmt in : {Fmt::kBF16, Fmt::kF32})
      for (bool saturate : {false, true}) {
        const uint64_t group = 16, groups = 2048;
        std::vector<uint8_t> src(groups * group * 4);
        std::vector<float> scales(groups);
        for (uint64_t g = 0; g < groups; ++g) {
          const float x = std::bit_cast<float>((0x3000u + static_cast<uint32_t>(rng() % 0x1F00)) << 16);  // bfloat16, 2^-31 .. 2^31
          float sc = x / points[rng() % points.size()];
          for (int k = static_cast<int>(rng() % 7) - 3; k != 0; k += k > 0 ? -1 : 1) sc = std::nextafter(sc, k > 0 ? INFINITY : 0.0f);
          scales[g] = sc;
          for (uint64_t e = 0; e < group; ++e) encode_at(in, rng() % 2 ? x : -x, src.data(), g * group + e);
        }
        const uint64_t n = groups * group;
        std::vector<uint8_t> want(n, 0xAB), got(n, 0xAB);
        RowJob j{in, src.data(), n, ScaleOp::kDivide, scales.data(), group, Fmt::kE4M3FN, want.data(), saturate};
        ref::run_row(j);
        j.dst = got.data();
        run_row(j);
        size_t k = 0;
        while (k < n && got[k] == want[k]) ++k;
        EXPECT_EQ(k, n) << target << ": " << fmt_name(in) << " saturate " << saturate << ": element " << k << " got " << int(got[k])
                        << " want " << int(want[k]);
      }
  });
}

// x / s -> E2M1 (NVFP4's 16 and MXFP4's 32 per scale): random inputs with NaN, Inf and
// subnormals; scales ordinary or not normal (zero, subnormal, Inf, NaN, huge: the reference
// path); quotients on and a few ulps either side of E2M1's rounding points.
TEST_F(EveryTarget, QuantizeToE2M1EqualsTheReference) {
  std::mt19937 rng(15);
  const float points[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 6.0f, 0.5f, 4.0f, 7.0f};
  const float odd_scales[] = {0.0f, 1e-40f, INFINITY, NAN, 3e38f, -2.0f};
  for_each_target([&](const char* target) {
    for (Fmt in : {Fmt::kBF16, Fmt::kF32, Fmt::kF16})
      for (uint64_t group : {uint64_t{16}, uint64_t{32}, uint64_t{6}})
        for (uint64_t n : {uint64_t{32}, uint64_t{1024}, uint64_t{250}})
          for (bool near : {false, true}) {
            auto src = random_bytes(in, n, rng);
            auto scales = random_scales(n / group + 1, rng);
            for (auto& sc : scales)
              if (rng() % 10 == 0) sc = odd_scales[rng() % std::size(odd_scales)];
            if (near)
              for (uint64_t i = 0; i < n; ++i) {
                float q = points[rng() % std::size(points)];
                for (int k = static_cast<int>(rng() % 7) - 3; k != 0; k += k > 0 ? -1 : 1) q = std::nextafter(q, k > 0 ? INFINITY : 0.0f);
                encode_at(in, (rng() % 2 ? q : -q) * scales[i / group], src.data(), i);
              }
            std::vector<uint8_t> want(n / 2 + 1, 0xAB), got(n / 2 + 1, 0xAB);
            RowJob j{in, src.data(), n, ScaleOp::kDivide, scales.data(), group, Fmt::kE2M1, want.data(), true};
            ref::run_row(j);
            j.dst = got.data();
            run_row(j);
            size_t k = 0;
            while (k < want.size() && got[k] == want[k]) ++k;
            ASSERT_EQ(k, want.size()) << target << ": " << fmt_name(in) << " group " << group << " n " << n << " near " << near << ": byte " << k
                                      << " got " << int(got[k]) << " want " << int(want[k]);
          }
  });
}

TEST_F(EveryTarget, EveryFp8CodeDecodesLikeTheReference) {
  for_each_target([&](const char* target) {
    for (Fmt in : {Fmt::kE4M3FN, Fmt::kE5M2, Fmt::kE4M3FNUZ, Fmt::kE5M2FNUZ, Fmt::kE2M1}) {
      std::vector<uint8_t> codes(256);
      for (int c = 0; c < 256; ++c) codes[c] = static_cast<uint8_t>(c);
      uint64_t n = in == Fmt::kE2M1 ? 512 : 256;
      std::vector<float> want(n), got(n);
      float one = 1.0f;
      RowJob j{in, codes.data(), n, ScaleOp::kMultiply, &one, n, Fmt::kF32, want.data(), false};
      ref::run_row(j);
      j.dst = got.data();
      run_row(j);
      EXPECT_EQ(0, std::memcmp(want.data(), got.data(), n * 4)) << target << " " << fmt_name(in);
    }
  });
}

// NVFP4's block scales: every E4M3 code (and random float16/bfloat16 ones) decoded to float32
// and multiplied by or divided by the global scale, ordinary or extreme (the quotient or product
// overflowing, subnormal, zero, NaN), as dequantization decodes them a row at a time.
TEST_F(EveryTarget, ScalesTimesOrOverAGlobalEqualTheReference) {
  std::mt19937 rng(16);
  const float globals[] = {26880.0f, 1.0f / 26880.0f, 3e38f, 1e-38f, 1e-40f, 0.0f, -0.0f, INFINITY, -2.5f, NAN, 1.0f};
  for_each_target([&](const char* target) {
    for (Fmt in : {Fmt::kE4M3FN, Fmt::kF16, Fmt::kBF16})
      for (ScaleOp op : {ScaleOp::kMultiply, ScaleOp::kDivide})
        for (float global : globals)
          for (uint64_t n : {uint64_t{256}, uint64_t{128}, uint64_t{13}}) {
            // NaN code times NaN: either NaN (x86 keeps the first operand's, and a product's
            // operands may be in either order); a quotient's order is fixed.
            if (op == ScaleOp::kMultiply && std::isnan(global)) continue;
            std::vector<uint8_t> src = random_bytes(in, n, rng);
            if (in == Fmt::kE4M3FN && n == 256)
              for (uint64_t c = 0; c < n; ++c) src[c] = static_cast<uint8_t>(c);
            std::vector<float> want(n, 1.0f), got(n, 2.0f);
            RowJob j{in, src.data(), n, op, &global, n, Fmt::kF32, want.data(), false};
            ref::run_row(j);
            j.dst = got.data();
            run_row(j);
            for (uint64_t k = 0; k < n; ++k)
              ASSERT_EQ(std::bit_cast<uint32_t>(got[k]), std::bit_cast<uint32_t>(want[k]))
                  << target << " " << fmt_name(in) << " op " << static_cast<int>(op) << " global " << global << " element " << k;
          }
  });
}

TEST_F(EveryTarget, AbsMaxMatchesAndSeesNaN) {
  std::mt19937 rng(9);
  for_each_target([&](const char* target) {
    for (Fmt in : {Fmt::kF32, Fmt::kBF16, Fmt::kF16}) {
      for (uint64_t n : {uint64_t{1}, uint64_t{37}, uint64_t{1000}}) {
        std::vector<uint8_t> v(n * 4);
        for (uint64_t i = 0; i < n; ++i) encode_at(in, (static_cast<float>(rng() % 2001) - 1000.0f) / 7.0f, v.data(), i);
        EXPECT_EQ(absmax(in, v.data(), n), ref::absmax(in, v.data(), n)) << target;
        encode_at(in, NAN, v.data(), n / 2);
        EXPECT_TRUE(std::isnan(absmax(in, v.data(), n))) << target;
      }
    }
  });
}

// Packed integer rows (pack-quantized, GPTQ, AWQ): every bit width, group sizes that do and do
// not fill a vector, per-column zeros and scales (activation order), tails, all outputs.
TEST_F(EveryTarget, IntRowsEqualTheReference) {
  std::mt19937 rng(11);
  for_each_target([&](const char* target) {
    for (unsigned bits : {2u, 4u, 8u})
      for (Fmt out : {Fmt::kBF16, Fmt::kF32, Fmt::kF16})
        for (uint64_t group : {uint64_t{1}, uint64_t{16}, uint64_t{32}, uint64_t{128}, uint64_t{24}})
          for (uint64_t n : {uint64_t{0}, uint64_t{8}, uint64_t{136}, uint64_t{1024}, uint64_t{1000}}) {
            std::vector<uint32_t> words((n * bits + 31) / 32 + kIntRowPad);
            for (auto& w : words) w = static_cast<uint32_t>(rng());
            const uint64_t groups = n / group + 1;
            auto scales = random_scales(groups, rng);
            std::vector<float> zeros(groups);
            for (auto& z : zeros) z = static_cast<float>(rng() % (1u << bits)) + (bits == 4 ? 1.0f : 0.0f);
            const uint64_t out_bytes = n * static_cast<uint64_t>(fmt_bits(out)) / 8;
            std::vector<uint8_t> want(out_bytes + 8, 0xAB), got(out_bytes + 8, 0xAB);
            // Activation order: a random group for every column.
            std::vector<uint32_t> g_idx(n);
            for (auto& g : g_idx) g = static_cast<uint32_t>(rng() % groups);
            ActOrderPlan plan;
            plan_act_order(g_idx.data(), n, groups, plan);
            for (int mode : {0, 1, 2}) {  // 1: activation order, 2: with its plan (the per-tensor precomputation)
              const bool act_order = mode != 0;
              IntRowJob j{words.data(), bits, n, zeros.data(), scales.data(), group, out, want.data(), act_order ? g_idx.data() : nullptr};
              j.groups = groups;
              if (mode == 2) j.plan = &plan;
              ref::run_int_row(j);
              j.dst = got.data();
              run_int_row(j);
              size_t k = 0;
              while (k < got.size() && got[k] == want[k]) ++k;
              ASSERT_EQ(k, got.size()) << target << ": bits " << bits << " -> " << fmt_name(out) << " n " << n << " group " << group
                                       << " act order " << mode << ": first differing output byte " << k;
            }
          }
  });
}

// 4-bit rows read in place (no padding: the words end where the row does, so an over-read is
// a sanitizer error), with scales that are NaN, Inf, zero, negative, float32 subnormal or huge,
// and zero points anywhere in 0..15 or fractional; with and without activation order.
TEST_F(EveryTarget, Int4RowsInPlaceWithExtremeScalesEqualTheReference) {
  std::mt19937 rng(12);
  const float specials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, -1.5f, 1e-40f, 3e38f, 1e-3f};
  for_each_target([&](const char* target) {
    for (Fmt out : {Fmt::kBF16, Fmt::kF32, Fmt::kF16})
      // n 1024 with group 64: 16 groups, the most the register tables of activation order hold.
      for (uint64_t group : {uint64_t{2}, uint64_t{32}, uint64_t{128}, uint64_t{48}, uint64_t{7}, uint64_t{64}})
        for (uint64_t n : {uint64_t{2}, uint64_t{30}, uint64_t{130}, uint64_t{1024}, uint64_t{1001}}) {
          const uint64_t groups = (n + group - 1) / group;
          auto scales = random_scales(groups, rng);
          std::vector<float> zeros(groups);
          for (uint64_t g = 0; g < groups; ++g) {
            if (rng() % 3 == 0) scales[g] = specials[rng() % std::size(specials)];
            zeros[g] = rng() % 5 == 0 ? 7.5f : static_cast<float>(rng() % 16);
          }
          std::vector<uint32_t> g_idx(n);
          for (auto& g : g_idx) g = static_cast<uint32_t>(rng() % groups);
          auto words = std::make_unique<uint32_t[]>((n + 7) / 8);
          for (uint64_t w = 0; w < (n + 7) / 8; ++w) words[w] = static_cast<uint32_t>(rng());
          const uint64_t out_bytes = n * static_cast<uint64_t>(fmt_bits(out)) / 8;
          std::vector<uint8_t> want(out_bytes, 0xAB), got(out_bytes, 0xCD);
          ActOrderPlan plan;
          plan_act_order(g_idx.data(), n, groups, plan);
          for (int mode : {0, 1, 2}) {  // 1: activation order, 2: with its plan
            const bool act_order = mode != 0;
            IntRowJob j{words.get(), 4, n, zeros.data(), scales.data(), group, out, want.data(), act_order ? g_idx.data() : nullptr};
            j.groups = groups;
            j.padded = false;
            if (mode == 2) j.plan = &plan;
            ref::run_int_row(j);
            j.dst = got.data();
            run_int_row(j);
            size_t k = 0;
            // NaN results: any NaN bits (x86 keeps the first operand's payload) are the same value.
            while (k < got.size() && got[k] == want[k]) ++k;
            ASSERT_EQ(k, got.size()) << target << ": -> " << fmt_name(out) << " n " << n << " group " << group << " act order " << mode
                                     << ": first differing output byte " << k;
          }
        }
  });
}

TEST_F(EveryTarget, GptqAndAwqWordTransposesEqualTheReference) {
  std::mt19937 rng(13);
  const unsigned awq[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  for_each_target([&](const char* target) {
    // Up to 300 words and 40 columns: whole 16 x 16 tiles (k 128 at a time for AWQ) and every remainder.
    for (uint64_t cols : {uint64_t{3}, uint64_t{16}, uint64_t{40}})
      for (uint64_t words : {uint64_t{1}, uint64_t{13}, uint64_t{64}, uint64_t{128}, uint64_t{300}})
        for (uint64_t c0 : {uint64_t{0}, uint64_t{1}}) {
          const uint64_t count = cols - c0, stride = words + 5;
          std::vector<uint8_t> src(4 * words * cols + 1);
          for (auto& b : src) b = static_cast<uint8_t>(rng());
          // GPTQ: [words, cols] gathered by column; from an odd address (tensor data need not be aligned).
          std::vector<uint32_t> want(count * stride, 7), got(count * stride, 7);
          ref::gather_int_columns(src.data() + 1, words, cols, c0, count, want.data(), stride);
          gather_int_columns(src.data() + 1, words, cols, c0, count, got.data(), stride);
          ASSERT_EQ(got, want) << target << " gptq cols " << cols << " words " << words << " c0 " << c0;
          // AWQ: [k_len, cols] with k_len = words (any length, a partial last chunk too).
          const uint64_t k_len = words, wstride = (k_len + 7) / 8 + 3;
          std::vector<uint32_t> awant(8 * count * wstride, 0), agot(8 * count * wstride, 0);
          ref::transpose_awq_words(src.data() + 1, k_len, cols, c0, count, awq, awant.data(), wstride);
          transpose_awq_words(src.data() + 1, k_len, cols, c0, count, awq, agot.data(), wstride);
          ASSERT_EQ(agot, awant) << target << " awq cols " << cols << " k " << k_len << " c0 " << c0;
        }
  });
}

// GPTQ and AWQ decoded straight from their words (gptq_int4_bf16, awq_int4_bf16) against the
// word transposes' reference followed by the reference int4 row: groups of 32, 64, 128 and the
// whole row; rows that do and do not fill a 16-row tile; k that does and does not fill a
// 128-element tile; a start row inside a tile; zeros and scales with NaN, Inf, 0, subnormal,
// huge; an odd source address. Where a target has no such kernel, nothing may be written.
TEST_F(EveryTarget, GptqAndAwqFusedBf16EqualTheReference) {
  std::mt19937 rng(15);
  const unsigned awq[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  const float specials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, -1.5f, 1e-40f, 3e38f, 1e-3f};
  for_each_target([&](const char* target) {
    for (bool is_awq : {false, true})
      for (uint64_t rows : {uint64_t{16}, uint64_t{40}, uint64_t{152}})
        for (uint64_t k_len : {uint64_t{32}, uint64_t{128}, uint64_t{160}, uint64_t{384}})
          for (uint64_t group : {uint64_t{32}, uint64_t{64}, uint64_t{128}, k_len})
            for (uint64_t r0 : {uint64_t{0}, uint64_t{8}, uint64_t{3}}) {
              if (k_len % group != 0 || (is_awq && r0 % 8 != 0)) continue;
              const uint64_t count = rows - r0, groups = k_len / group, pstride = count + 5, dst_stride = k_len + 24;
              const uint64_t cols = is_awq ? rows / 8 : rows, src_words = is_awq ? k_len * cols : k_len / 8 * cols;
              std::vector<uint8_t> src(4 * src_words + 1);
              for (auto& b : src) b = static_cast<uint8_t>(rng());
              std::vector<float> zeros(groups * pstride), scales = random_scales(groups * pstride, rng);
              for (uint64_t i = 0; i < zeros.size(); ++i) {
                zeros[i] = rng() % 7 == 0 ? 7.5f : static_cast<float>(rng() % 16);
                if (rng() % 5 == 0) scales[i] = specials[rng() % std::size(specials)];
              }
              // The reference: words into row order, then each row through the reference int4 row.
              const uint64_t stride = k_len / 8 + kIntRowPad;
              std::vector<uint32_t> buf(rows * stride, 0);
              if (is_awq) ref::transpose_awq_words(src.data() + 1, k_len, cols, 0, cols, awq, buf.data(), stride);
              else ref::gather_int_columns(src.data() + 1, k_len / 8, cols, 0, cols, buf.data(), stride);
              std::vector<uint16_t> want(count * dst_stride, 0xABCD), got(count * dst_stride, 0xABCD);
              std::vector<float> rz(groups), rs(groups);
              for (uint64_t b = 0; b < count; ++b) {
                for (uint64_t g = 0; g < groups; ++g) rz[g] = zeros[g * pstride + b], rs[g] = scales[g * pstride + b];
                ref::run_int_row({buf.data() + (r0 + b) * stride, 4, k_len, rz.data(), rs.data(), group, Fmt::kBF16, want.data() + b * dst_stride});
              }
              const bool ok = is_awq ? awq_int4_bf16(src.data() + 1, k_len, cols, r0, count, awq, zeros.data(), scales.data(), pstride, group, got.data(), dst_stride)
                                     : gptq_int4_bf16(src.data() + 1, k_len, cols, r0, count, zeros.data(), scales.data(), pstride, group, got.data(), dst_stride);
              if (!ok) {
                ASSERT_TRUE(std::all_of(got.begin(), got.end(), [](uint16_t v) { return v == 0xABCD; })) << target;
                continue;
              }
              size_t k = 0;
              while (k < got.size() && got[k] == want[k]) ++k;
              ASSERT_EQ(k, got.size()) << target << (is_awq ? " awq" : " gptq") << " rows " << rows << " k " << k_len << " group " << group << " r0 "
                                       << r0 << ": first differing element " << k << " (row " << k / dst_stride << ")";
            }
  });
}

// Block amax over rows: random values with NaN, Inf, subnormals, all-zero blocks and the
// largest finite values; widths that do and do not fill a vector, partial last blocks.
TEST_F(EveryTarget, AbsMaxBlocksEqualsTheReference) {
  std::mt19937 rng(14);
  for_each_target([&](const char* target) {
    for (Fmt in : {Fmt::kBF16, Fmt::kF32, Fmt::kF16})
      for (uint64_t group : {uint64_t{128}, uint64_t{16}, uint64_t{64}, uint64_t{24}})
        for (uint64_t n : {uint64_t{128}, uint64_t{1024}, uint64_t{300}, uint64_t{16}})
          for (int special : {0, 1, 2, 3}) {
            const uint64_t rows = 5, stride = n + 3;
            auto v = random_bytes(in, rows * stride, rng);
            const float big = in == Fmt::kF16 ? 65504.0f : in == Fmt::kBF16 ? 3.3895314e38f : 3.4028235e38f;
            for (uint64_t r = 0; r < rows; ++r)
              for (uint64_t i = 0; i < n; ++i) {
                float x = (static_cast<float>(rng() % 2001) - 1000.0f) / 7.0f;
                if (special == 1 && i < group) x = 0.0f;                          // a zero block
                if (special == 2 && rng() % 50 == 0) x = rng() % 2 ? big : -big;  // max values
                if (special == 3 && rng() % 50 == 0) x = std::ldexp(1.0f, -140);  // float32 subnormal
                encode_at(in, x, v.data(), r * stride + i);
              }
            if (special == 3) encode_at(in, NAN, v.data(), 2 * stride + n - 1);
            if (special == 2) encode_at(in, -INFINITY, v.data(), 3 * stride);
            const uint64_t blocks = (n + group - 1) / group;
            std::vector<float> want(blocks, 0.0f), got(blocks, 0.0f);
            ref::absmax_blocks(in, v.data(), stride, rows, n, group, want.data());
            absmax_blocks(in, v.data(), stride, rows, n, group, got.data());
            for (uint64_t g = 0; g < blocks; ++g)
              ASSERT_EQ(std::bit_cast<uint32_t>(got[g]), std::bit_cast<uint32_t>(want[g]))
                  << target << " " << fmt_name(in) << " n " << n << " group " << group << " special " << special << " block " << g;
          }
  });
}

TEST(Kernels, IntRowIsCodeMinusZeroTimesScale) {
  // Words 0x76543210 and 0xFEDCBA98: codes 0..15 in order; zero 8, scale 0.5 -> -4 .. 3.5.
  uint32_t words[2 + kIntRowPad] = {0x76543210u, 0xFEDCBA98u};
  const float zero = 8.0f, scale = 0.5f;
  float out[16];
  run_int_row({words, 4, 16, &zero, &scale, 16, Fmt::kF32, out, nullptr});
  for (int i = 0; i < 16; ++i) EXPECT_EQ(out[i], (static_cast<float>(i) - 8.0f) * 0.5f) << i;
}

TEST(Kernels, DequantIsOneFloat32MultiplyThenRounding) {
  // e4m3fn 0x3F = 1.875; times 1/3 in float32, then to bfloat16 (ties to even).
  uint8_t q = 0x3F;
  float s = 1.0f / 3.0f;
  uint16_t out = 0;
  run_row({Fmt::kE4M3FN, &q, 1, ScaleOp::kMultiply, &s, 1, Fmt::kBF16, &out, false});
  float prod = 1.875f * s;
  uint32_t u = std::bit_cast<uint32_t>(prod);
  EXPECT_EQ(out, static_cast<uint16_t>((u + 0x7FFF + ((u >> 16) & 1)) >> 16));
}

TEST(Kernels, ActOrderPlanHoldsEachColumnsGroupBits) {
  std::mt19937 rng(16);
  for (uint64_t groups : {uint64_t{1}, uint64_t{3}, uint64_t{9}, uint64_t{16}, uint64_t{17}})
    for (uint64_t n : {uint64_t{0}, uint64_t{31}, uint64_t{64}, uint64_t{1000}}) {
      std::vector<uint32_t> g_idx(n);
      for (auto& g : g_idx) g = static_cast<uint32_t>(rng() % groups);
      ActOrderPlan plan;
      plan_act_order(g_idx.data(), n, groups, plan);
      if (groups > 16) {  // past what the register tables hold: no plan
        EXPECT_TRUE(plan.low.empty());
        continue;
      }
      ASSERT_EQ(plan.low.size(), n);
      ASSERT_GE(plan.masks.size(), 2 * (n / 32));
      for (uint64_t i = 0; i < n; ++i) {
        EXPECT_EQ(plan.low[i], (g_idx[i] & 3u) << 4) << i;
        EXPECT_EQ((plan.masks[2 * (i / 32)] >> (i % 32)) & 1u, (g_idx[i] >> 2) & 1u) << i;
        EXPECT_EQ((plan.masks[2 * (i / 32) + 1] >> (i % 32)) & 1u, (g_idx[i] >> 3) & 1u) << i;
      }
    }
}

TEST(Kernels, ReportsATarget) { EXPECT_NE(std::string(simd_target()), ""); }

}  // namespace
}  // namespace moeckpt::quant
