#include "loader/dtype.h"

#include <array>

namespace moeckpt {
namespace {

struct DTypeInfo {
  DType type;
  std::string_view name;
  int bits;
  bool is_float;
  bool in_safetensors;
};

constexpr std::array<DTypeInfo, kNumDTypes> kTable{{
    {DType::kBool, "BOOL", 8, false, true},
    {DType::kU8, "U8", 8, false, true},
    {DType::kI8, "I8", 8, false, true},
    {DType::kU16, "U16", 16, false, true},
    {DType::kI16, "I16", 16, false, true},
    {DType::kU32, "U32", 32, false, true},
    {DType::kI32, "I32", 32, false, true},
    {DType::kU64, "U64", 64, false, true},
    {DType::kI64, "I64", 64, false, true},
    {DType::kF16, "F16", 16, true, true},
    {DType::kBF16, "BF16", 16, true, true},
    {DType::kF32, "F32", 32, true, true},
    {DType::kF64, "F64", 64, true, true},
    {DType::kC64, "C64", 64, true, true},
    {DType::kF8_E4M3, "F8_E4M3", 8, true, true},
    {DType::kF8_E5M2, "F8_E5M2", 8, true, true},
    {DType::kF8_E8M0, "F8_E8M0", 8, true, true},
    {DType::kF4, "F4", 4, true, true},
    {DType::kF6_E2M3, "F6_E2M3", 6, true, true},
    {DType::kF6_E3M2, "F6_E3M2", 6, true, true},
    {DType::kF8_E4M3FNUZ, "F8_E4M3FNUZ", 8, true, false},
    {DType::kF8_E5M2FNUZ, "F8_E5M2FNUZ", 8, true, false},
}};

constexpr const DTypeInfo& info(DType t) { return kTable[static_cast<size_t>(t)]; }

static_assert([] {
  for (size_t i = 0; i < kTable.size(); ++i)
    if (static_cast<size_t>(kTable[i].type) != i) return false;
  return true;
}(), "kTable must be in enum order");

}  // namespace

int dtype_bits(DType t) { return info(t).bits; }
std::string_view dtype_name(DType t) { return info(t).name; }
bool dtype_is_float(DType t) { return info(t).is_float; }
bool dtype_in_safetensors(DType t) { return info(t).in_safetensors; }
bool dtype_is_fp8(DType t) {
  return t == DType::kF8_E4M3 || t == DType::kF8_E5M2 || t == DType::kF8_E4M3FNUZ || t == DType::kF8_E5M2FNUZ;
}

std::optional<DType> parse_dtype(std::string_view s) {
  for (const auto& e : kTable)
    if (e.name == s) return e.type;
  return std::nullopt;
}

std::optional<DType> parse_safetensors_dtype(std::string_view s) {
  auto t = parse_dtype(s);
  if (t && !dtype_in_safetensors(*t)) return std::nullopt;
  return t;
}

}  // namespace moeckpt
