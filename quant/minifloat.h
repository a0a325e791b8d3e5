// Small floating-point formats (float8, float4, e8m0) described by their bit layout, with an
// exact decoder and an encoder from float32 that rounds to nearest, ties to even, exactly as
// ml_dtypes 0.6 does (including subnormals, overflow and NaN). The per-format headers (fp8.h,
// fp4.h, e8m0.h) name the formats; this file holds the one rounding core they share.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace moeckpt::quant {

// How a format spends its top codes.
enum class Specials : uint8_t {
  kIeee,  // all-ones exponent is Inf (mantissa 0) or NaN (e5m2)
  kFn,    // no Inf; all-ones exponent and mantissa is NaN (e4m3fn)
  kFnuz,  // no Inf, no -0; the code 0x80 is the only NaN (e4m3fnuz, e5m2fnuz)
  kNone,  // no Inf, no NaN: overflow saturates (e2m1)
  kE8m0,  // unsigned, exponent only: 2^(code - bias), 0xFF is NaN, no zero
};

struct MiniFloat {
  int exp_bits;
  int man_bits;
  int bias;
  Specials specials;

  constexpr bool has_sign() const { return specials != Specials::kE8m0; }
  constexpr int bits() const { return (has_sign() ? 1 : 0) + exp_bits + man_bits; }
  constexpr uint32_t sign_bit() const { return has_sign() ? 1u << (exp_bits + man_bits) : 0u; }
  // The largest finite magnitude's code (sign clear).
  constexpr uint32_t max_code() const {
    uint32_t exp_ones = (1u << exp_bits) - 1, man_ones = (1u << man_bits) - 1;
    switch (specials) {
      case Specials::kIeee: return ((exp_ones - 1) << man_bits) | man_ones;
      case Specials::kFn: return (exp_ones << man_bits) | (man_ones - 1);
      case Specials::kFnuz:
      case Specials::kNone: return (exp_ones << man_bits) | man_ones;
      case Specials::kE8m0: return 0xFE;
    }
    return 0;
  }
};

// Exact value of a code. NaN codes give float32 NaN 0x7FC00000 with the code's sign (the fnuz
// NaN 0x80 gives 0xFFC00000), as ml_dtypes does; a NaN payload wider than a quiet bit (float16)
// is kept by the caller.
inline float minifloat_decode(const MiniFloat& f, uint32_t code) {
  const float nan = std::bit_cast<float>(0x7FC00000u);
  if (f.specials == Specials::kE8m0) {
    if (code == 0xFF) return nan;
    return std::ldexp(1.0f, static_cast<int>(code) - f.bias);
  }
  uint32_t mag = code & (f.sign_bit() - 1);
  bool neg = (code & f.sign_bit()) != 0;
  uint32_t exp = mag >> f.man_bits, man = mag & ((1u << f.man_bits) - 1);
  uint32_t exp_ones = (1u << f.exp_bits) - 1;
  if (f.specials == Specials::kFnuz && code == f.sign_bit()) return -nan;
  if (f.specials == Specials::kFn && mag == ((exp_ones << f.man_bits) | ((1u << f.man_bits) - 1)))
    return neg ? -nan : nan;
  if (f.specials == Specials::kIeee && exp == exp_ones) {
    float v = man ? nan : std::numeric_limits<float>::infinity();
    return neg ? -v : v;
  }
  float v = exp == 0 ? std::ldexp(static_cast<float>(man), 1 - f.bias - f.man_bits)
                     : std::ldexp(static_cast<float>((1u << f.man_bits) | man), static_cast<int>(exp) - f.bias - f.man_bits);
  return neg ? -v : v;
}

// Nearest code to x, ties to even. Overflow follows the format (Inf for kIeee, NaN for kFn and
// kFnuz and kE8m0, the largest finite for kNone) unless `saturate`, which clamps every finite
// or infinite input to the largest finite magnitude instead.
constexpr uint32_t minifloat_encode(const MiniFloat& f, float x, bool saturate = false) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  const bool neg = (u >> 31) != 0;
  const uint32_t a = u & 0x7FFFFFFFu;
  const uint32_t sign = neg ? f.sign_bit() : 0u;
  const uint32_t exp_ones = (1u << f.exp_bits) - 1;
  const uint32_t maxc = f.max_code();

  if (a > 0x7F800000u) {  // NaN
    switch (f.specials) {
      case Specials::kIeee: return sign | (exp_ones << f.man_bits) | (1u << (f.man_bits - 1));
      case Specials::kFn: return sign | (exp_ones << f.man_bits) | ((1u << f.man_bits) - 1);
      case Specials::kFnuz: return f.sign_bit();
      case Specials::kNone: return neg ? 0u : f.sign_bit();  // ml_dtypes gives a zero of the other sign
      case Specials::kE8m0: return 0xFF;
    }
  }
  if (f.specials == Specials::kE8m0) {
    if (neg || a == 0) return 0xFF;  // no sign, no zero
    if (a == 0x7F800000u) return saturate ? f.max_code() : 0xFF;
    // Same exponent field as float32, so ml_dtypes rounds the float32 bit pattern: a mantissa
    // of one half or more rounds up (ties away, not to even). Below 2^-126 (float32 subnormals)
    // exactly 2^-127 is code 0 and anything above it code 1. Pinned by the ml_dtypes tables.
    uint32_t q = a >> 23, rem = a & 0x7FFFFFu;
    if (q == 0) return rem > 0x400000u ? 1u : 0u;
    if (rem >= 0x400000u) ++q;
    if (q > f.max_code()) return saturate ? f.max_code() : 0xFF;
    return q;
  }
  auto overflow = [&]() -> uint32_t {
    if (saturate) return sign | maxc;
    switch (f.specials) {
      case Specials::kIeee: return sign | (exp_ones << f.man_bits);
      case Specials::kFn: return sign | (exp_ones << f.man_bits) | ((1u << f.man_bits) - 1);
      case Specials::kFnuz: return f.sign_bit();
      case Specials::kNone: return sign | maxc;
      case Specials::kE8m0: break;
    }
    return 0xFF;
  };
  if (a == 0x7F800000u) return overflow();
  if (a == 0) return f.specials == Specials::kFnuz ? 0u : sign;

  // x = S * 2^(e - 23) with S a 24-bit significand (implicit bit included when normal).
  int e = static_cast<int>(a >> 23) - 127;
  uint32_t s = (a & 0x7FFFFFu) | 0x800000u;
  if ((a >> 23) == 0) {
    e = -126;
    s = a;
  }
  // The target's exponent for x: its own, or the smallest normal one (subnormal range).
  const int emin = 1 - f.bias;
  // Normalize an f32 subnormal so that e is exact.
  while (s < 0x800000u && e > emin) {
    s <<= 1;
    --e;
  }
  const int te = e > emin ? e : emin;
  const int shift = 23 - f.man_bits + (te - e);
  uint64_t q = 0;
  if (shift < 26) {
    q = s >> shift;
    uint32_t rem = s & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
  }
  // Subnormal (te == emin) and normal codes alike: a carry out of the mantissa moves the code
  // to the next binade, and past the top to the overflow check.
  const int64_t code = (static_cast<int64_t>(te + f.bias - 1) << f.man_bits) + static_cast<int64_t>(q);
  if (code > static_cast<int64_t>(maxc)) return overflow();
  if (code == 0 && f.specials == Specials::kFnuz) return 0;
  return sign | static_cast<uint32_t>(code);
}

}  // namespace moeckpt::quant
