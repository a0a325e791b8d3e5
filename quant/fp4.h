// float4 e2m1 (OCP MX): S EE M, bias 1, values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}, no Inf or NaN.
// Packed two per byte with the FIRST element in the LOW nibble (transformers, vLLM and the
// OCP reference agree). Encoding saturates at ±6 as ml_dtypes does.
#pragma once

#include <cstdint>

#include "quant/minifloat.h"

namespace moeckpt::quant {

inline constexpr MiniFloat kE2M1{2, 1, 1, Specials::kNone};
inline constexpr float kE2M1Max = 6.0f;

// The 16 values in code order.
inline constexpr float kE2M1Values[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                          -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

inline uint8_t f32_to_e2m1(float x) { return static_cast<uint8_t>(minifloat_encode(kE2M1, x)); }

// Element i of a packed array.
inline uint8_t fp4_nibble(const uint8_t* packed, uint64_t i) {
  return (i & 1) ? static_cast<uint8_t>(packed[i >> 1] >> 4) : static_cast<uint8_t>(packed[i >> 1] & 0xF);
}
inline uint8_t fp4_pack(uint8_t first, uint8_t second) { return static_cast<uint8_t>((first & 0xF) | (second << 4)); }

}  // namespace moeckpt::quant
