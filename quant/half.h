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

// By fields rather than minifloat_decode: scale tensors are float16 and decoded one by one, and
// ldexp made that a library call per scale. Subnormals are man x 2^-24, exact in float32.
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
  if (exp == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (man << 13));  // Inf; NaN keeps sign and payload
  if (exp == 0) return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(static_cast<float>(man) * 0x1p-24f));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (man << 13));
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
