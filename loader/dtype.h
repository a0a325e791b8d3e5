// Element types as safetensors spells them, plus the two fnuz float8 types that only PyTorch
// files can carry (safetensors has no name for them; moeckpt prints F8_E4M3FNUZ / F8_E5M2FNUZ).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace moeckpt {

enum class DType : uint8_t {
  kBool, kU8, kI8, kU16, kI16, kU32, kI32, kU64, kI64,
  kF16, kBF16, kF32, kF64, kC64,
  kF8_E4M3, kF8_E5M2, kF8_E8M0, kF4, kF6_E2M3, kF6_E3M2,
  kF8_E4M3FNUZ, kF8_E5M2FNUZ,
};

inline constexpr int kNumDTypes = 22;

// Bits per element (4 for F4, 6 for the F6 types).
int dtype_bits(DType t);
// The safetensors spelling, e.g. "BF16", "F8_E4M3".
std::string_view dtype_name(DType t);
// Parses a safetensors dtype string; nullopt for anything it does not know.
std::optional<DType> parse_safetensors_dtype(std::string_view s);
// Also accepts the fnuz names moeckpt prints for PyTorch files (used by --cast and rules).
std::optional<DType> parse_dtype(std::string_view s);
// Floating point (any width, including F8/F6/F4 and complex).
bool dtype_is_float(DType t);
bool dtype_is_fp8(DType t);
// Whether safetensors files may carry the type (false for the fnuz types).
bool dtype_in_safetensors(DType t);

}  // namespace moeckpt
