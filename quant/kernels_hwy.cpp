// SIMD row kernels (see kernels.h). Compiled once per x86 target by Highway's foreach_target
// and chosen at run time, so one static binary is fast on any x86-64 CPU. The fast paths: FP8
// and E2M1 (unpacked in registers) and F32/BF16/F16 in; F32/BF16/F16 out (F16 through a small
// scalar step), and E4M3FN out for quantization. Anything else goes to the reference.
//
// The hot conversions have tighter loops on top (all bit-exact, tested against the reference
// on every target): bfloat16 output two vectors at a time; on AVX-512, E4M3FN decode by integer
// ops with a per-32-codes check for the rare subnormal/zero/NaN codes, E2M1 decode by one
// permute from a 16-float register, rounding to bfloat16 on the packed 16-bit halves, and
// bfloat16 -> E4M3FN quantization by a multiply with 1/s that falls back to the division only
// where the two could round differently. No float32 subnormal is an operand for weight-like data.
//
// Sections, in order (each opens with a "// ----" line): loads, stores and minifloat decode;
// bfloat16 output; E4M3FN in; E2M1 in; whole-row runs (E4M3 <-> BF16, E2M1 out); the generic
// row kernel and its dispatch (RunRow); row absmax; 4-bit codes through a table per group
// (int4, act-order); GPTQ and AWQ words into rows; block absmax; packed integer codes
// (RunIntRow); then, once, the exported entry points of kernels.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/kernels_hwy.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "quant/fp4.h"
#include "quant/half.h"
#include "quant/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace moeckpt::quant {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// AVX-512 (and better): permutes from a register serve as 16-entry tables.
#undef MOECKPT_AVX512
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
#define MOECKPT_AVX512 1
#else
#define MOECKPT_AVX512 0
#endif

#if HWY_TARGET != HWY_SCALAR
// ---- loads, stores and minifloat decode ---------------------------------------------------
using DF = hn::ScalableTag<float>;
using DU = hn::RebindToUnsigned<DF>;
using VF = hn::Vec<DF>;
using VU = hn::Vec<DU>;

constexpr int kF32 = 0, kF16 = 1, kBF16 = 2, kE4M3 = 3, kE5M2 = 4, kE4M3Z = 5, kE5M2Z = 6;

// 0, 1, 2, ... as float32: hn::Iota (Highway 1.0) builds its vector with scalar stores and one
// vector load, which cannot be store-forwarded: a stall in every group-table build (a quarter
// of the AVX2 int4 kernel's samples sat on it). Loaded from here instead.
alignas(64) static constexpr float kIotaF[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

// Normal codes: exponent and mantissa moved into float32's fields and the exponent rebiased by
// an integer add. Subnormal codes (exponent field 0): mantissa x 2^-k through an int->float
// conversion. No float32 subnormal is ever an operand: x86 takes a ~100-cycle microcode assist
// on each, which made these kernels 10x slower on real data (E2M1's +-0.5 is code 1).
template <int kMantBits, int kRebias, int kSubScaleLog2>
HWY_INLINE VF DecodeMinifloat(DF df, VU mag) {
  const DU du;
  const hn::RebindToSigned<DU> di;
  const VU normal = hn::Add(hn::ShiftLeft<23 - kMantBits>(mag), hn::Set(du, static_cast<uint32_t>(kRebias) << 23));
  const VU m = hn::And(mag, hn::Set(du, (1u << kMantBits) - 1));
  const VF sub = hn::Mul(hn::ConvertTo(df, hn::BitCast(di, m)), hn::Set(df, std::ldexp(1.0f, kSubScaleLog2)));
  const auto is_sub = hn::RebindMask(df, hn::Lt(mag, hn::Set(du, 1u << kMantBits)));
  return hn::IfThenElse(is_sub, sub, hn::BitCast(df, normal));
}

template <int kFmt>
HWY_INLINE VF DecodeFp8(DF df, VU c) {
  const DU du;
  const VU sign = hn::ShiftLeft<24>(hn::And(c, hn::Set(du, 0x80u)));
  const VU mag = hn::And(c, hn::Set(du, 0x7Fu));
  VF f;
  if constexpr (kFmt == kE4M3) {
    f = DecodeMinifloat<3, 127 - 7, -9>(df, mag);
  } else if constexpr (kFmt == kE4M3Z) {
    f = DecodeMinifloat<3, 127 - 8, -10>(df, mag);
  } else if constexpr (kFmt == kE5M2) {
    f = DecodeMinifloat<2, 127 - 15, -16>(df, mag);
  } else {
    f = DecodeMinifloat<2, 127 - 16, -17>(df, mag);
  }
  f = hn::Or(f, hn::BitCast(df, sign));
  if constexpr (kFmt == kE4M3) {
    const auto nan = hn::RebindMask(df, hn::Eq(mag, hn::Set(du, 0x7Fu)));
    f = hn::IfThenElse(nan, hn::BitCast(df, hn::Or(sign, hn::Set(du, 0x7FC00000u))), f);
  } else if constexpr (kFmt == kE5M2) {
    const auto special = hn::RebindMask(df, hn::Gt(mag, hn::Set(du, 0x7Bu)));
    const VU inf_or_nan = hn::IfThenElse(hn::Eq(mag, hn::Set(du, 0x7Cu)), hn::Set(du, 0x7F800000u), hn::Set(du, 0x7FC00000u));
    f = hn::IfThenElse(special, hn::BitCast(df, hn::Or(sign, inf_or_nan)), f);
  } else {
    const auto nan = hn::RebindMask(df, hn::Eq(c, hn::Set(du, 0x80u)));
    f = hn::IfThenElse(nan, hn::BitCast(df, hn::Set(du, 0xFFC00000u)), f);
  }
  return f;
}

template <int kFmt>
HWY_INLINE VF Load(DF df, const void* src, uint64_t i) {
  const DU du;
  if constexpr (kFmt == kF32) {
    return hn::LoadU(df, static_cast<const float*>(src) + i);
  } else if constexpr (kFmt == kBF16) {
    const hn::Rebind<uint16_t, DF> d16;
    return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, static_cast<const uint16_t*>(src) + i))));
  } else if constexpr (kFmt == kF16) {
    // By bits rather than F16C: F16C quiets signalling NaNs, and the reference keeps payloads.
    const hn::Rebind<uint16_t, DF> d16;
    const VU h = hn::PromoteTo(du, hn::LoadU(d16, static_cast<const uint16_t*>(src) + i));
    const VU sign = hn::ShiftLeft<16>(hn::And(h, hn::Set(du, 0x8000u)));
    const VU mag = hn::And(h, hn::Set(du, 0x7FFFu));
    const VF f = DecodeMinifloat<10, 127 - 15, -24>(df, mag);
    const VU special = hn::Or(hn::Set(du, 0x7F800000u), hn::ShiftLeft<13>(hn::And(mag, hn::Set(du, 0x3FFu))));
    const auto is_special = hn::RebindMask(df, hn::Gt(mag, hn::Set(du, 0x7BFFu)));
    return hn::Or(hn::IfThenElse(is_special, hn::BitCast(df, special), f), hn::BitCast(df, sign));
  } else {
    const hn::Rebind<uint8_t, DF> d8;
    return DecodeFp8<kFmt>(df, hn::PromoteTo(du, hn::LoadU(d8, static_cast<const uint8_t*>(src) + i)));
  }
}

// N packed E2M1 elements starting at an even element index i.
HWY_INLINE VF LoadE2M1(DF df, const uint8_t* src, uint64_t i) {
  const DU du;
  const hn::Half<DF> dh;
  const hn::Rebind<uint8_t, decltype(dh)> d8h;
  const hn::Rebind<uint16_t, decltype(dh)> d16h;
  const auto w = hn::PromoteTo(d16h, hn::LoadU(d8h, src + i / 2));
  // Each byte's two nibbles into two bytes, low nibble first: memory order = element order.
  const auto spread = hn::Or(hn::And(w, hn::Set(d16h, 0x0F)), hn::ShiftLeft<4>(hn::And(w, hn::Set(d16h, 0xF0))));
  const hn::Repartition<uint8_t, decltype(d16h)> d8;
  const VU c = hn::PromoteTo(du, hn::BitCast(d8, spread));
  const VU sign = hn::ShiftLeft<28>(hn::And(c, hn::Set(du, 8u)));
  const VF mag = DecodeMinifloat<1, 127 - 1, -1>(df, hn::And(c, hn::Set(du, 7u)));
  return hn::Or(mag, hn::BitCast(df, sign));
}

// float32 -> E4M3FN codes (sign in bit 7, one per 32-bit lane), as encode_at rounds them.
HWY_INLINE VU E4M3Codes(DF df, VF v, bool saturate) {
  const DU du;
  const VU u = hn::BitCast(du, v);
  const VU sign = hn::ShiftRight<24>(hn::And(u, hn::Set(du, 0x80000000u)));
  VU a = hn::And(u, hn::Set(du, 0x7FFFFFFFu));
  const auto is_nan = hn::Gt(a, hn::Set(du, 0x7F800000u));
  if (saturate) a = hn::Min(a, hn::Set(du, 0x43E00000u));  // 448.0
  // Normal codes: round float32's mantissa to 3 bits (ties to even) and rebias 127 -> 7.
  const VU lsb = hn::And(hn::ShiftRight<20>(a), hn::Set(du, 1u));
  const VU normal = hn::Sub(hn::ShiftRight<20>(hn::Add(a, hn::Add(hn::Set(du, 0x7FFFFu), lsb))), hn::Set(du, 960u));
  // Subnormal codes (|x| < 2^-6): adding 2^14 rounds to a multiple of 2^-9, ties to even.
  const VF t = hn::Add(hn::BitCast(df, a), hn::Set(df, 16384.0f));
  const VU sub = hn::Sub(hn::BitCast(du, t), hn::Set(du, 0x46800000u));
  VU code = hn::IfThenElse(hn::Lt(a, hn::Set(du, 0x3C800000u)), sub, normal);
  code = hn::IfThenElse(hn::Or(is_nan, hn::Gt(code, hn::Set(du, 0x7Eu))), hn::Set(du, 0x7Fu), code);
  return hn::Or(code, sign);
}

template <int kFmt>
HWY_INLINE void Store(DF df, VF v, void* dst, uint64_t i, bool saturate) {
  const DU du;
  if constexpr (kFmt == kF32) {
    hn::StoreU(v, df, static_cast<float*>(dst) + i);
  } else if constexpr (kFmt == kBF16) {
    const VU u = hn::BitCast(du, v);
    const VU lsb = hn::And(hn::ShiftRight<16>(u), hn::Set(du, 1u));
    VU r = hn::ShiftRight<16>(hn::Add(u, hn::Add(hn::Set(du, 0x7FFFu), lsb)));
    const VU nan = hn::Or(hn::And(hn::ShiftRight<16>(u), hn::Set(du, 0x8000u)), hn::Set(du, 0x7FC0u));
    r = hn::IfThenElse(hn::RebindMask(du, hn::IsNaN(v)), nan, r);
    if (saturate) {  // |x| past the largest finite bfloat16 rounds to it instead of to Inf
      const VU inf_mag = hn::Set(du, 0x7F80u);
      const VU sat = hn::Or(hn::And(r, hn::Set(du, 0x8000u)), hn::Set(du, 0x7F7Fu));
      r = hn::IfThenElse(hn::Eq(hn::And(r, hn::Set(du, 0x7FFFu)), inf_mag), sat, r);
    }
    const hn::Rebind<uint16_t, DF> d16;
    const hn::RebindToSigned<DU> di;
    hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, r)), d16, static_cast<uint16_t*>(dst) + i);
  } else if constexpr (kFmt == kF16) {
    HWY_ALIGN float tmp[hn::MaxLanes(df)];
    hn::Store(v, df, tmp);
    auto* out = static_cast<uint8_t*>(dst);
    for (size_t k = 0; k < hn::Lanes(df); ++k) encode_at(Fmt::kF16, tmp[k], out, i + k, saturate);
  } else {  // kE4M3
    const hn::Rebind<uint8_t, DF> d8;
    const hn::RebindToSigned<DU> di;
    hn::StoreU(hn::DemoteTo(d8, hn::BitCast(di, E4M3Codes(df, v, saturate))), d8, static_cast<uint8_t*>(dst) + i);
  }
}

// Elements [i, end) one at a time, exactly as the reference does.
HWY_INLINE void Tail(const RowJob& j, uint64_t i, uint64_t end, float s) {
  for (; i < end; ++i) {
    float x = decode_at(j.in, j.src, i);
    if (j.op == ScaleOp::kMultiply) x = x * s;
    if (j.op == ScaleOp::kDivide) x = x / s;
    encode_at(j.out, x, j.dst, i, j.saturate);
  }
}

// ---- bfloat16 output, two vectors at a time ------------------------------------------------
// u + 0x7FFF + lsb: float32 bits rounded to bfloat16 (nearest, ties to even) in the upper 16
// bits. Exact for finite values and Inf (no carry reaches the sign); NaN needs its own fix.
HWY_INLINE VU RoundBf16Hi(VU u) {
  const DU du;
  return hn::Add(hn::Add(u, hn::Set(du, 0x7FFFu)), hn::And(hn::ShiftRight<16>(u), hn::Set(du, 1u)));
}

// NaN lanes of v: the canonical bfloat16 NaN with v's sign (in the upper half).
HWY_INLINE VU FixNaNHi(VF v, VU r) {
  const DU du;
  const VU u = hn::BitCast(du, v);
  const VU nan = hn::Or(hn::And(u, hn::Set(du, 0x80000000u)), hn::Set(du, 0x7FC00000u));
  return hn::IfThenElse(hn::RebindMask(du, hn::IsNaN(v)), nan, r);
}

// Saturation: a rounded Inf becomes the largest finite bfloat16 of its sign (NaN untouched).
HWY_INLINE VU SaturateHi(VU r) {
  const DU du;
  const auto inf = hn::Eq(hn::And(r, hn::Set(du, 0x7FFF0000u)), hn::Set(du, 0x7F800000u));
  return hn::IfThenElse(inf, hn::Or(hn::And(r, hn::Set(du, 0x80000000u)), hn::Set(du, 0x7F7F0000u)), r);
}

// The upper halves of r0's then r1's lanes: 2N bfloat16 in element order.
HWY_INLINE void StoreHi2(VU r0, VU r1, uint16_t* dst) {
  const hn::Repartition<uint16_t, DF> d16;
  hn::StoreU(hn::ConcatOdd(d16, hn::BitCast(d16, r1), hn::BitCast(d16, r0)), d16, dst);
}

