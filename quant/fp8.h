// float8 formats: e4m3fn (no Inf, S.1111.111 NaN, max 448), e5m2 (IEEE-like, max 57344) and
// their fnuz variants (bias one higher, no -0, 0x80 the only NaN; max 240 / 57344).
#pragma once

#include "quant/minifloat.h"

namespace moeckpt::quant {

inline constexpr MiniFloat kE4M3FN{4, 3, 7, Specials::kFn};
inline constexpr MiniFloat kE5M2{5, 2, 15, Specials::kIeee};
inline constexpr MiniFloat kE4M3FNUZ{4, 3, 8, Specials::kFnuz};
inline constexpr MiniFloat kE5M2FNUZ{5, 2, 16, Specials::kFnuz};

inline constexpr float kE4M3FNMax = 448.0f;

inline float e4m3fn_to_f32(uint8_t c) { return minifloat_decode(kE4M3FN, c); }
inline uint8_t f32_to_e4m3fn(float x, bool saturate = false) {
  return static_cast<uint8_t>(minifloat_encode(kE4M3FN, x, saturate));
}

}  // namespace moeckpt::quant
