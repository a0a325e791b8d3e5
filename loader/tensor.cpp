#include "loader/tensor.h"

namespace moeckpt {

std::optional<uint64_t> checked_numel(std::span<const uint64_t> shape) {
  uint64_t n = 1;
  for (uint64_t d : shape) {
    if (__builtin_mul_overflow(n, d, &n)) return std::nullopt;
  }
  return n;
}

std::optional<uint64_t> checked_nbytes(std::span<const uint64_t> shape, DType dtype) {
  auto n = checked_numel(shape);
  if (!n) return std::nullopt;
  uint64_t bits = 0;
  if (__builtin_mul_overflow(*n, static_cast<uint64_t>(dtype_bits(dtype)), &bits)) return std::nullopt;
  if (bits % 8 != 0) return std::nullopt;
  return bits / 8;
}

uint64_t numel(const TensorInfo& t) {
  uint64_t n = 1;
  for (uint64_t d : t.shape) n *= d;
  return n;
}

bool TensorInfo::is_contiguous() const {
  if (strides.empty()) return true;
  if (strides.size() != shape.size()) return false;
  int64_t expect = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1 && strides[i] != expect) return false;
    expect *= static_cast<int64_t>(shape[i]);
  }
  return true;
}

std::string shape_string(std::span<const uint64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace moeckpt