#if MOECKPT_AVX512
// Two vectors of float32 (32 results) rounded to bfloat16 (nearest, ties to even) and packed,
// in 16-bit lanes: hi/lo = the upper/lower halves of the 32 results, picked by idx_hi/idx_lo
// (element order); hi + 1 where lo > 0x8000, or lo == 0x8000 and hi is odd: (lo | (hi & 1)) > 0x8000.
// Exact for finite values and Inf; a NaN must be 0x7FC00000-like (lower half zero) to stay one.
alignas(64) static constexpr uint16_t kOddIdx[32] = {1,  3,  5,  7,  9,  11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31,
                                                     33, 35, 37, 39, 41, 43, 45, 47, 49, 51, 53, 55, 57, 59, 61, 63};
alignas(64) static constexpr uint16_t kEvenIdx[32] = {0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30,
                                                      32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62};
// Interleaved: result 2k from the first vector's lane k, 2k+1 from the second's.
alignas(64) static constexpr uint16_t kZipHiIdx[32] = {1,  33, 3,  35, 5,  37, 7,  39, 9,  41, 11, 43, 13, 45, 15, 47,
                                                       17, 49, 19, 51, 21, 53, 23, 55, 25, 57, 27, 59, 29, 61, 31, 63};
alignas(64) static constexpr uint16_t kZipLoIdx[32] = {0,  32, 2,  34, 4,  36, 6,  38, 8,  40, 10, 42, 12, 44, 14, 46,
                                                       16, 48, 18, 50, 20, 52, 22, 54, 24, 56, 26, 58, 28, 60, 30, 62};

template <bool kSat>
HWY_INLINE __m512i RoundPackBf16(__m512i a, __m512i b, __m512i idx_hi, __m512i idx_lo) {
  const __m512i one = _mm512_set1_epi16(1);
  __m512i hi = _mm512_permutex2var_epi16(a, idx_hi, b);
  const __m512i lo = _mm512_permutex2var_epi16(a, idx_lo, b);
  const __m512i t = _mm512_ternarylogic_epi32(lo, hi, one, 0xF8);  // lo | (hi & 1)
  hi = _mm512_mask_add_epi16(hi, _mm512_cmpgt_epu16_mask(t, _mm512_set1_epi16(static_cast<short>(0x8000))), hi, one);
  if constexpr (kSat) {  // a rounded Inf becomes the largest finite bfloat16 of its sign
    const __m512i mag = _mm512_and_si512(hi, _mm512_set1_epi16(0x7FFF));
    const __mmask32 inf = _mm512_cmpeq_epi16_mask(mag, _mm512_set1_epi16(0x7F80));
    hi = _mm512_mask_blend_epi16(inf, hi, _mm512_or_si512(_mm512_xor_si512(hi, mag), _mm512_set1_epi16(0x7F7F)));
  }
  return hi;
}

// Sign-extended codes (no subnormal, zero or NaN code among them) to float32: exponent and
// mantissa shifted into place, sign kept by the shift, rebias by one add.
HWY_INLINE __m512i DecodeE4M3Normal(__m512i cs) {
  return _mm512_add_epi32(_mm512_and_si512(_mm512_slli_epi32(cs, 20), _mm512_set1_epi32(static_cast<int>(0x87F00000u))),
                          _mm512_set1_epi32(120 << 23));
}
#endif

// v0, v1 (2N consecutive results, NaN possible anywhere) rounded to bfloat16 and stored.
template <bool kSat>
HWY_INLINE void StoreBf16x2(DF df, VF v0, VF v1, uint16_t* dst) {
  const DU du;
#if MOECKPT_AVX512
  if (HWY_LIKELY(hn::AllFalse(df, hn::Or(hn::IsNaN(v0), hn::IsNaN(v1))))) {
    _mm512_storeu_si512(dst, RoundPackBf16<kSat>(_mm512_castps_si512(v0.raw), _mm512_castps_si512(v1.raw), _mm512_load_si512(kOddIdx),
                                                 _mm512_load_si512(kEvenIdx)));
    return;
  }
#endif
  VU r0 = RoundBf16Hi(hn::BitCast(du, v0));
  VU r1 = RoundBf16Hi(hn::BitCast(du, v1));
  if (HWY_UNLIKELY(!hn::AllFalse(df, hn::Or(hn::IsNaN(v0), hn::IsNaN(v1))))) {
    r0 = FixNaNHi(v0, r0);
    r1 = FixNaNHi(v1, r1);
  }
  if constexpr (kSat) {
    r0 = SaturateHi(r0);
    r1 = SaturateHi(r1);
  }
  StoreHi2(r0, r1, dst);
}

// ---- E4M3FN in -----------------------------------------------------------------------------
// Codes (sign-extended to 32 bits) to float32. Normal codes by moving exponent and mantissa into
// place and rebiasing with one integer add; the eight subnormal codes and NaN (0x7F) by a table
// (AVX-512: one permute from a register; no float operation, so no subnormal operand). NaN
// codes give 0x7FC00000 with the code's sign, so x * s (s finite) is that NaN again and
// RoundBf16Hi turns it into the canonical bfloat16 NaN: no NaN fix-up is needed downstream.
HWY_INLINE VF DecodeE4M3Signed(DF df, VU c) {
  const DU du;
  const VU mag = hn::And(c, hn::Set(du, 0x7Fu));
  VU x = hn::Add(hn::ShiftLeft<20>(mag), hn::Set(du, 120u << 23));
  const auto special = hn::Or(hn::Lt(mag, hn::Set(du, 8u)), hn::Eq(mag, hn::Set(du, 0x7Fu)));
#if MOECKPT_AVX512
  // Index = low 4 bits of the code: 0..7 for the subnormal codes, 15 for NaN (0x7F).
  alignas(64) static constexpr uint32_t kSpecial[16] = {0x00000000u, 0x3B000000u, 0x3B800000u, 0x3BC00000u, 0x3C000000u, 0x3C200000u,
                                                        0x3C400000u, 0x3C600000u, 0,           0,           0,
                                                        0,           0,           0,           0,           0x7FC00000u};
  const VU table = hn::Load(du, kSpecial);
  x = hn::IfThenElse(special, VU{_mm512_permutexvar_epi32(mag.raw, table.raw)}, x);
#else
  const hn::RebindToSigned<DU> di;
  const VU sub = hn::BitCast(du, hn::Mul(hn::ConvertTo(df, hn::BitCast(di, hn::And(mag, hn::Set(du, 7u)))), hn::Set(df, 1.0f / 512.0f)));
  x = hn::IfThenElse(special, hn::IfThenElse(hn::Eq(mag, hn::Set(du, 0x7Fu)), hn::Set(du, 0x7FC00000u), sub), x);
#endif
  return hn::BitCast(df, hn::Or(x, hn::And(c, hn::Set(du, 0x80000000u))));
}

HWY_INLINE VU LoadI8AsU32(const uint8_t* p) {
  const DU du;
  const hn::RebindToSigned<DU> di;
  const hn::Rebind<int8_t, DF> d8;
  return hn::BitCast(du, hn::PromoteTo(di, hn::LoadU(d8, reinterpret_cast<const int8_t*>(p))));
}

// E4M3FN -> bfloat16, x (* s), for one group [i, end) whose scale s is finite.
template <int kOp, bool kSat>
HWY_INLINE uint64_t E4M3ToBf16Group(DF df, const uint8_t* src, uint16_t* dst, uint64_t i, uint64_t end, float s) {
  const DU du;
  const uint64_t N = hn::Lanes(df);
  const VF vs = hn::Set(df, s);
#if MOECKPT_AVX512
  const __m512i idx_hi = _mm512_load_si512(kOddIdx), idx_lo = _mm512_load_si512(kEvenIdx);
  for (; i + 32 <= end; i += 32) {
    // Subnormal/zero codes ((c & 0x78) == 0) and NaN ((c | 0x80) == 0xFF) are rare in weights:
    // 32 codes checked at once, and only then the table decode.
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __mmask32 special = _mm256_testn_epi8_mask(b, _mm256_set1_epi8(0x78)) |
                              _mm256_cmpeq_epi8_mask(_mm256_or_si256(b, _mm256_set1_epi8(static_cast<char>(0x80))), _mm256_set1_epi8(-1));
    VF v0, v1;
    if (HWY_LIKELY(special == 0)) {
      v0 = VF{_mm512_castsi512_ps(DecodeE4M3Normal(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)))))};
      v1 = VF{_mm512_castsi512_ps(DecodeE4M3Normal(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16)))))};
    } else {
      v0 = DecodeE4M3Signed(df, LoadI8AsU32(src + i));
      v1 = DecodeE4M3Signed(df, LoadI8AsU32(src + i + 16));
    }
    if constexpr (kOp == 1) {
      v0 = hn::Mul(v0, vs);
      v1 = hn::Mul(v1, vs);
    }
    _mm512_storeu_si512(dst + i, RoundPackBf16<kSat>(_mm512_castps_si512(v0.raw), _mm512_castps_si512(v1.raw), idx_hi, idx_lo));
  }
  (void)du;
  (void)N;
#else
  for (; i + 2 * N <= end; i += 2 * N) {
    VF v0 = DecodeE4M3Signed(df, LoadI8AsU32(src + i));
    VF v1 = DecodeE4M3Signed(df, LoadI8AsU32(src + i + N));
    if constexpr (kOp == 1) {
      v0 = hn::Mul(v0, vs);
      v1 = hn::Mul(v1, vs);
    }
    VU r0 = RoundBf16Hi(hn::BitCast(du, v0));
    VU r1 = RoundBf16Hi(hn::BitCast(du, v1));
    if constexpr (kSat) {
      r0 = SaturateHi(r0);
      r1 = SaturateHi(r1);
    }
    StoreHi2(r0, r1, dst + i);
  }
#endif
  return i;
}

// ---- E2M1 in (AVX-512: decode = one permute from a 16-float register) ----------------------
#if MOECKPT_AVX512
// Bytes b (one per u32 lane: elements 2k, 2k+1 in its low and high nibble) scaled by sv and
// rounded to 32 bfloat16 in element order.
template <bool kSat>
HWY_INLINE void E2M1x32ToBf16(VF table, VU b, VF sv, uint16_t* dst) {
  const VF xe{_mm512_permutexvar_ps(b.raw, table.raw)};  // permute reads index bits 0..3 only
  const VF xo{_mm512_permutexvar_ps(hn::ShiftRight<4>(b).raw, table.raw)};
  const __m512i pe = _mm512_castps_si512(hn::Mul(xe, sv).raw), po = _mm512_castps_si512(hn::Mul(xo, sv).raw);
  _mm512_storeu_si512(dst, RoundPackBf16<kSat>(pe, po, _mm512_load_si512(kZipHiIdx), _mm512_load_si512(kZipLoIdx)));
}

// Elements [i, end) with their own scales, the reference way (groups whose scale is not finite).
HWY_NOINLINE void SlowSpan(const RowJob& j, uint64_t i, uint64_t end) {
  for (; i < end; ++i) Tail(j, i, i + 1, j.scales[i / j.group]);
}

// E2M1 -> bfloat16 with a multiply; groups of 16, 32 or a multiple of 64; n a multiple of 32.
// 64 elements (32 bytes, one to four groups) a step: their scales in one masked load, checked
// for NaN/Inf at once and spread over the lanes by permutes.
template <bool kSat>
bool E2M1ToBf16Row(const RowJob& j) {
  const DF df;
  const uint64_t n = j.n, group = j.group;
  if (j.op != ScaleOp::kMultiply || (group != 16 && group != 32 && group % 64 != 0) || n % 32 != 0) return false;
  const auto* src = static_cast<const uint8_t*>(j.src);
  auto* dst = static_cast<uint16_t*>(j.dst);
  const float* scales = j.scales;
  const VF table = hn::LoadU(df, kE2M1Values);
  // Scale lanes for bytes 0..15 (A) and 16..31 (B) of a step, by group size.
  const __m512i idx_a = group == 16 ? _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0) : _mm512_setzero_si512();
  const __m512i idx_b = group == 16 ? _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2)
                        : group == 32 ? _mm512_set1_epi32(1)
                                      : _mm512_setzero_si512();
  const __mmask8 mask64 = group == 16 ? 0xF : group == 32 ? 0x3 : 0x1;
  const __mmask8 mask32 = group == 16 ? 0x3 : 0x1;
  const __m128i exp_ones = _mm_set1_epi32(0x7F800000);
  uint64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m128i sc = _mm_castps_si128(_mm_maskz_loadu_ps(mask64, scales + i / group));
    if (HWY_UNLIKELY(_mm_mask_cmpeq_epi32_mask(mask64, _mm_and_si128(sc, exp_ones), exp_ones) != 0)) {  // NaN/Inf scale
      SlowSpan(j, i, i + 64);
      continue;
    }
    const __m512 sc512 = _mm512_castps128_ps512(_mm_castsi128_ps(sc));
    const VU b0{_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i / 2)))};
    const VU b1{_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i / 2 + 16)))};
    E2M1x32ToBf16<kSat>(table, b0, VF{_mm512_permutexvar_ps(idx_a, sc512)}, dst + i);
    E2M1x32ToBf16<kSat>(table, b1, VF{_mm512_permutexvar_ps(idx_b, sc512)}, dst + i + 32);
  }
  if (i < n) {  // 32 left
    const __m128i sc = _mm_castps_si128(_mm_maskz_loadu_ps(mask32, scales + i / group));
    if (_mm_mask_cmpeq_epi32_mask(mask32, _mm_and_si128(sc, exp_ones), exp_ones) != 0) {
      SlowSpan(j, i, n);
    } else {
      const VU b0{_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i / 2)))};
      E2M1x32ToBf16<kSat>(table, b0, VF{_mm512_permutexvar_ps(idx_a, _mm512_castps128_ps512(_mm_castsi128_ps(sc)))}, dst + i);
    }
  }
  return true;
}
#endif

// ---- whole-row runs: E4M3FN <-> bfloat16, E2M1 out ---------------------------------------

// E4M3FN -> bfloat16 (x or x * s): runs of whole groups (a multiple of 2N elements) with finite
// scales in one tight loop (no calls, so the constants stay in registers); the rest the
// general way. Returns the first element not done.
template <int kOp, bool kSat>
uint64_t E4M3ToBf16Run(const RowJob& j) {
  const DF df;
  const uint64_t N = hn::Lanes(df);
  const uint64_t n = j.n;
  if (kOp == 0 || j.group % (2 * N) != 0) return 0;
  const uint64_t group = j.group;
  const auto* src = static_cast<const uint8_t*>(j.src);
  auto* dst = static_cast<uint16_t*>(j.dst);
  const float* scales = j.scales;
  uint64_t i = 0;
  for (const float* sp = scales; i + group <= n; i += group) {
    const float s = *sp++;
    if (!std::isfinite(s)) break;
    E4M3ToBf16Group<kOp, kSat>(df, src, dst, i, i + group, s);
  }
  return i;
}

