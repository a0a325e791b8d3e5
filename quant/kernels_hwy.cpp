// SIMD row kernels (see kernels.h). Compiled once per x86 target by Highway's foreach_target
// and chosen at run time, so one static binary is fast on any x86-64 CPU. The fast paths: FP8
// and E2M1 (unpacked in registers) and F32/BF16/F16 in; F32/BF16/F16 out (F16 through a small
// scalar step), and E4M3FN out for quantization. Anything else goes to the reference.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/kernels_hwy.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "quant/half.h"
#include "quant/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace moeckpt::quant {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET != HWY_SCALAR
using DF = hn::ScalableTag<float>;
using DU = hn::RebindToUnsigned<DF>;
using VF = hn::Vec<DF>;
using VU = hn::Vec<DU>;

constexpr int kF32 = 0, kF16 = 1, kBF16 = 2, kE4M3 = 3, kE5M2 = 4, kE4M3Z = 5, kE5M2Z = 6;

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
    code = hn::Or(code, sign);
    const hn::Rebind<uint8_t, DF> d8;
    const hn::RebindToSigned<DU> di;
    hn::StoreU(hn::DemoteTo(d8, hn::BitCast(di, code)), d8, static_cast<uint8_t*>(dst) + i);
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

template <int kIn, int kOut, int kOp>
void RowT(const RowJob& j) {
  const DF df;
  const uint64_t N = hn::Lanes(df);
  const uint64_t group = kOp == 0 ? std::max<uint64_t>(j.n, 1) : j.group;
  uint64_t i = 0;
  while (i < j.n) {
    const uint64_t end = std::min(j.n, (i / group + 1) * group);
    const float s = kOp == 0 ? 1.0f : j.scales[i / group];
    const VF vs = hn::Set(df, s);
    // E2M1 reads whole bytes: a group starting on an odd element goes to the tail.
    if (kIn != 7 || (i & 1) == 0) {
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

bool AbsMax(Fmt in, const void* src, uint64_t n, float* out) {
  switch (in) {
    case Fmt::kF32: *out = AbsMaxT<kF32>(src, n); return true;
    case Fmt::kF16: *out = AbsMaxT<kF16>(src, n); return true;
    case Fmt::kBF16: *out = AbsMaxT<kBF16>(src, n); return true;
    default: return false;
  }
}
#else
bool RunRow(const RowJob&) { return false; }
bool AbsMax(Fmt, const void*, uint64_t, float*) { return false; }
#endif

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace moeckpt::quant
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace moeckpt::quant {

HWY_EXPORT(RunRow);
HWY_EXPORT(AbsMax);
HWY_EXPORT(TargetName);

void run_row(const RowJob& job) {
  if (!HWY_DYNAMIC_DISPATCH(RunRow)(job)) ref::run_row(job);
}

float absmax(Fmt in, const void* src, uint64_t n) {
  float m;
  if (HWY_DYNAMIC_DISPATCH(AbsMax)(in, src, n, &m)) return m;
  return ref::absmax(in, src, n);
}

const char* simd_target() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

}  // namespace moeckpt::quant
#endif
