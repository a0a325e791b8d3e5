// The SIMD kernels equal the scalar reference bit for bit, on every SIMD target this CPU has
// (Highway lets a test restrict dispatch to one target at a time), for every fast path: all
// input codes, random float bit patterns with NaN/Inf/subnormals, group sizes that do and do not
// divide the vector width, and row lengths with tails.
#include <gtest/gtest.h>

#include <hwy/targets.h>

#include <bit>
#include <cstring>
#include <random>
#include <vector>

#include "quant/kernels.h"

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

class EveryTarget : public ::testing::Test {
 protected:
  template <typename F>
  void for_each_target(F&& f) {
    for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
      hwy::SetSupportedTargetsForTest(t);
      f(hwy::TargetName(t));
    }
    hwy::SetSupportedTargetsForTest(0);
  }
};

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

TEST_F(EveryTarget, QuantizeFastPathsEqualTheReference) {
  std::mt19937 rng(8);
  for_each_target([&](const char* target) {
    for (Fmt in : {Fmt::kF32, Fmt::kBF16, Fmt::kF16})
      for (ScaleOp op : {ScaleOp::kNone, ScaleOp::kDivide})
        for (uint64_t group : {uint64_t{128}, uint64_t{5}})
          for (uint64_t n : {uint64_t{7}, uint64_t{640}, uint64_t{4096}}) check_path({in, Fmt::kE4M3FN, op}, n, group, rng, target);
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

TEST(Kernels, ReportsATarget) { EXPECT_NE(std::string(simd_target()), ""); }

}  // namespace
}  // namespace moeckpt::quant