#if MOECKPT_AVX512
// bfloat16 -> E4M3FN, x / s, for runs of whole groups (multiples of 16) whose scale is a normal
// float with a normal reciprocal. The quotient q = x / s (float32) is what gets encoded; the
// division is slow, so y = x * (1 / s) is computed instead. y and q differ by at most ~3 float32
// ulps (two roundings of 2^-24 each against q's own), and E4M3 rounding only jumps at midpoints
// between codes, whose float32 bits end in 0x80000 (20 low bits), or in the subnormal range. So
// where no lane of y lies within 8 ulps of a midpoint or in (0, 2^-6), y encodes like q; the
// other vectors (rare for weights: a few in a thousand) divide and take the general encoder.
template <bool kSat>
uint64_t Bf16ToE4M3Run(const RowJob& j) {
  const DF df;
  const uint64_t n = j.n, group = j.group;
  if (group % 16 != 0) return 0;
  const auto* src = static_cast<const uint16_t*>(j.src);
  auto* dst = static_cast<uint8_t*>(j.dst);
  const float* scales = j.scales;
  // Constants made opaque so that the compiler keeps them in registers instead of rebuilding
  // them in the loop.
  const auto opaque = [](__m512i v) {
    asm("" : "+v"(v));
    return v;
  };
  const __m512i abs_mask = opaque(_mm512_set1_epi32(0x7FFFFFFF)), one = opaque(_mm512_set1_epi32(1));
  const __m512i small_lim = opaque(_mm512_set1_epi32(0x3C800000 - 1)), near_off = opaque(_mm512_set1_epi32(8 - 0x80000));
  const __m512i low20 = opaque(_mm512_set1_epi32(0xFFFFF)), near_lim = opaque(_mm512_set1_epi32(17));
  const __m512i inf_bits = opaque(_mm512_set1_epi32(0x7F800000)), max448 = opaque(_mm512_set1_epi32(0x43E00000));
  const __m512i half_m1 = opaque(_mm512_set1_epi32(0x7FFFF)), lsb_bit = opaque(_mm512_set1_epi32(1 << 20));
  const __m512i rebias = opaque(_mm512_set1_epi32(960)), nan_code = opaque(_mm512_set1_epi32(0x7F));
  const __m512i sign_bit = opaque(_mm512_set1_epi32(0x80)), zero = opaque(_mm512_setzero_si512());
  uint64_t i = 0;
  for (const float* sp = scales; i + group <= n; i += group) {
    const float s = *sp++;
    const uint32_t se = (std::bit_cast<uint32_t>(s) >> 23) & 0xFF;
    if (se < 1 || se > 252) break;
    const __m512 vr = _mm512_set1_ps(1.0f / s);
    const VF vs = hn::Set(df, s);
    for (uint64_t k = i; k < i + group; k += 16) {
      const __m512 x = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + k))), 16));
      __m512 y = _mm512_mul_ps(x, vr);
      __m512i a = _mm512_and_si512(_mm512_castps_si512(y), abs_mask);
      const __mmask16 small = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(a, one), small_lim);
      const __mmask16 near = _mm512_cmplt_epu32_mask(_mm512_and_si512(_mm512_add_epi32(a, near_off), low20), near_lim);
      if (HWY_UNLIKELY(!_kortestz_mask16_u8(small, near))) {
        // Bfloat16 weights over a bfloat16-derived scale land exactly on midpoints often: the
        // quotient itself, then the same encode; subnormal results take the general encoder.
        y = hn::Div(VF{x}, vs).raw;
        a = _mm512_and_si512(_mm512_castps_si512(y), abs_mask);
        if (_mm512_cmplt_epu32_mask(_mm512_sub_epi32(a, one), small_lim) != 0) {
          Store<kE4M3>(df, VF{y}, dst, k, kSat);
          continue;
        }
      }
      __mmask16 nan = 0;
      if constexpr (kSat) {
        nan = _mm512_cmpgt_epu32_mask(a, inf_bits);
        a = _mm512_min_epu32(a, max448);
      }
      // Round the mantissa to 3 bits (ties to even) and rebias 127 -> 7; zero stays zero.
      __m512i t = _mm512_add_epi32(a, half_m1);
      t = _mm512_mask_add_epi32(t, _mm512_test_epi32_mask(a, lsb_bit), t, one);
      __m512i code = _mm512_max_epi32(_mm512_sub_epi32(_mm512_srli_epi32(t, 20), rebias), zero);
      if constexpr (kSat) {
        code = _mm512_mask_mov_epi32(code, nan, nan_code);
      } else {
        code = _mm512_min_epi32(code, nan_code);  // overflow, Inf and NaN: 0x7F
      }
      code = _mm512_ternarylogic_epi32(code, _mm512_srli_epi32(_mm512_castps_si512(y), 24), sign_bit, 0xF8);  // | sign
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + k), _mm512_cvtepi32_epi8(code));
    }
  }
  return i;
}
#endif

#if MOECKPT_AVX512
// float32 -> E2M1 codes (sign in bit 3), as minifloat_encode rounds them with saturation: by
// the magnitude's bits against the seven rounding points (ties to the even code: 0.25 -> 0,
// 0.75 -> 1.0, 1.25 -> 1.0, 1.75 -> 2, 2.5 -> 2, 3.5 -> 4, 5 -> 4); Inf saturates to 6; NaN
// gives the zero of the other sign, as ml_dtypes does.
HWY_INLINE __m512i E2M1Codes(__m512 q) {
  const __m512i u = _mm512_castps_si512(q);
  const __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF));
  const __m512i one = _mm512_set1_epi32(1);
  __m512i c = _mm512_setzero_si512();
  c = _mm512_mask_add_epi32(c, _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(0x3E800000)), c, one);   // > 0.25
  c = _mm512_mask_add_epi32(c, _mm512_cmpge_epu32_mask(a, _mm512_set1_epi32(0x3F400000)), c, one);   // >= 0.75
  c = _mm512_mask_add_epi32(c, _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(0x3FA00000)), c, one);   // > 1.25
  c = _mm512_mask_add_epi32(c, _mm512_cmpge_epu32_mask(a, _mm512_set1_epi32(0x3FE00000)), c, one);   // >= 1.75
  c = _mm512_mask_add_epi32(c, _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(0x40200000)), c, one);   // > 2.5
  c = _mm512_mask_add_epi32(c, _mm512_cmpge_epu32_mask(a, _mm512_set1_epi32(0x40600000)), c, one);   // >= 3.5
  c = _mm512_mask_add_epi32(c, _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(0x40A00000)), c, one);   // > 5
  c = _mm512_or_si512(c, _mm512_and_si512(_mm512_srli_epi32(u, 28), _mm512_set1_epi32(8)));          // sign
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(0x7F800000));
  return _mm512_mask_mov_epi32(c, nan, _mm512_andnot_si512(c, _mm512_set1_epi32(8)));  // NaN: 0 if negative, else -0
}

// 16 codes packed into 8 bytes, element 2k in the low nibble of byte k.
HWY_INLINE void StoreE2M1x16(__m512i codes, uint8_t* dst) {
  const __m128i b = _mm512_cvtepi32_epi8(codes);  // lane k = codes 2k | codes 2k+1 << 8
  const __m128i t = _mm_and_si128(_mm_or_si128(b, _mm_srli_epi16(b, 4)), _mm_set1_epi16(0xFF));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), _mm_packus_epi16(t, t));
}

// x / s -> E2M1 for groups of a multiple of 16 whose divisor is a normal float with a normal
// reciprocal: y = x * (1 / s) instead of the division, which it equals to ~3 float32 ulps, so
// it rounds like the quotient except within a few ulps of a rounding point (their low 21 bits
// are zero); a vector with such a lane divides. Other groups go to the reference.
template <int kIn>
bool ToE2M1Row(const RowJob& j) {
  const DF df;
  if (j.op != ScaleOp::kDivide || j.group % 16 != 0 || j.n % 2 != 0) return false;
  auto* dst = static_cast<uint8_t*>(j.dst);
  // Every group's reciprocal, 16 divisions at a time (NVFP4 has a scale per 16 elements).
  const uint64_t groups = (j.n + j.group - 1) / j.group;
  thread_local std::vector<float> rec;
  rec.resize(groups + 16);
  for (uint64_t g = 0; g < groups; g += 16) {
    const __mmask16 m = static_cast<__mmask16>(groups - g >= 16 ? 0xFFFF : (1u << (groups - g)) - 1);
    _mm512_storeu_ps(rec.data() + g, _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, j.scales + g)));
  }
  for (uint64_t i = 0, g = 0; i < j.n; ++g) {
    const uint64_t end = std::min(j.n, i + j.group);
    const float s = j.scales[g];
    const uint32_t se = (std::bit_cast<uint32_t>(s) >> 23) & 0xFF;
    if (se < 1 || se > 252) {
      for (; i < end; ++i) encode_at(Fmt::kE2M1, decode_at(j.in, j.src, i) / s, j.dst, i, j.saturate);
      continue;
    }
    const __m512 r = _mm512_set1_ps(rec[g]), vs = _mm512_set1_ps(s);
    for (; i + 16 <= end; i += 16) {
      const __m512 x = Load<kIn>(df, j.src, i).raw;
      __m512 q = _mm512_mul_ps(x, r);
      const __m512i a = _mm512_and_si512(_mm512_castps_si512(q), _mm512_set1_epi32(0x7FFFFFFF));
      const __mmask16 near = _mm512_cmplt_epu32_mask(_mm512_and_si512(_mm512_add_epi32(a, _mm512_set1_epi32(8)), _mm512_set1_epi32(0x1FFFFF)),
                                                     _mm512_set1_epi32(17));
      if (HWY_UNLIKELY(near != 0)) q = _mm512_div_ps(x, vs);
      StoreE2M1x16(E2M1Codes(q), dst + i / 2);
    }
    for (; i < end; ++i) encode_at(Fmt::kE2M1, decode_at(j.in, j.src, i) / s, j.dst, i, j.saturate);
  }
  return true;
}
#endif

// ---- NVFP4 out: bfloat16 rows, N groups of 16 at a time ------------------------------------
// ModelOpt's two levels, computed as nvfp4_quantize did it one group at a time (each step the
// same float32 operation, so the results are bit-identical): per group the E4M3FN scale
// e4m3(amax / denom) (a block of zeros: denom / denom = 1), its value times the global scale as
// the divisor s, and the E2M1 code of x / s for each element. Here N groups (16 N elements,
// one float32 lane per group) go through each step together: the amaxes by a tree of pairwise
// maxima on the bfloat16 magnitude bits (three ConcatOdd/ConcatEven levels leave group g in
// 16-bit lanes 2g, 2g + 1), the scale encode with a true division, and 1 / s by one division
// for the N groups. The codes: each 32-bit word of input holds elements 2k (low half) and
// 2k + 1, so one shift and one mask give both as float32, their codes land in one byte's two
// nibbles, and each lane's divisor comes from the N-lane vector by one table lookup.

// |q| (bits, NaN excluded) -> E2M1 magnitude code 0..7, ties to even, saturating at 6 (Inf
// too): the mantissa rounded to 1 bit and rebiased 127 -> 1 for |q| >= 1; below 1, adding 2^22
// rounds to a multiple of 0.5 (0, 0.5 or 1.0: codes 0, 1, 2). The rounding points 0.25, 0.75,
// 1.25, 1.75, 2.5, 3.5 and 5 all have their low 21 bits zero, which the near test relies on.
HWY_INLINE VU E2M1MagCodes(DF df, VU a) {
  const DU du;
  const VU lsb = hn::And(hn::ShiftRight<22>(a), hn::Set(du, 1u));
  const VU normal = hn::Sub(hn::ShiftRight<22>(hn::Add(a, hn::Add(hn::Set(du, 0x1FFFFFu), lsb))), hn::Set(du, 252u));
  const VU sub = hn::Sub(hn::BitCast(du, hn::Add(hn::BitCast(df, a), hn::Set(df, 4194304.0f))), hn::Set(du, 0x4A800000u));
  return hn::Min(hn::IfThenElse(hn::Lt(a, hn::Set(du, 0x3F800000u)), sub, normal), hn::Set(du, 7u));
}

// The bfloat16 magnitude bits of N groups' amaxes (16 N elements at p), lane g = group g.
HWY_INLINE VU GroupAmaxBf16(const uint16_t* p) {
  const hn::Repartition<uint16_t, DF> d16;
  const DU du;
  const size_t L = hn::Lanes(d16);
  const auto mag = hn::Set(d16, 0x7FFF);
  const auto pairs = [&](decltype(mag) lo, decltype(mag) hi) { return hn::Max(hn::ConcatOdd(d16, hi, lo), hn::ConcatEven(d16, hi, lo)); };
  const auto ld = [&](size_t k) { return hn::And(hn::LoadU(d16, p + k * L), mag); };
  const auto w = pairs(pairs(pairs(ld(0), ld(1)), pairs(ld(2), ld(3))), pairs(pairs(ld(4), ld(5)), pairs(ld(6), ld(7))));
  const VU u = hn::BitCast(du, w);
  return hn::Max(hn::ShiftRight<16>(u), hn::And(u, hn::Set(du, 0xFFFFu)));
}

// Four vectors of byte values (one per 32-bit lane) stored as 4 N consecutive bytes, v[0]'s first.
HWY_INLINE void StoreBytes4(const VU* v, uint8_t* out) {
#if MOECKPT_AVX512
  // Two packs leave 32-bit chunks in the order (v0, v1, v2, v3) per 128-bit block; one permute sorts them.
  const __m512i b = _mm512_packus_epi16(_mm512_packus_epi32(v[0].raw, v[1].raw), _mm512_packus_epi32(v[2].raw, v[3].raw));
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  _mm512_storeu_si512(out, _mm512_permutexvar_epi32(idx, b));
#elif HWY_TARGET == HWY_AVX2
  const __m256i b = _mm256_packus_epi16(_mm256_packus_epi32(v[0].raw, v[1].raw), _mm256_packus_epi32(v[2].raw, v[3].raw));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
#else
  const DF df;
  const hn::RebindToSigned<DU> di;
  const hn::Rebind<uint8_t, DF> d8;
  for (size_t k = 0; k < 4; ++k) hn::StoreU(hn::DemoteTo(d8, hn::BitCast(di, v[k])), d8, out + k * hn::Lanes(df));
#endif
}

using Nvfp4Idx = decltype(hn::SetTableIndices(DF(), static_cast<const int32_t*>(nullptr)));

