// bfloat16 and IEEE float16: exact widening to float32 and rounding from float32 to nearest,
// ties to even. NaN: bfloat16 gives the canonical quiet NaN with the input's sign (as torch and
// ml_dtypes do); float16 keeps the top payload bits (as numpy and torch do).
#pragma once

#include <bit>
#include <cstdint>

#include "quant/minifloat.h"

namespace moeckpt::quant {

inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

inline uint16_t f32_to_bf16(float x) {
  uint32_t u = std::bit_cast<uint32_t>(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) & 0x8000u) | 0x7FC0u;
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

inline constexpr MiniFloat kF16{5, 10, 15, Specials::kIeee};

inline float f16_to_f32(uint16_t h) {
  if ((h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0)  // NaN: keep sign and payload
    return std::bit_cast<float>((static_cast<uint32_t>(h & 0x8000u) << 16) | 0x7F800000u | ((h & 0x3FFu) << 13));
  return minifloat_decode(kF16, h);
}

inline uint16_t f32_to_f16(float x) {
  uint32_t u = std::bit_cast<uint32_t>(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) {
    uint32_t h = ((u >> 16) & 0x8000u) | 0x7C00u | ((u & 0x7FFFFFu) >> 13);
    if ((h & 0x3FFu) == 0) h |= 1;  // a payload that would truncate to Inf stays NaN
    return static_cast<uint16_t>(h);
  }
  return static_cast<uint16_t>(minifloat_encode(kF16, x));
}

}  // namespace moeckpt::quant
