// The floating-point element formats quant/ reads and writes, as a runtime value, with the
// scalar element codec every kernel is checked against.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "loader/dtype.h"

namespace moeckpt::quant {

enum class Fmt : uint8_t { kF32, kF16, kBF16, kE4M3FN, kE5M2, kE4M3FNUZ, kE5M2FNUZ, kE8M0, kE2M1 };

// The format a tensor of this dtype holds; nullopt for integer, bool, complex, F64 and F6 types.
std::optional<Fmt> fmt_of(DType t);
DType dtype_of(Fmt f);
std::string_view fmt_name(Fmt f);
int fmt_bits(Fmt f);
// The largest finite value (Inf for F32).
float fmt_max(Fmt f);

// Element i of an array in format f (E2M1 packed two per byte, low nibble first).
float decode_at(Fmt f, const void* base, uint64_t i);
// Writes element i; for E2M1 the other nibble of the byte is kept.
void encode_at(Fmt f, float x, void* base, uint64_t i, bool saturate = false);

// All values of an 8-bit format by code (16 entries for E2M1); null for 16/32-bit formats.
const float* decode_table(Fmt f);

}  // namespace moeckpt::quant