// N groups' scales (16 N elements at p): the scale codes to sc; with kCodes the divisors s and
// their reciprocals to s_out and rec_out. Returns -1 for a NaN or Inf element, 1 where some
// group's divisor is not a normal float with a normal reciprocal (its codes are the caller's),
// else 0.
template <bool kCodes>
HWY_INLINE int Nvfp4Scales(const uint16_t* p, VF vdenom, VF vglobal, uint8_t* sc, float* s_out, float* rec_out) {
  const DF df;
  const DU du;
  const hn::RebindToSigned<DU> di;
  const hn::Rebind<uint8_t, DF> d8;
  const VU am = GroupAmaxBf16(p);
  if (HWY_UNLIKELY(!hn::AllFalse(du, hn::Gt(am, hn::Set(du, 0x7F7Fu))))) return -1;
  const VF a = hn::IfThenElse(hn::RebindMask(df, hn::Eq(am, hn::Zero(du))), vdenom, hn::BitCast(df, hn::ShiftLeft<16>(am)));
  const VU code = E4M3Codes(df, hn::Div(a, vdenom), true);
  hn::StoreU(hn::DemoteTo(d8, hn::BitCast(di, code)), d8, sc);
  if constexpr (!kCodes) {
    return 0;
  } else {
    const VF s = hn::Mul(DecodeFp8<kE4M3>(df, code), vglobal);
    hn::StoreU(s, df, s_out);
    hn::StoreU(hn::Div(hn::Set(df, 1.0f), s), df, rec_out);
    // Exponent field in [1, 252]: s normal and 1 / s normal.
    const auto bad = hn::Gt(hn::Sub(hn::ShiftRight<23>(hn::BitCast(du, s)), hn::Set(du, 1u)), hn::Set(du, 251u));
    return hn::AllFalse(du, bad) ? 0 : 1;
  }
}

// The E2M1 codes of N groups (16 N elements at p, 8 N bytes to out) with their divisors and
// reciprocals (vectors of N, lane g for group g).
HWY_INLINE void Nvfp4Codes(const uint16_t* p, VF s, VF rec, const Nvfp4Idx* idx, uint8_t* out) {
  const DF df;
  const DU du;
  const size_t N = hn::Lanes(df);
  const VU abs = hn::Set(du, 0x7FFFFFFFu), hi = hn::Set(du, 0xFFFF0000u), low21 = hn::Set(du, 0x1FFFFFu);
  VU bytes[8];
  for (size_t v = 0; v < 8; ++v) {
    const VU w = hn::BitCast(du, hn::LoadU(hn::Repartition<uint16_t, DF>(), p + v * 2 * N));
    const VF xe = hn::BitCast(df, hn::ShiftLeft<16>(w)), xo = hn::BitCast(df, hn::And(w, hi));
    const VF r = hn::TableLookupLanes(rec, idx[v]);
    VU ae = hn::And(hn::BitCast(du, hn::Mul(xe, r)), abs), ao = hn::And(hn::BitCast(du, hn::Mul(xo, r)), abs);
    // x * (1 / s) is within ~3 ulps of x / s: it rounds alike unless a rounding point is
    // within 8 ulps; then divide (bfloat16 weights land exactly on rounding points often).
    const VU eight = hn::Set(du, 8u);
    const VU near = hn::Min(hn::And(hn::Add(ae, eight), low21), hn::And(hn::Add(ao, eight), low21));
    if (HWY_UNLIKELY(!hn::AllFalse(du, hn::Lt(near, hn::Set(du, 17u))))) {
      const VF sv = hn::TableLookupLanes(s, idx[v]);
      ae = hn::And(hn::BitCast(du, hn::Div(xe, sv)), abs);
      ao = hn::And(hn::BitCast(du, hn::Div(xo, sv)), abs);
    }
    const VU sign = hn::Or(hn::And(hn::ShiftRight<12>(w), hn::Set(du, 0x08u)), hn::And(hn::ShiftRight<24>(w), hn::Set(du, 0x80u)));
    bytes[v] = hn::Or(hn::Or(E2M1MagCodes(df, ae), hn::ShiftLeft<4>(E2M1MagCodes(df, ao))), sign);
  }
  StoreBytes4(bytes, out);
  StoreBytes4(bytes + 4, out + 4 * N);
}

// Two passes over the row (it stays in L1): every group's scale, divisor and reciprocal, chunk
// after chunk with no chunk waiting on another's divisions; then the codes.
template <bool kCodes>
bool Nvfp4Bf16RowT(const uint16_t* src, uint64_t n, float global, uint8_t* scale_codes, uint8_t* codes) {
  const DF df;
  const size_t N = hn::Lanes(df);
  const float denom = kE2M1Max * global;
  if (n % 16 != 0 || !std::isnormal(denom) || !std::isnormal(1.0f / denom)) return false;
  const VF vdenom = hn::Set(df, denom), vglobal = hn::Set(df, global);
  const uint64_t groups = n / 16, full = groups / N * N, rest = groups - full;
  thread_local std::vector<float> sv, rv;
  if (kCodes) {
    sv.resize(full + N);
    rv.resize(full + N);
  }
  HWY_ALIGN uint16_t tail[16 * hn::MaxLanes(df)] = {};  // the last groups, zero-padded
  if (rest) std::memcpy(tail, src + 16 * full, rest * 32);
  int bad = 0;
  for (uint64_t g = 0; g < full; g += N) {
    const int r = Nvfp4Scales<kCodes>(src + 16 * g, vdenom, vglobal, scale_codes + g, kCodes ? sv.data() + g : nullptr, kCodes ? rv.data() + g : nullptr);
    if (r < 0) return false;
    bad |= r;
  }
  if (rest) {
    HWY_ALIGN uint8_t sc[hn::MaxLanes(df)];
    const int r = Nvfp4Scales<kCodes>(tail, vdenom, vglobal, sc, kCodes ? sv.data() + full : nullptr, kCodes ? rv.data() + full : nullptr);
    if (r < 0) return false;
    bad |= r;
    std::memcpy(scale_codes + full, sc, rest);
  }
  if constexpr (kCodes) {
    Nvfp4Idx idx[8];
    for (size_t v = 0; v < 8; ++v) {
      HWY_ALIGN int32_t lanes[hn::MaxLanes(df)];
      for (size_t l = 0; l < N; ++l) lanes[l] = static_cast<int32_t>((N * v + l) / 8);
      idx[v] = hn::SetTableIndices(df, lanes);
    }
    for (uint64_t g = 0; g < full; g += N) Nvfp4Codes(src + 16 * g, hn::LoadU(df, sv.data() + g), hn::LoadU(df, rv.data() + g), idx, codes + 8 * g);
    if (rest) {
      HWY_ALIGN uint8_t out[8 * hn::MaxLanes(df)];
      Nvfp4Codes(tail, hn::LoadU(df, sv.data() + full), hn::LoadU(df, rv.data() + full), idx, out);
      std::memcpy(codes + 8 * full, out, rest * 8);
    }
    // Groups whose divisor is not normal (or has no normal reciprocal): one element at a time.
    if (HWY_UNLIKELY(bad))
      for (uint64_t k = 0; k < groups; ++k) {
        const uint32_t se = (std::bit_cast<uint32_t>(sv[k]) >> 23) & 0xFF;
        if (se >= 1 && se <= 252) continue;
        for (uint64_t i = 16 * k; i < 16 * (k + 1); ++i) encode_at(Fmt::kE2M1, decode_at(Fmt::kBF16, src, i) / sv[k], codes, i, true);
      }
  }
  return true;
}

bool Nvfp4Bf16Row(const uint16_t* src, uint64_t n, float global, uint8_t* scale_codes, uint8_t* codes) {
  return codes ? Nvfp4Bf16RowT<true>(src, n, global, scale_codes, codes) : Nvfp4Bf16RowT<false>(src, n, global, scale_codes, codes);
}

// ---- the generic row kernel and its dispatch -----------------------------------------------

template <int kIn, int kOut, int kOp>
void RowT(const RowJob& j) {
  const DF df;
  const uint64_t N = hn::Lanes(df);
  const uint64_t group = kOp == 0 ? std::max<uint64_t>(j.n, 1) : j.group;
  uint64_t i = 0;
  if constexpr (kOut == kBF16 && kIn == kE4M3 && kOp == 1) i = j.saturate ? E4M3ToBf16Run<kOp, true>(j) : E4M3ToBf16Run<kOp, false>(j);
#if MOECKPT_AVX512
  if constexpr (kOut == kE4M3 && kIn == kBF16 && kOp == 2) i = j.saturate ? Bf16ToE4M3Run<true>(j) : Bf16ToE4M3Run<false>(j);
#endif
  while (i < j.n) {
    const uint64_t end = std::min(j.n, (i / group + 1) * group);
    const float s = kOp == 0 ? 1.0f : j.scales[i / group];
    const VF vs = hn::Set(df, s);
    // E2M1 reads whole bytes: a group starting on an odd element goes to the tail.
    if (kIn != 7 || (i & 1) == 0) {
      if constexpr (kOut == kBF16 && kIn == kE4M3 && kOp != 2) {
        if (std::isfinite(s)) {
          i = j.saturate ? E4M3ToBf16Group<kOp, true>(df, static_cast<const uint8_t*>(j.src), static_cast<uint16_t*>(j.dst), i, end, s)
                         : E4M3ToBf16Group<kOp, false>(df, static_cast<const uint8_t*>(j.src), static_cast<uint16_t*>(j.dst), i, end, s);
        }
      } else if constexpr (kOut == kBF16 && kIn != 7) {
        for (; i + 2 * N <= end; i += 2 * N) {
          VF v0 = Load<kIn>(df, j.src, i);
          VF v1 = Load<kIn>(df, j.src, i + N);
          if constexpr (kOp == 1) {
            v0 = hn::Mul(v0, vs);
            v1 = hn::Mul(v1, vs);
          }
          if constexpr (kOp == 2) {
            v0 = hn::Div(v0, vs);
            v1 = hn::Div(v1, vs);
          }
          if (j.saturate) {
            StoreBf16x2<true>(df, v0, v1, static_cast<uint16_t*>(j.dst) + i);
          } else {
            StoreBf16x2<false>(df, v0, v1, static_cast<uint16_t*>(j.dst) + i);
          }
        }
      }
      for (; i + N <= end; i += N) {
        VF v;
        if constexpr (kIn == 7) {
          v = LoadE2M1(df, static_cast<const uint8_t*>(j.src), i);
        } else {
          v = Load<kIn>(df, j.src, i);
        }
        if constexpr (kOp == 1) v = hn::Mul(v, vs);
        if constexpr (kOp == 2) v = hn::Div(v, vs);
        Store<kOut>(df, v, j.dst, i, j.saturate);
      }
    }
    Tail(j, i, end, s);
    i = end;
  }
}

template <int kIn, int kOut>
bool DispatchOp(const RowJob& j) {
#if MOECKPT_AVX512
  if constexpr (kIn == 7 && kOut == kBF16) {
    if (j.saturate ? E2M1ToBf16Row<true>(j) : E2M1ToBf16Row<false>(j)) return true;
  }
#endif
  switch (j.op) {
    case ScaleOp::kNone: RowT<kIn, kOut, 0>(j); return true;
    case ScaleOp::kMultiply: RowT<kIn, kOut, 1>(j); return true;
    case ScaleOp::kDivide: RowT<kIn, kOut, 2>(j); return true;
  }
  return false;
}

template <int kIn>
bool DispatchOut(const RowJob& j) {
  switch (j.out) {
    case Fmt::kF32: return DispatchOp<kIn, kF32>(j);
    case Fmt::kBF16: return DispatchOp<kIn, kBF16>(j);
    case Fmt::kF16: return DispatchOp<kIn, kF16>(j);
    case Fmt::kE4M3FN: return kIn <= kBF16 && DispatchOp<kIn, kE4M3>(j);
#if MOECKPT_AVX512
    case Fmt::kE2M1:
      if constexpr (kIn <= kBF16) return j.saturate && ToE2M1Row<kIn>(j);
      return false;
#endif
    default: return false;
  }
}

bool RunRow(const RowJob& j) {
  switch (j.in) {
    case Fmt::kF32: return DispatchOut<kF32>(j);
    case Fmt::kF16: return DispatchOut<kF16>(j);
    case Fmt::kBF16: return DispatchOut<kBF16>(j);
    case Fmt::kE4M3FN: return j.out != Fmt::kE4M3FN && DispatchOut<kE4M3>(j);
    case Fmt::kE5M2: return j.out != Fmt::kE4M3FN && DispatchOut<kE5M2>(j);
    case Fmt::kE4M3FNUZ: return j.out != Fmt::kE4M3FN && DispatchOut<kE4M3Z>(j);
    case Fmt::kE5M2FNUZ: return j.out != Fmt::kE4M3FN && DispatchOut<kE5M2Z>(j);
    case Fmt::kE2M1: return j.out != Fmt::kE4M3FN && DispatchOut<7>(j);
    default: return false;
  }
}

// ---- row absmax -----------------------------------------------------------------------------

template <int kIn>
float AbsMaxT(const void* src, uint64_t n) {
  const DF df;
  const DU du;
  const uint64_t N = hn::Lanes(df);
  VU m = hn::Zero(du);
  uint64_t i = 0;
  // On magnitudes' bit patterns, unsigned order is numeric order, and NaN sorts above Inf.
  for (; i + N <= n; i += N) m = hn::Max(m, hn::And(hn::BitCast(du, Load<kIn>(df, src, i)), hn::Set(du, 0x7FFFFFFFu)));
  uint32_t best = hn::GetLane(hn::MaxOfLanes(du, m));
  for (; i < n; ++i) {
    uint32_t b = std::bit_cast<uint32_t>(decode_at(kIn == kF32 ? Fmt::kF32 : kIn == kF16 ? Fmt::kF16 : Fmt::kBF16, src, i)) & 0x7FFFFFFFu;
    best = std::max(best, b);
  }
  return std::bit_cast<float>(best);
}

// bfloat16 needs no widening: its magnitude bits order like float32's (NaN above Inf too).
float AbsMaxBf16(const uint16_t* src, uint64_t n) {
  const hn::ScalableTag<uint16_t> d16;
  const uint64_t N = hn::Lanes(d16);
  const auto mag = hn::Set(d16, 0x7FFF);
  auto m0 = hn::Zero(d16), m1 = hn::Zero(d16);
  uint64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    m0 = hn::Max(m0, hn::And(hn::LoadU(d16, src + i), mag));
    m1 = hn::Max(m1, hn::And(hn::LoadU(d16, src + i + N), mag));
  }
  if (i + N <= n) {
    m0 = hn::Max(m0, hn::And(hn::LoadU(d16, src + i), mag));
    i += N;
  }
  uint32_t best = hn::GetLane(hn::MaxOfLanes(d16, hn::Max(m0, m1)));
  for (; i < n; ++i) best = std::max<uint32_t>(best, src[i] & 0x7FFFu);
  return std::bit_cast<float>(best << 16);
}

