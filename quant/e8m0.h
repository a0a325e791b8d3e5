// e8m0 (OCP MX scale, "fnu"): 8 exponent bits, no sign, no mantissa; value 2^(code - 127),
// 0xFF is NaN, there is no zero. Encoding rounds to the nearest power of two (ties away from
// the smaller one, i.e. to even significand), and gives NaN for zero, negatives and overflow,
// as ml_dtypes does.
#pragma once

#include <cstdint>

#include "quant/minifloat.h"

namespace moeckpt::quant {

inline constexpr MiniFloat kE8M0{8, 0, 127, Specials::kE8m0};

inline float e8m0_to_f32(uint8_t c) { return minifloat_decode(kE8M0, c); }
inline uint8_t f32_to_e8m0(float x) { return static_cast<uint8_t>(minifloat_encode(kE8M0, x)); }

}  // namespace moeckpt::quant
