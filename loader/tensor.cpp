#include "loader/tensor.h"

#include <algorithm>
#include <cstring>

namespace moeckpt {

namespace {
constexpr size_t kArenaBlock = 64 * 1024;  // small files waste little; big ones reserve
}  // namespace

void TensorArena::reserve(size_t bytes) {
  if (bytes <= left_) return;
  blocks_.push_back(std::unique_ptr<char[]>(new char[bytes]));  // not zeroed: every byte is written before read
  at_ = blocks_.back().get();
  left_ = bytes;
  held_ += bytes;
}

char* TensorArena::take(size_t n, size_t align) {
  size_t pad = (align - reinterpret_cast<uintptr_t>(at_) % align) % align;
  if (!at_ || n + pad > left_) {
    reserve(std::max(n + align, kArenaBlock));
    pad = (align - reinterpret_cast<uintptr_t>(at_) % align) % align;
  }
  char* p = at_ + pad;
  at_ = p + n;
  left_ -= n + pad;
  return p;
}

std::string_view TensorArena::keep(std::string_view s) {
  if (s.empty()) return {};
  char* p = take(s.size(), 1);
  std::memcpy(p, s.data(), s.size());
  return {p, s.size()};
}

std::span<const int64_t> TensorArena::keep(std::span<const int64_t> v) {
  if (v.empty()) return {};
  auto* p = reinterpret_cast<int64_t*>(take(v.size_bytes(), alignof(int64_t)));
  std::memcpy(p, v.data(), v.size_bytes());
  return {p, v.size()};
}

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

bool TensorInfo::is_contiguous() const { return is_row_major(shape, strides); }

bool is_row_major(std::span<const uint64_t> shape, const int64_t* strides) {
  if (!strides) return true;
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