bool AbsMax(Fmt in, const void* src, uint64_t n, float* out) {
  switch (in) {
    case Fmt::kF32: *out = AbsMaxT<kF32>(src, n); return true;
    case Fmt::kF16: *out = AbsMaxT<kF16>(src, n); return true;
    case Fmt::kBF16: *out = AbsMaxBf16(static_cast<const uint16_t*>(src), n); return true;
    default: return false;
  }
}

// ---- 4-bit codes through a table per group (AVX-512) -----------------------------------------
// A group's values are (q - z) * s for q in 0..15 only: the sixteen are computed once per group
// (one vector through the same exact rounding as every other output) and each element is a
// register permute of its code. Bit-identical to computing each element, with no over-read:
// only the bytes of the row's own codes are loaded.
#if MOECKPT_AVX512
// 32 codes from 16 bytes (element 2k in the low nibble of byte k), in 16-bit lanes, element order.
HWY_INLINE __m512i Nibbles32x16(const uint8_t* p) {
  const __m256i w = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m256i lo = _mm256_and_si256(w, _mm256_set1_epi16(0x0F));
  const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(w, _mm256_set1_epi16(0xF0)), 4);
  return _mm512_cvtepu8_epi16(_mm256_or_si256(lo, hi));
}

// 16 codes from 8 bytes, in 32-bit lanes.
HWY_INLINE __m512i Nibbles16x32(const uint8_t* p) {
  const __m128i w = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  const __m128i lo = _mm_and_si128(w, _mm_set1_epi16(0x0F));
  const __m128i hi = _mm_slli_epi16(_mm_and_si128(w, _mm_set1_epi16(0xF0)), 4);
  return _mm512_cvtepu8_epi32(_mm_or_si128(lo, hi));
}

HWY_INLINE uint32_t CodeAt(const uint8_t* bytes, uint64_t i) { return (bytes[i / 2] >> (4 * (i % 2))) & 0xFu; }

// The 16 values of one group in the output format (16-bit formats in table16, F32 in table32).
template <int kOut>
HWY_INLINE void GroupTable(float z, float s, void* table) {
  const DF df;
  Store<kOut>(df, hn::Mul(hn::Sub(hn::Load(df, kIotaF), hn::Set(df, z)), hn::Set(df, s)), table, 0, false);
}

// The same table in a register (16-bit formats in the low 16 lanes): built in memory, a
// 256-bit store read back by a 512-bit load could not be forwarded and stalled every group.
template <int kOut>
HWY_INLINE __m512i GroupTableReg(float z, float s) {
  const DF df;
  const DU du;
  const VF v = hn::Mul(hn::Sub(hn::Load(df, kIotaF), hn::Set(df, z)), hn::Set(df, s));
  if constexpr (kOut == kF32) {
    return _mm512_castps_si512(v.raw);
  } else if constexpr (kOut == kBF16) {  // Store<kBF16>'s rounding, NaN made canonical likewise
    const VU r = FixNaNHi(v, RoundBf16Hi(hn::BitCast(du, v)));
    return _mm512_zextsi256_si512(_mm512_cvtepi32_epi16(_mm512_srli_epi32(r.raw, 16)));
  } else {
    alignas(64) uint16_t t16[32] = {};
    GroupTable<kOut>(z, s, t16);
    return _mm512_load_si512(t16);
  }
}

// Two groups' tables as bfloat16 in one register: g0's in lanes 0..15, g1's in 16..31. Both
// rounded at once by the packed rounding, or (a NaN among them) one at a time as above.
HWY_INLINE __m512i TablePairBf16(float z0, float s0, float z1, float s1) {
  const DF df;
  const VF iota = hn::Load(df, kIotaF);
  const VF v0 = hn::Mul(hn::Sub(iota, hn::Set(df, z0)), hn::Set(df, s0));
  const VF v1 = hn::Mul(hn::Sub(iota, hn::Set(df, z1)), hn::Set(df, s1));
  if (HWY_LIKELY(hn::AllFalse(df, hn::Or(hn::IsNaN(v0), hn::IsNaN(v1)))))
    return RoundPackBf16<false>(_mm512_castps_si512(v0.raw), _mm512_castps_si512(v1.raw), _mm512_load_si512(kOddIdx), _mm512_load_si512(kEvenIdx));
  return _mm512_inserti64x4(GroupTableReg<kBF16>(z0, s0), _mm512_castsi512_si256(GroupTableReg<kBF16>(z1, s1)), 1);
}

// Elements [i, i + group) of one group (group a multiple of 32), table t in lanes 0..15.
HWY_INLINE void Int4GroupBf16(const uint8_t* bytes, uint16_t* dst, uint64_t i, uint64_t group, __m512i t) {
  for (const uint64_t end = i + group; i < end; i += 32) _mm512_storeu_si512(dst + i, _mm512_permutexvar_epi16(Nibbles32x16(bytes + i / 2), t));
}

// Activation order: every group's table (groups x 16 entries, widened to 32 bits) and one
// gather per 16 elements, at index g_idx * 16 + code.
template <int kOut>
void Int4ActOrderRow(const IntRowJob& j) {
  thread_local std::vector<uint32_t> table;
  table.resize(j.groups * 16);
  for (uint64_t g = 0; g < j.groups; ++g) {
    alignas(64) uint16_t t16[16];
    if constexpr (kOut == kF32) {
      GroupTable<kOut>(j.zeros[g], j.scales[g], table.data() + 16 * g);
    } else {
      GroupTable<kOut>(j.zeros[g], j.scales[g], t16);
      _mm512_storeu_si512(table.data() + 16 * g, _mm512_cvtepu16_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(t16))));
    }
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(j.words);
  uint64_t i = 0;
  for (; i + 16 <= j.n; i += 16) {
    const __m512i g = _mm512_loadu_si512(j.g_idx + i);
    const __m512i idx = _mm512_add_epi32(_mm512_slli_epi32(g, 4), Nibbles16x32(bytes + i / 2));
    const __m512i v = _mm512_i32gather_epi32(idx, table.data(), 4);
    if constexpr (kOut == kF32) {
      _mm512_storeu_si512(static_cast<float*>(j.dst) + i, v);
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<uint16_t*>(j.dst) + i), _mm512_cvtepi32_epi16(v));
    }
  }
  for (; i < j.n; ++i) encode_at(j.out, (static_cast<float>(CodeAt(bytes, i)) - j.zeros[j.g_idx[i]]) * j.scales[j.g_idx[i]], j.dst, i);
}

// Table entry idx (group idx >> 4, code idx & 15) of kRegs registers of two groups each: one
// two-register permute per 64 entries, then blends on index bits 6 and 7.
template <int kRegs>
HWY_INLINE __m512i LookupBf16(const __m512i* t, __m512i idx) {
  if constexpr (kRegs == 1) {
    return _mm512_permutexvar_epi16(idx, t[0]);
  } else if constexpr (kRegs == 2) {
    return _mm512_permutex2var_epi16(t[0], idx, t[1]);
  } else {  // written out: a loop here was left rolled, its vectors spilled to the stack
    const __mmask32 b6 = _mm512_test_epi16_mask(idx, _mm512_set1_epi16(0x40));
    __m512i v = _mm512_mask_blend_epi16(b6, _mm512_permutex2var_epi16(t[0], idx, t[1]), _mm512_permutex2var_epi16(t[2], idx, t[3]));
    if constexpr (kRegs == 8) {
      const __m512i w = _mm512_mask_blend_epi16(b6, _mm512_permutex2var_epi16(t[4], idx, t[5]), _mm512_permutex2var_epi16(t[6], idx, t[7]));
      v = _mm512_mask_blend_epi16(_mm512_test_epi16_mask(idx, _mm512_set1_epi16(0x80)), v, w);
    }
    return v;
  }
}

// Activation order into bfloat16 with at most 16 groups: every group's table held in
// registers, each element picked from them by g_idx * 16 + code, instead of a gather from
// memory per 16 elements.
template <int kRegs>
void Int4ActOrderBf16(const IntRowJob& j) {
  __m512i t[kRegs];
#pragma GCC unroll 8
  for (int r = 0; r < kRegs; ++r) {  // groups past the last: zeros, never looked up (unrolled: t stays in registers)
    const uint64_t g = 2 * static_cast<uint64_t>(r);
    const auto z = [&](uint64_t k) { return k < j.groups ? j.zeros[k] : 0.0f; };
    const auto s = [&](uint64_t k) { return k < j.groups ? j.scales[k] : 0.0f; };
    t[r] = TablePairBf16(z(g), s(g), z(g + 1), s(g + 1));
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(j.words);
  const uint32_t* g_idx = j.g_idx;
  auto* dst = static_cast<uint16_t*>(j.dst);
  const uint64_t n = j.n;
  const __m512i even = _mm512_load_si512(kEvenIdx);
  uint64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    // The low halves of 32 group indices (each below 16) into 16-bit lanes.
    const __m512i g = _mm512_permutex2var_epi16(_mm512_loadu_si512(g_idx + i), even, _mm512_loadu_si512(g_idx + i + 16));
    const __m512i idx = _mm512_or_si512(_mm512_slli_epi16(g, 4), Nibbles32x16(bytes + i / 2));
    _mm512_storeu_si512(dst + i, LookupBf16<kRegs>(t, idx));
  }
  for (; i < n; ++i) encode_at(j.out, (static_cast<float>(CodeAt(bytes, i)) - j.zeros[g_idx[i]]) * j.scales[g_idx[i]], dst, i);
}

// The same with g_idx prepared once per tensor (ActOrderPlan): the group's low bits come
// ready in 16-bit lanes and the register-pair choice as two loaded masks, so per 32 elements
// what is left is the codes (one widening, a shift and a mask: lane 2m gets byte m's low nibble,
// lane 2m + 1 its high one), one OR, and the lookups. About 19 vector uops per 32 elements
// instead of 28 (the port-0/5 count that bounded this kernel).
template <int kRegs>
HWY_INLINE __m512i LookupBf16Masks(const __m512i* t, __m512i idx, const uint32_t* masks) {
  if constexpr (kRegs == 1) {
    return _mm512_permutexvar_epi16(idx, t[0]);
  } else if constexpr (kRegs == 2) {
    return _mm512_permutex2var_epi16(t[0], idx, t[1]);
  } else {
    const __mmask32 b2 = _cvtu32_mask32(masks[0]);
    __m512i v = _mm512_mask_blend_epi16(b2, _mm512_permutex2var_epi16(t[0], idx, t[1]), _mm512_permutex2var_epi16(t[2], idx, t[3]));
    if constexpr (kRegs == 8) {
      const __m512i w = _mm512_mask_blend_epi16(b2, _mm512_permutex2var_epi16(t[4], idx, t[5]), _mm512_permutex2var_epi16(t[6], idx, t[7]));
      v = _mm512_mask_blend_epi16(_cvtu32_mask32(masks[1]), v, w);
    }
    return v;
  }
}

template <int kRegs>
void Int4ActOrderPlanned(const IntRowJob& j) {
  __m512i t[kRegs];
#pragma GCC unroll 8
  for (int r = 0; r < kRegs; ++r) {
    const uint64_t g = 2 * static_cast<uint64_t>(r);
    const auto z = [&](uint64_t k) { return k < j.groups ? j.zeros[k] : 0.0f; };
    const auto s = [&](uint64_t k) { return k < j.groups ? j.scales[k] : 0.0f; };
    t[r] = TablePairBf16(z(g), s(g), z(g + 1), s(g + 1));
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(j.words);
  const uint16_t* low = j.plan->low.data();
  const uint32_t* masks = j.plan->masks.data();
  auto* dst = static_cast<uint16_t*>(j.dst);
  const uint64_t n = j.n;
  const __m512i nib = _mm512_set1_epi32(0x000F000F);
  uint64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i x = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + i / 2)));
    const __m512i c = _mm512_ternarylogic_epi32(x, _mm512_slli_epi32(x, 12), nib, 0xA8);  // (x | x << 12) & nib
    const __m512i idx = _mm512_or_si512(c, _mm512_loadu_si512(low + i));
    _mm512_storeu_si512(dst + i, LookupBf16Masks<kRegs>(t, idx, masks + 2 * (i / 32)));
  }
  for (; i < n; ++i) encode_at(j.out, (static_cast<float>(CodeAt(bytes, i)) - j.zeros[j.g_idx[i]]) * j.scales[j.g_idx[i]], dst, i);
}

// Returns false where the table path does not apply (the caller takes the general one).
template <int kOut>
bool Int4Row(const IntRowJob& j) {
  if (j.bits != 4 || j.group % 2 != 0) return false;
  if (j.g_idx) {
    if (j.groups == 0) return false;
    if constexpr (kOut == kBF16) {
      if (j.groups <= 16 && j.plan && j.plan->low.size() >= j.n && j.plan->masks.size() >= 2 * (j.n / 32)) {
        if (j.groups <= 2) Int4ActOrderPlanned<1>(j);
        else if (j.groups <= 4) Int4ActOrderPlanned<2>(j);
        else if (j.groups <= 8) Int4ActOrderPlanned<4>(j);
        else Int4ActOrderPlanned<8>(j);
        return true;
      }
      if (j.groups <= 16) {
        if (j.groups <= 2) Int4ActOrderBf16<1>(j);
        else if (j.groups <= 4) Int4ActOrderBf16<2>(j);
        else if (j.groups <= 8) Int4ActOrderBf16<4>(j);
        else Int4ActOrderBf16<8>(j);
        return true;
      }
    }
    Int4ActOrderRow<kOut>(j);
    return true;
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(j.words);
  const uint64_t n = j.n, group = j.group;
  const float *zeros = j.zeros, *scales = j.scales;
  void* const dst = j.dst;  // locals: the stores below could alias j, so j's fields would be reloaded
  uint64_t i = 0, g = 0;
  if constexpr (kOut == kBF16) {  // two groups' tables built at once
    if (group % 32 == 0)
      for (; i + 2 * group <= n; i += 2 * group, g += 2) {
        const __m512i t = TablePairBf16(zeros[g], scales[g], zeros[g + 1], scales[g + 1]);
        Int4GroupBf16(bytes, static_cast<uint16_t*>(dst), i, group, t);
        Int4GroupBf16(bytes, static_cast<uint16_t*>(dst), i + group, group, _mm512_shuffle_i64x2(t, t, 0xEE));
      }
  }
  for (; i < n; ++g) {
    const uint64_t end = std::min(n, i + group);
    const float z = zeros[g], s = scales[g];
    if constexpr (kOut == kF32) {
      const __m512i tv = GroupTableReg<kOut>(z, s);
      for (; i + 16 <= end; i += 16) _mm512_storeu_si512(static_cast<float*>(dst) + i, _mm512_permutexvar_epi32(Nibbles16x32(bytes + i / 2), tv));
    } else {
      const __m512i tv = GroupTableReg<kOut>(z, s);
      for (; i + 32 <= end; i += 32)
        _mm512_storeu_si512(static_cast<uint16_t*>(dst) + i, _mm512_permutexvar_epi16(Nibbles32x16(bytes + i / 2), tv));
    }
    for (; i < end; ++i) encode_at(j.out, (static_cast<float>(CodeAt(bytes, i)) - z) * s, dst, i);
  }
  return true;
}
#endif

// ---- GPTQ and AWQ words into rows ------------------------------------------------------------
#if MOECKPT_AVX512
// r[i] lane j -> r[j] lane i, for 16 x 16 32-bit words: pairs of words, then of pairs, then
// 4 x 4 blocks of 128-bit lanes (64 shuffles for 256 words).
HWY_INLINE void Transpose16x16(__m512i* r) {
  __m512i t[16];
#pragma GCC unroll 16
  for (int k = 0; k < 8; ++k) {
    t[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
  }
#pragma GCC unroll 16
  for (int k = 0; k < 4; ++k) {  // r[4k + m], 128-bit lane L: column 4L + m of rows 4k..4k+3
    r[4 * k] = _mm512_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
    r[4 * k + 1] = _mm512_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
    r[4 * k + 2] = _mm512_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
    r[4 * k + 3] = _mm512_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
  }
#pragma GCC unroll 16
  for (int m = 0; m < 4; ++m) {
    const __m512i v0 = _mm512_shuffle_i32x4(r[m], r[4 + m], 0x44), v1 = _mm512_shuffle_i32x4(r[m], r[4 + m], 0xEE);
    const __m512i v2 = _mm512_shuffle_i32x4(r[8 + m], r[12 + m], 0x44), v3 = _mm512_shuffle_i32x4(r[8 + m], r[12 + m], 0xEE);
    t[m] = _mm512_shuffle_i32x4(v0, v2, 0x88);
    t[4 + m] = _mm512_shuffle_i32x4(v0, v2, 0xDD);
    t[8 + m] = _mm512_shuffle_i32x4(v1, v3, 0x88);
    t[12 + m] = _mm512_shuffle_i32x4(v1, v3, 0xDD);
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

// GPTQ: tiles of 16 words x 16 columns (a cache line of each of 16 word rows) transposed in
// registers, each column's 16 words then one store into its row of the buffer.
void GatherTiles(const uint8_t* bytes, uint64_t words, uint64_t cols, uint64_t c0, uint64_t count, uint32_t* buf, uint64_t stride) {
  const uint64_t wt = words / 16 * 16;
  for (uint64_t b = 0; b + 16 <= count; b += 16) {
    for (uint64_t w = 0; w < wt; w += 16) {
      __m512i r[16];
      // Word rows are cols * 4 bytes apart, too far for the hardware prefetcher: the lines two
      // tiles ahead are asked for now.
      if (w + 32 < wt) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) _mm_prefetch(reinterpret_cast<const char*>(bytes + 4 * ((w + 32 + i) * cols + c0 + b)), _MM_HINT_T0);
      }
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_si512(bytes + 4 * ((w + i) * cols + c0 + b));
      Transpose16x16(r);
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) _mm512_storeu_si512(buf + (b + i) * stride + w, r[i]);
    }
    if (wt < words) ref::gather_int_columns(bytes + 4 * wt * cols, words - wt, cols, c0 + b, 16, buf + b * stride + wt, stride);
  }
}
#endif

#if HWY_TARGET == HWY_AVX2
// r[i] lane j -> r[j] lane i, for 8 x 8 32-bit words (24 shuffles): AVX2 has no scatter, and
// Highway's emulated one (eight scalar stores a vector) was what bounded GPTQ and AWQ here.
HWY_INLINE void Transpose8x8(__m256i* r) {
  __m256i t[8], u[8];
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    t[2 * k] = _mm256_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm256_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
  }
#pragma GCC unroll 2
  for (int k = 0; k < 2; ++k) {  // u[4k + m], 128-bit half h: column 4h + m of rows 4k..4k+3
    u[4 * k] = _mm256_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 1] = _mm256_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 2] = _mm256_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
    u[4 * k + 3] = _mm256_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
  }
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m) {
    r[m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x20);
    r[4 + m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x31);
  }
}

// GPTQ: tiles of 8 words x 8 columns transposed in registers, one store per column's 8 words.
void GatherTiles8(const uint8_t* bytes, uint64_t words, uint64_t cols, uint64_t c0, uint64_t count, uint32_t* buf, uint64_t stride) {
  const uint64_t wt = words / 8 * 8;
  for (uint64_t b = 0; b + 8 <= count; b += 8) {
    for (uint64_t w = 0; w < wt; w += 8) {
      __m256i r[8];
      if (w + 32 < wt) {
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) _mm_prefetch(reinterpret_cast<const char*>(bytes + 4 * ((w + 24 + i) * cols + c0 + b)), _MM_HINT_T0);
      }
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes + 4 * ((w + i) * cols + c0 + b)));
      Transpose8x8(r);
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) _mm256_storeu_si256(reinterpret_cast<__m256i*>(buf + (b + i) * stride + w), r[i]);
    }
    if (wt < words) ref::gather_int_columns(bytes + 4 * wt * cols, words - wt, cols, c0 + b, 8, buf + b * stride + wt, stride);
  }
}

#endif

// Each vector load takes one contiguous run of words (a cache line on AVX-512) and a scatter puts
// its lanes into as many rows of the buffer.
bool GatherIntColumns(const void* src, uint64_t words, uint64_t cols, uint64_t c0, uint64_t count, uint32_t* buf, uint64_t stride) {
  const DU du;
  const hn::RebindToSigned<DU> di;
  const hn::Repartition<uint8_t, DU> d8;
  const uint64_t N = hn::Lanes(du);
  if (stride * N > INT32_MAX) return false;
  const auto* bytes = static_cast<const uint8_t*>(src);
  uint64_t b = 0;
#if MOECKPT_AVX512
  GatherTiles(bytes, words, cols, c0, count, buf, stride);
  b = count / 16 * 16;
#elif HWY_TARGET == HWY_AVX2
  GatherTiles8(bytes, words, cols, c0, count, buf, stride);
  b = count / 8 * 8;
#endif
  const auto idx = hn::Mul(hn::Iota(di, 0), hn::Set(di, static_cast<int32_t>(stride)));
  for (; b + N <= count; b += N)
    for (uint64_t w = 0; w < words; ++w) hn::ScatterIndex(hn::BitCast(du, hn::LoadU(d8, bytes + 4 * (w * cols + c0 + b))), du, buf + b * stride + w, idx);
  if (b < count) ref::gather_int_columns(src, words, cols, c0 + b, count - b, buf + b * stride, stride);
  return true;
}

// Eight words (one per k of an 8-column chunk, lanes = AWQ columns) as an 8 x 8 nibble matrix
// per lane, transposed in three swaps (4 x 4 blocks, then 2 x 2, then single nibbles): word p
// then holds nibble p of each input word, in input order.
HWY_INLINE void TransposeNibbles8(VU* v) {
  const DU du;
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const VU t = hn::And(hn::Xor(hn::ShiftRight<16>(v[i]), v[i + 4]), hn::Set(du, 0x0000FFFFu));
    v[i] = hn::Xor(v[i], hn::ShiftLeft<16>(t));
    v[i + 4] = hn::Xor(v[i + 4], t);
  }
#pragma GCC unroll 4
  for (int i : {0, 1, 4, 5}) {
    const VU t = hn::And(hn::Xor(hn::ShiftRight<8>(v[i]), v[i + 2]), hn::Set(du, 0x00FF00FFu));
    v[i] = hn::Xor(v[i], hn::ShiftLeft<8>(t));
    v[i + 2] = hn::Xor(v[i + 2], t);
  }
#pragma GCC unroll 4
  for (int i : {0, 2, 4, 6}) {
    const VU t = hn::And(hn::Xor(hn::ShiftRight<4>(v[i]), v[i + 1]), hn::Set(du, 0x0F0F0F0Fu));
    v[i] = hn::Xor(v[i], hn::ShiftLeft<4>(t));
    v[i + 1] = hn::Xor(v[i + 1], t);
  }
}

#if HWY_TARGET == HWY_AVX2
// AWQ, 8 columns (64 rows) x 64 k at a time, as AwqTiles: each chunk's nibbles transposed per
// lane into an L1 stage, then each row's 8 words by an 8 x 8 transpose and one store.
void AwqTiles8(const uint8_t* bytes, uint64_t chunks, uint64_t cols, uint64_t c0, uint64_t count, const unsigned* nibble_of_row, uint32_t* buf,
               uint64_t stride) {
  const uint64_t ct = chunks / 8 * 8;
  alignas(32) uint32_t stage[8][8][8];
  for (uint64_t c = c0; c + 8 <= c0 + count; c += 8) {
    uint32_t* base = buf + 8 * (c - c0) * stride;
    for (uint64_t kc0 = 0; kc0 < ct; kc0 += 8) {
      for (uint64_t q = 0; q < 8; ++q) {
        VU v[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) v[i] = VU{_mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes + 4 * ((8 * (kc0 + q) + i) * cols + c)))};
        TransposeNibbles8(v);
#pragma GCC unroll 8
        for (int p = 0; p < 8; ++p) _mm256_store_si256(reinterpret_cast<__m256i*>(stage[p][q]), v[p].raw);
      }
      for (unsigned b = 0; b < 8; ++b) {
        __m256i r[8];
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q) r[q] = _mm256_load_si256(reinterpret_cast<const __m256i*>(stage[nibble_of_row[b]][q]));
        Transpose8x8(r);
#pragma GCC unroll 8
        for (int l = 0; l < 8; ++l) _mm256_storeu_si256(reinterpret_cast<__m256i*>(base + (8 * l + b) * stride + kc0), r[l]);
      }
    }
  }
}
#endif

#if MOECKPT_AVX512
// AWQ, 16 columns (128 rows) x 128 k at a time: each 8-k chunk's nibbles transposed per lane
// into a staging tile in L1 (nibble p, chunk, column), then each nibble's 16 chunks x 16 columns
// transposed in registers, so a row's 16 words are one store instead of 16 scattered ones.
void AwqTiles(const uint8_t* bytes, uint64_t chunks, uint64_t cols, uint64_t c0, uint64_t count, const unsigned* nibble_of_row, uint32_t* buf,
              uint64_t stride) {
  const uint64_t ct = chunks / 16 * 16;
  alignas(64) uint32_t stage[8][16][16];
  for (uint64_t c = c0; c + 16 <= c0 + count; c += 16) {
    uint32_t* base = buf + 8 * (c - c0) * stride;
    for (uint64_t kc0 = 0; kc0 < ct; kc0 += 16) {
      for (uint64_t q = 0; q < 16; ++q) {
        VU v[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) v[i] = VU{_mm512_loadu_si512(bytes + 4 * ((8 * (kc0 + q) + i) * cols + c))};
        TransposeNibbles8(v);
#pragma GCC unroll 8
        for (int p = 0; p < 8; ++p) _mm512_store_si512(stage[p][q], v[p].raw);
      }
      for (unsigned b = 0; b < 8; ++b) {
        __m512i r[16];
#pragma GCC unroll 16
        for (int q = 0; q < 16; ++q) r[q] = _mm512_load_si512(stage[nibble_of_row[b]][q]);
        Transpose16x16(r);
#pragma GCC unroll 16
        for (int l = 0; l < 16; ++l) _mm512_storeu_si512(base + (8 * l + b) * stride + kc0, r[l]);
      }
    }
  }
}
#endif

#if MOECKPT_AVX512
// 32 codes of a row's 16 words (128 elements, word w's codes in its nibbles, low first) into
// bfloat16: lane L takes the 16-bit word holding element 32q + L (one permute) and shifts its
// nibble down (bits above it are left: the table below repeats in both 16-lane halves, so the
// permute's index bit 4 does not matter and bits 5.. are ignored), then one table permute.
HWY_INLINE void Chunk32Bf16(__m512i row, int q, __m512i base, __m512i shifts, __m512i table, uint16_t* dst) {
  const __m512i idx = _mm512_add_epi16(base, _mm512_set1_epi16(static_cast<short>(8 * q)));
  const __m512i c = _mm512_srlv_epi16(_mm512_permutexvar_epi16(idx, row), shifts);
  _mm512_storeu_si512(dst, _mm512_permutexvar_epi16(c, table));
}

// A transposed tile: tile[i] holds 16 words (elements k0 .. k0 + 127) of output row
// row0 + i * step, rows i < nr; chunks q < nq of 32 elements are written. Tables are built two
// rows at a time (TablePairBf16: both rounded at once), again where a chunk starts a new group.
void DecodeTileBf16(const uint32_t (*tile)[16], uint64_t nr, uint64_t nq, uint64_t k0, uint64_t group, uint64_t row0, uint64_t step,
                    const float* zeros, const float* scales, uint64_t pstride, uint16_t* dst, uint64_t dst_stride) {
  alignas(64) static constexpr uint16_t kBase[32] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7};
  alignas(64) static constexpr uint16_t kShift[32] = {0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12,
                                                      0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12};
  const __m512i base = _mm512_load_si512(kBase), shifts = _mm512_load_si512(kShift);
  uint64_t gq[4];
  for (uint64_t q = 0; q < 4; ++q) gq[q] = (k0 + 32 * q) / group;
  for (uint64_t i = 0; i < nr; i += 2) {
    const bool two = i + 1 < nr;
    const uint64_t ra = row0 + i * step, rb = ra + step;
    const __m512i va = _mm512_load_si512(tile[i]), vb = _mm512_load_si512(tile[two ? i + 1 : i]);
    uint16_t* da = dst + ra * dst_stride + k0;
    uint16_t* db = two ? dst + rb * dst_stride + k0 : da;
    uint64_t g = UINT64_MAX;
    __m512i ta = _mm512_setzero_si512(), tb = ta;
    for (uint64_t q = 0; q < nq; ++q) {
      if (gq[q] != g) {
        g = gq[q];
        const float* z = zeros + g * pstride;
        const float* s = scales + g * pstride;
        const __m512i t = TablePairBf16(z[ra], s[ra], two ? z[rb] : 0.0f, two ? s[rb] : 0.0f);
        ta = _mm512_shuffle_i64x2(t, t, 0x44);
        tb = _mm512_shuffle_i64x2(t, t, 0xEE);
      }
      Chunk32Bf16(va, static_cast<int>(q), base, shifts, ta, da + 32 * q);
      if (two) Chunk32Bf16(vb, static_cast<int>(q), base, shifts, tb, db + 32 * q);
    }
  }
}
#endif

bool GptqInt4Bf16(const void* src, uint64_t k_len, uint64_t cols, uint64_t r0, uint64_t count, const float* zeros, const float* scales,
                  uint64_t pstride, uint64_t group, uint16_t* dst, uint64_t dst_stride) {
#if MOECKPT_AVX512
  if (group == 0 || group % 32 != 0 || k_len % group != 0) return false;
  const auto* bytes = static_cast<const uint8_t*>(src);
  const uint64_t words = k_len / 8;
  alignas(64) uint32_t tile[16][16];
  for (uint64_t b = 0; b < count; b += 16) {
    const uint64_t nr = std::min<uint64_t>(16, count - b);
    const __mmask16 cm = static_cast<__mmask16>(nr == 16 ? 0xFFFFu : (1u << nr) - 1);
    for (uint64_t w = 0; w < words; w += 16) {
      const uint64_t nw = std::min<uint64_t>(16, words - w);  // a multiple of 4 (k_len % 32 == 0)
      __m512i r[16];
      // Word rows are cols * 4 bytes apart, too far for the hardware prefetcher: the lines two
      // tiles ahead are asked for now.
      if (w + 48 <= words) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) _mm_prefetch(reinterpret_cast<const char*>(bytes + 4 * ((w + 32 + i) * cols + r0 + b)), _MM_HINT_T0);
      }
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i)
        r[i] = static_cast<uint64_t>(i) < nw ? _mm512_maskz_loadu_epi32(cm, bytes + 4 * ((w + i) * cols + r0 + b)) : _mm512_setzero_si512();
      Transpose16x16(r);
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) _mm512_store_si512(tile[i], r[i]);
      DecodeTileBf16(tile, nr, nw / 4, 8 * w, group, b, 1, zeros, scales, pstride, dst, dst_stride);
    }
  }
  return true;
#else
  (void)src, (void)k_len, (void)cols, (void)r0, (void)count, (void)zeros, (void)scales, (void)pstride, (void)group, (void)dst, (void)dst_stride;
  return false;
#endif
}

// AWQ as AwqTiles, each transposed 16 x 16 block decoded instead of stored.
bool AwqInt4Bf16(const void* src, uint64_t k_len, uint64_t cols, uint64_t r0, uint64_t count, const unsigned* nibble_of_row, const float* zeros,
                 const float* scales, uint64_t pstride, uint64_t group, uint16_t* dst, uint64_t dst_stride) {
#if MOECKPT_AVX512
  if (group == 0 || group % 32 != 0 || k_len % group != 0 || r0 % 8 != 0 || count % 8 != 0) return false;
  const auto* bytes = static_cast<const uint8_t*>(src);
  const uint64_t chunks = k_len / 8, c0 = r0 / 8, ccount = count / 8;
  alignas(64) uint32_t stage[8][16][16];
  alignas(64) uint32_t tile[16][16];
  for (uint64_t c = 0; c < ccount; c += 16) {
    const uint64_t nc = std::min<uint64_t>(16, ccount - c);
    const __mmask16 cm = static_cast<__mmask16>(nc == 16 ? 0xFFFFu : (1u << nc) - 1);
    for (uint64_t kc0 = 0; kc0 < chunks; kc0 += 16) {
      const uint64_t nq = std::min<uint64_t>(16, chunks - kc0);  // a multiple of 4
      for (uint64_t q = 0; q < 16; ++q) {
        VU v[8];
        if (q < nq) {
#pragma GCC unroll 8
          for (int i = 0; i < 8; ++i) v[i] = VU{_mm512_maskz_loadu_epi32(cm, bytes + 4 * ((8 * (kc0 + q) + i) * cols + c0 + c))};
          TransposeNibbles8(v);
        } else {
#pragma GCC unroll 8
          for (int i = 0; i < 8; ++i) v[i] = VU{_mm512_setzero_si512()};
        }
#pragma GCC unroll 8
        for (int p = 0; p < 8; ++p) _mm512_store_si512(stage[p][q], v[p].raw);
      }
      for (unsigned b = 0; b < 8; ++b) {
        __m512i r[16];
#pragma GCC unroll 16
        for (int q = 0; q < 16; ++q) r[q] = _mm512_load_si512(stage[nibble_of_row[b]][q]);
        Transpose16x16(r);
#pragma GCC unroll 16
        for (int l = 0; l < 16; ++l) _mm512_store_si512(tile[l], r[l]);
        DecodeTileBf16(tile, nc, nq / 4, 8 * kc0, group, 8 * c + b, 8, zeros, scales, pstride, dst, dst_stride);
      }
    }
  }
  return true;
#else
  (void)src, (void)k_len, (void)cols, (void)r0, (void)count, (void)nibble_of_row, (void)zeros, (void)scales, (void)pstride, (void)group, (void)dst,
      (void)dst_stride;
  return false;
#endif
}

bool TransposeAwqWords(const void* src, uint64_t k_len, uint64_t cols, uint64_t c0, uint64_t count, const unsigned* nibble_of_row, uint32_t* buf,
                       uint64_t stride) {
  const DU du;
  const hn::RebindToSigned<DU> di;
  const hn::Repartition<uint8_t, DU> d8;
  const uint64_t N = hn::Lanes(du);
  if (8 * stride * N > INT32_MAX) return false;
  const auto* bytes = static_cast<const uint8_t*>(src);
  const auto idx = hn::Mul(hn::Iota(di, 0), hn::Set(di, static_cast<int32_t>(8 * stride)));  // lane l: rows 8l..8l+7
  const uint64_t chunks = k_len / 8;
  uint64_t kc_first = 0;  // chunks before this one are done (in whole 16-column tiles)
#if MOECKPT_AVX512
  AwqTiles(bytes, chunks, cols, c0, count, nibble_of_row, buf, stride);
  kc_first = chunks / 16 * 16;
  const uint64_t tiled_end = c0 + count / 16 * 16;
#elif HWY_TARGET == HWY_AVX2
  AwqTiles8(bytes, chunks, cols, c0, count, nibble_of_row, buf, stride);
  kc_first = chunks / 8 * 8;
  const uint64_t tiled_end = c0 + count / 8 * 8;
#else
  const uint64_t tiled_end = c0;
#endif
  uint64_t c = c0;
  for (; c + N <= c0 + count; c += N) {
    uint32_t* base = buf + 8 * (c - c0) * stride;
    for (uint64_t kc = c < tiled_end ? kc_first : 0; kc < chunks; ++kc) {
      VU v[8];
      for (int i = 0; i < 8; ++i) v[i] = hn::BitCast(du, hn::LoadU(d8, bytes + 4 * ((8 * kc + i) * cols + c)));
      TransposeNibbles8(v);
      for (unsigned b = 0; b < 8; ++b) hn::ScatterIndex(v[nibble_of_row[b]], du, base + b * stride + kc, idx);
    }
  }
  // Columns left over, and the last partial chunk of every column: the reference way.
  if (c < c0 + count) ref::transpose_awq_words(src, k_len, cols, c, c0 + count - c, nibble_of_row, buf + 8 * (c - c0) * stride, stride);
  if (k_len % 8 != 0) {
    const uint64_t done = chunks * 8;
    for (uint64_t cc = c0; cc < c; ++cc)
      for (uint64_t k = done; k < k_len; ++k) {
        uint32_t word;
        std::memcpy(&word, bytes + 4 * (k * cols + cc), 4);
        for (uint64_t b = 0; b < 8; ++b) {
          uint32_t& out = buf[(8 * (cc - c0) + b) * stride + k / 8];
          const uint32_t shift = static_cast<uint32_t>(4 * (k % 8));
          out = (out & ~(0xFu << shift)) | (((word >> (4 * nibble_of_row[b])) & 0xFu) << shift);
        }
      }
  }
  return true;
}

// ---- block absmax --------------------------------------------------------------------------
// bfloat16 blocks whose width is a multiple of the vector (of D: full or 16 lanes): one
// accumulator vector per block, the rows read in order, one reduction per block at the end.
template <class D>
bool AbsMaxBlocksBf16(D d16, const uint16_t* src, uint64_t stride, uint64_t rows, uint64_t n, uint64_t group, float* acc) {
  const uint64_t N = hn::Lanes(d16);
  const uint64_t blocks = n / group;
  if (group % N != 0 || n % group != 0) return false;
  thread_local std::vector<uint16_t> accv;
  accv.assign(blocks * N, 0);
  const auto mag = hn::Set(d16, 0x7FFF);
  for (uint64_t r = 0; r < rows; ++r) {
    const uint16_t* row = src + r * stride;
    uint16_t* a = accv.data();
    for (uint64_t g = 0; g < blocks; ++g, a += N) {
      auto m0 = hn::LoadU(d16, a);
      auto m1 = hn::Zero(d16);
      uint64_t i = g * group;
      for (; i + 2 * N <= (g + 1) * group; i += 2 * N) {
        m0 = hn::Max(m0, hn::And(hn::LoadU(d16, row + i), mag));
        m1 = hn::Max(m1, hn::And(hn::LoadU(d16, row + i + N), mag));
      }
      if (i < (g + 1) * group) m1 = hn::Max(m1, hn::And(hn::LoadU(d16, row + i), mag));
      hn::StoreU(hn::Max(m0, m1), d16, a);
    }
  }
  for (uint64_t g = 0; g < blocks; ++g) {
    const uint32_t m = static_cast<uint32_t>(hn::GetLane(hn::MaxOfLanes(d16, hn::LoadU(d16, accv.data() + g * N)))) << 16;
    if (m > std::bit_cast<uint32_t>(acc[g])) acc[g] = std::bit_cast<float>(m);
  }
  return true;
}

bool AbsMaxBlocks(Fmt in, const void* src, uint64_t stride, uint64_t rows, uint64_t n, uint64_t group, float* acc) {
  if (in == Fmt::kBF16) {
    const auto* p = static_cast<const uint16_t*>(src);
    if (AbsMaxBlocksBf16(hn::ScalableTag<uint16_t>(), p, stride, rows, n, group, acc)) return true;
    if (AbsMaxBlocksBf16(hn::CappedTag<uint16_t, 16>(), p, stride, rows, n, group, acc)) return true;  // NVFP4's 16
  }
  float m;
  const uint64_t es = static_cast<uint64_t>(fmt_bits(in)) / 8;
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t i = 0, g = 0; i < n; i += group, ++g) {
      if (!AbsMax(in, static_cast<const uint8_t*>(src) + (r * stride + i) * es, std::min(group, n - i), &m)) return false;
      if (std::bit_cast<uint32_t>(m) > std::bit_cast<uint32_t>(acc[g])) acc[g] = m;
    }
  return true;
}

// ---- packed integer codes (IntRowJob) -------------------------------------------------------
// One vector of elements [i, i + N): the words holding them loaded once, each lane's word picked
// by a table lookup and shifted by its own amount (variable shifts), masked, converted (codes are
// below 2^8, so the int->float conversion is exact) and combined with its group's zero and scale.
// N codes from the words at w: (code - z) * s in float32.
template <class Idx>
HWY_INLINE VF IntValues(const IntRowJob& j, uint64_t w, VF z, VF s, Idx idx, VU shifts, VU mask) {
  const DF df;
  const hn::RebindToSigned<DU> di;
  const VU v = hn::TableLookupLanes(hn::LoadU(DU(), j.words + w), idx);
  const VF q = hn::ConvertTo(df, hn::BitCast(di, hn::And(hn::Shr(v, shifts), mask)));
  return hn::Mul(hn::Sub(q, z), s);
}

template <int kOut>
void IntRowT(const IntRowJob& j) {
  const DF df;
  const DU du;
  const uint64_t N = hn::Lanes(df);
  const unsigned per = 32 / j.bits;
  HWY_ALIGN uint32_t idx_lanes[hn::MaxLanes(du)];
  HWY_ALIGN uint32_t shift_lanes[hn::MaxLanes(du)];
  for (size_t l = 0; l < N; ++l) {
    idx_lanes[l] = static_cast<uint32_t>(l / per);
    shift_lanes[l] = static_cast<uint32_t>((l % per) * j.bits);
  }
  const auto idx = hn::SetTableIndices(du, reinterpret_cast<const int32_t*>(idx_lanes));
  const VU shifts = hn::Load(du, shift_lanes);
  const VU mask = hn::Set(du, (1u << j.bits) - 1);
  const uint64_t step = N / per;  // words per vector
  uint64_t i = 0;
  if (N % per == 0 && j.g_idx) {  // activation order: each column's group gathered
    const hn::RebindToSigned<DU> di;
#if HWY_TARGET == HWY_AVX2
    // Up to 16 groups: zeros and scales held in two registers each, picked by two 8-lane
    // permutes and a blend on bit 3 of the group (gathers are slow on these CPUs).
    if (j.groups > 0 && j.groups <= 16) {
      alignas(32) float zt[16] = {}, st[16] = {};
      for (uint64_t g = 0; g < j.groups; ++g) zt[g] = j.zeros[g], st[g] = j.scales[g];
      const __m256 z0 = _mm256_load_ps(zt), z1 = _mm256_load_ps(zt + 8), s0 = _mm256_load_ps(st), s1 = _mm256_load_ps(st + 8);
      for (; i + N <= j.n; i += N) {
        const __m256i g = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(j.g_idx + i));
        const __m256 hi = _mm256_castsi256_ps(_mm256_slli_epi32(g, 28));  // sign bit = bit 3 of g
        const VF z{_mm256_blendv_ps(_mm256_permutevar8x32_ps(z0, g), _mm256_permutevar8x32_ps(z1, g), hi)};
        const VF s{_mm256_blendv_ps(_mm256_permutevar8x32_ps(s0, g), _mm256_permutevar8x32_ps(s1, g), hi)};
        Store<kOut>(df, IntValues(j, i / per, z, s, idx, shifts, mask), j.dst, i, false);
      }
    }
#endif
    for (; i + N <= j.n; i += N) {
      const auto g = hn::BitCast(di, hn::LoadU(du, j.g_idx + i));
      Store<kOut>(df, IntValues(j, i / per, hn::GatherIndex(df, j.zeros, g), hn::GatherIndex(df, j.scales, g), idx, shifts, mask), j.dst, i,
                  false);
    }
  } else if (N % per == 0 && j.group % N == 0) {  // whole groups: one zero and scale per run of vectors
    for (uint64_t g = 0; i + j.group <= j.n; ++g) {
      const VF z = hn::Set(df, j.zeros[g]), s = hn::Set(df, j.scales[g]);
      const uint64_t end = i + j.group;
      uint64_t w = i / per;
      if constexpr (kOut == kBF16) {  // bfloat16 two vectors at a time, as the other kernels
        for (; i + 2 * N <= end; i += 2 * N, w += 2 * step)
          StoreBf16x2<false>(df, IntValues(j, w, z, s, idx, shifts, mask), IntValues(j, w + step, z, s, idx, shifts, mask),
                             static_cast<uint16_t*>(j.dst) + i);
      }
      for (; i < end; i += N, w += step) Store<kOut>(df, IntValues(j, w, z, s, idx, shifts, mask), j.dst, i, false);
    }
  }
  const unsigned mask_s = (1u << j.bits) - 1;
  for (; i < j.n; ++i) {
    const uint32_t code = (j.words[i / per] >> (j.bits * (i % per))) & mask_s;
    const uint64_t g = j.g_idx ? j.g_idx[i] : i / j.group;
    encode_at(j.out, (static_cast<float>(code) - j.zeros[g]) * j.scales[g], j.dst, i);
  }
}

#if HWY_TARGET == HWY_AVX2
// 4-bit codes into bfloat16 on AVX2, which has no 16-bit permute: a group's 16 values as two
// 16-byte tables (their low and high bytes), looked up by pshufb in each 128-bit half and
// interleaved back into 16-bit values: ~13 instructions per 32 elements where the general
// kernel (word lookup, shifts, convert, subtract, multiply, rounding) takes ~50.
HWY_INLINE void GroupTablesAvx2(float z, float s, __m256i* tlo, __m256i* thi) {
  const DF df;
  const DU du;
  const VF vz = hn::Set(df, z), vs = hn::Set(df, s);
  const VF iota = hn::Load(df, kIotaF);
  const VF v0 = hn::Mul(hn::Sub(iota, vz), vs);
  const VF v1 = hn::Mul(hn::Sub(hn::Add(iota, hn::Set(df, 8.0f)), vz), vs);
  // Store<kBF16>'s rounding (and NaN, where there is one), codes 0..7 and 8..15, in the low 16
  // bits of each lane.
  VU r0 = RoundBf16Hi(hn::BitCast(du, v0)), r1 = RoundBf16Hi(hn::BitCast(du, v1));
  if (HWY_UNLIKELY(!hn::AllFalse(df, hn::Or(hn::IsNaN(v0), hn::IsNaN(v1))))) {
    r0 = FixNaNHi(v0, r0);
    r1 = FixNaNHi(v1, r1);
  }
  // packus per 128-bit half: entries 0-3, 8-11 | 4-7, 12-15; pshufb puts each half's low bytes
  // before its high bytes; one cross-lane dword permute each then yields both tables, repeated
  // in both halves for the in-lane lookups.
  const __m256i t = _mm256_packus_epi32(hn::ShiftRight<16>(r0).raw, hn::ShiftRight<16>(r1).raw);
  const __m256i split = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  const __m256i b = _mm256_shuffle_epi8(t, split);  // half 0: lo 0-3, lo 8-11, hi 0-3, hi 8-11; half 1 the same for 4-7, 12-15
  *tlo = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 0, 4, 1, 5));
  *thi = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(2, 6, 3, 7, 2, 6, 3, 7));
}

// 32 codes from 16 bytes (element 2m in the low nibble of byte m), looked up and stored.
HWY_INLINE void Int4x32Bf16Avx2(const uint8_t* p, __m256i tlo, __m256i thi, uint16_t* dst) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i m = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(b, m), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m);
  const __m256i c = _mm256_set_m128i(_mm_unpackhi_epi8(lo, hi), _mm_unpacklo_epi8(lo, hi));  // codes 0..15 | 16..31, a byte each
  const __m256i vl = _mm256_shuffle_epi8(tlo, c), vh = _mm256_shuffle_epi8(thi, c);
  const __m256i a = _mm256_unpacklo_epi8(vl, vh);  // elements 0..7 | 16..23
  const __m256i d = _mm256_unpackhi_epi8(vl, vh);  // elements 8..15 | 24..31
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_permute2x128_si256(a, d, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 16), _mm256_permute2x128_si256(a, d, 0x31));
}

// Activation order with up to 16 groups, 4-bit codes, any output: each word's 8 codes by a
// broadcast and per-lane shifts (no read past the row, so in-place rows take it too: they went
// to the scalar reference), zeros and scales picked from registers by g_idx (two 8-lane permutes
// and a blend on bit 3 each) instead of gathered.
template <int kOut>
void Int4ActOrderAvx2(const IntRowJob& j) {
  const DF df;
  alignas(32) float zt[16] = {}, st[16] = {};
  for (uint64_t g = 0; g < j.groups; ++g) zt[g] = j.zeros[g], st[g] = j.scales[g];
  const __m256 z0 = _mm256_load_ps(zt), z1 = _mm256_load_ps(zt + 8), s0 = _mm256_load_ps(st), s1 = _mm256_load_ps(st + 8);
  const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28), m = _mm256_set1_epi32(0xF);
  const auto value = [&](uint64_t i) {  // elements i .. i + 7 (i a multiple of 8: one word)
    uint32_t w;
    std::memcpy(&w, reinterpret_cast<const uint8_t*>(j.words) + i / 2, 4);
    const __m256 q = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(w)), shifts), m));
    const __m256i g = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(j.g_idx + i));
    const __m256 hi = _mm256_castsi256_ps(_mm256_slli_epi32(g, 28));  // sign bit = bit 3 of g
    const __m256 z = _mm256_blendv_ps(_mm256_permutevar8x32_ps(z0, g), _mm256_permutevar8x32_ps(z1, g), hi);
    const __m256 s = _mm256_blendv_ps(_mm256_permutevar8x32_ps(s0, g), _mm256_permutevar8x32_ps(s1, g), hi);
    return VF{_mm256_mul_ps(_mm256_sub_ps(q, z), s)};
  };
  uint64_t i = 0;
  if constexpr (kOut == kBF16)
    for (; i + 16 <= j.n; i += 16) StoreBf16x2<false>(df, value(i), value(i + 8), static_cast<uint16_t*>(j.dst) + i);
  for (; i + 8 <= j.n; i += 8) Store<kOut>(df, value(i), j.dst, i, false);
  const auto* bytes = reinterpret_cast<const uint8_t*>(j.words);
  for (; i < j.n; ++i) encode_at(j.out, (static_cast<float>((bytes[i / 2] >> (4 * (i % 2))) & 0xFu) - j.zeros[j.g_idx[i]]) * j.scales[j.g_idx[i]], j.dst, i);
}

// Reads only the row's own bytes (in-place rows are fine). False where it does not apply.
bool Int4RowBf16Avx2(const IntRowJob& j) {
  if (j.bits != 4 || j.g_idx || j.group == 0 || j.group % 32 != 0) return false;
  const auto* bytes = reinterpret_cast<const uint8_t*>(j.words);
  auto* dst = static_cast<uint16_t*>(j.dst);
  const uint64_t n = j.n, group = j.group;
  const float *zeros = j.zeros, *scales = j.scales;
  uint64_t i = 0;
  for (uint64_t g = 0; i < n; ++g) {
    const uint64_t end = std::min(n, i + group);
    __m256i tlo, thi;
    GroupTablesAvx2(zeros[g], scales[g], &tlo, &thi);
    for (; i + 32 <= end; i += 32) Int4x32Bf16Avx2(bytes + i / 2, tlo, thi, dst + i);
    for (; i < end; ++i) encode_at(j.out, (static_cast<float>((bytes[i / 2] >> (4 * (i % 2))) & 0xFu) - zeros[g]) * scales[g], dst, i);
  }
  return true;
}
#endif

bool RunIntRow(const IntRowJob& j) {
#if MOECKPT_AVX512
  switch (j.out) {
    case Fmt::kF32: if (Int4Row<kF32>(j)) return true; break;
    case Fmt::kBF16: if (Int4Row<kBF16>(j)) return true; break;
    case Fmt::kF16: if (Int4Row<kF16>(j)) return true; break;
    default: break;
  }
#elif HWY_TARGET == HWY_AVX2
  if (j.out == Fmt::kBF16 && Int4RowBf16Avx2(j)) return true;
  if (j.bits == 4 && j.g_idx && j.groups > 0 && j.groups <= 16) {
    switch (j.out) {
      case Fmt::kF32: Int4ActOrderAvx2<kF32>(j); return true;
      case Fmt::kBF16: Int4ActOrderAvx2<kBF16>(j); return true;
      case Fmt::kF16: Int4ActOrderAvx2<kF16>(j); return true;
      default: break;
    }
  }
#endif
  if (!j.padded) return false;  // the general path reads whole vectors past the row
  switch (j.out) {
    case Fmt::kF32: IntRowT<kF32>(j); return true;
    case Fmt::kBF16: IntRowT<kBF16>(j); return true;
    case Fmt::kF16: IntRowT<kF16>(j); return true;
    default: return false;
  }
}

#else
bool RunRow(const RowJob&) { return false; }
bool Nvfp4Bf16Row(const uint16_t*, uint64_t, float, uint8_t*, uint8_t*) { return false; }
bool RunIntRow(const IntRowJob&) { return false; }
bool AbsMax(Fmt, const void*, uint64_t, float*) { return false; }
bool GatherIntColumns(const void*, uint64_t, uint64_t, uint64_t, uint64_t, uint32_t*, uint64_t) { return false; }
bool TransposeAwqWords(const void*, uint64_t, uint64_t, uint64_t, uint64_t, const unsigned*, uint32_t*, uint64_t) { return false; }
bool GptqInt4Bf16(const void*, uint64_t, uint64_t, uint64_t, uint64_t, const float*, const float*, uint64_t, uint64_t, uint16_t*, uint64_t) { return false; }
bool AwqInt4Bf16(const void*, uint64_t, uint64_t, uint64_t, uint64_t, const unsigned*, const float*, const float*, uint64_t, uint64_t, uint16_t*, uint64_t) {
  return false;
}
bool AbsMaxBlocks(Fmt, const void*, uint64_t, uint64_t, uint64_t, uint64_t, float*) { return false; }
#endif

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace moeckpt::quant
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace moeckpt::quant {

HWY_EXPORT(RunRow);
HWY_EXPORT(Nvfp4Bf16Row);
HWY_EXPORT(AbsMax);
HWY_EXPORT(RunIntRow);
HWY_EXPORT(TargetName);
HWY_EXPORT(GatherIntColumns);
HWY_EXPORT(TransposeAwqWords);
HWY_EXPORT(AbsMaxBlocks);
HWY_EXPORT(GptqInt4Bf16);
HWY_EXPORT(AwqInt4Bf16);

void run_row(const RowJob& job) {
  if (!HWY_DYNAMIC_DISPATCH(RunRow)(job)) ref::run_row(job);
}

bool nvfp4_bf16_row(const uint16_t* src, uint64_t n, float global, uint8_t* scale_codes, uint8_t* codes) {
  return HWY_DYNAMIC_DISPATCH(Nvfp4Bf16Row)(src, n, global, scale_codes, codes);
}

void run_int_row(const IntRowJob& job) {
  if (!HWY_DYNAMIC_DISPATCH(RunIntRow)(job)) ref::run_int_row(job);
}

float absmax(Fmt in, const void* src, uint64_t n) {
  float m;
  if (HWY_DYNAMIC_DISPATCH(AbsMax)(in, src, n, &m)) return m;
  return ref::absmax(in, src, n);
}

void gather_int_columns(const void* src, uint64_t words, uint64_t cols, uint64_t c0, uint64_t count, uint32_t* buf, uint64_t stride) {
  if (!HWY_DYNAMIC_DISPATCH(GatherIntColumns)(src, words, cols, c0, count, buf, stride)) ref::gather_int_columns(src, words, cols, c0, count, buf, stride);
}

void transpose_awq_words(const void* src, uint64_t k_len, uint64_t cols, uint64_t c0, uint64_t count, const unsigned nibble_of_row[8],
                         uint32_t* buf, uint64_t stride) {
  if (!HWY_DYNAMIC_DISPATCH(TransposeAwqWords)(src, k_len, cols, c0, count, nibble_of_row, buf, stride))
    ref::transpose_awq_words(src, k_len, cols, c0, count, nibble_of_row, buf, stride);
}

void absmax_blocks(Fmt in, const void* src, uint64_t stride, uint64_t rows, uint64_t n, uint64_t group, float* acc) {
  if (!HWY_DYNAMIC_DISPATCH(AbsMaxBlocks)(in, src, stride, rows, n, group, acc)) ref::absmax_blocks(in, src, stride, rows, n, group, acc);
}

bool gptq_int4_bf16(const void* src, uint64_t k_len, uint64_t cols, uint64_t r0, uint64_t count, const float* zeros, const float* scales,
                    uint64_t pstride, uint64_t group, uint16_t* dst, uint64_t dst_stride) {
  return HWY_DYNAMIC_DISPATCH(GptqInt4Bf16)(src, k_len, cols, r0, count, zeros, scales, pstride, group, dst, dst_stride);
}

bool awq_int4_bf16(const void* src, uint64_t k_len, uint64_t cols, uint64_t r0, uint64_t count, const unsigned nibble_of_row[8],
                   const float* zeros, const float* scales, uint64_t pstride, uint64_t group, uint16_t* dst, uint64_t dst_stride) {
  return HWY_DYNAMIC_DISPATCH(AwqInt4Bf16)(src, k_len, cols, r0, count, nibble_of_row, zeros, scales, pstride, group, dst, dst_stride);
}

// Target-independent: the kernel that reads it (Int4ActOrderPlanned) is AVX-512 only, and the
// plan is data, not code.
void plan_act_order(const uint32_t* g_idx, uint64_t n, uint64_t groups, ActOrderPlan& plan) {
  plan.low.clear();
  plan.masks.clear();
  if (groups == 0 || groups > 16) return;
  plan.low.resize(n);
  plan.masks.assign(2 * (n / 32 + 1), 0);
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t g = g_idx[i];
    plan.low[i] = static_cast<uint16_t>((g & 3u) << 4);
    if (g & 4u) plan.masks[2 * (i / 32)] |= 1u << (i % 32);
    if (g & 8u) plan.masks[2 * (i / 32) + 1] |= 1u << (i % 32);
  }
}

const char* simd_target() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

}  // namespace moeckpt::quant
#endif
