// What the loader knows of one tensor, whatever file format it came from.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loader/dtype.h"
#include "loader/shape.h"

namespace moeckpt {

// A tensor's name: a view of bytes its owner keeps (the checkpoint's TensorArena, or the
// caller's own strings), so that a million tensors cost no million heap strings. It cannot be
// made from a temporary std::string, whose bytes would be gone by the next line.
class TensorName : public std::string_view {
 public:
  constexpr TensorName() = default;
  constexpr TensorName(const char* s) : std::string_view(s) {}  // NOLINT: literals
  constexpr TensorName(std::string_view s) : std::string_view(s) {}  // NOLINT
  TensorName(const std::string& s) : std::string_view(s) {}  // NOLINT
  TensorName(std::string&&) = delete;
  std::string str() const { return std::string(*this); }
  TensorName substr(size_t pos, size_t n = npos) const { return TensorName(std::string_view::substr(pos, n)); }
  operator std::string() const { return str(); }  // NOLINT: a copy, where a string is kept
  friend std::string operator+(const std::string& a, TensorName b) { return a + b.str(); }
  friend std::string operator+(const char* a, TensorName b) { return a + b.str(); }
  friend std::string operator+(TensorName a, const std::string& b) { return a.str() + b; }
  friend std::string operator+(TensorName a, const char* b) { return a.str() + b; }
};

// Bytes that outlive the parse they came from: the names (and PyTorch strides) of the tensors
// of one file, copied out of its header into a few large blocks. Moving an arena keeps every
// view into it valid.
class TensorArena {
 public:
  TensorArena() = default;
  TensorArena(TensorArena&&) noexcept = default;
  TensorArena& operator=(TensorArena&&) noexcept = default;

  // The next block holds at least `bytes` (a reader that knows its total asks once).
  void reserve(size_t bytes);
  std::string_view keep(std::string_view s);
  std::span<const int64_t> keep(std::span<const int64_t> v);
  size_t bytes_held() const { return held_; }

 private:
  char* take(size_t n, size_t align);
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* at_ = nullptr;
  size_t left_ = 0;
  size_t held_ = 0;
};

struct TensorInfo {
  TensorName name;
  Shape shape;
  uint64_t nbytes = 0;     // bytes of the tensor's elements, stored contiguously
  // safetensors: absolute offset of the data in the file.
  // torch: byte offset of the first element inside its storage.
  uint64_t offset = 0;
  // torch: shape.size() element strides of a non-contiguous view (in the checkpoint's arena);
  // null means contiguous row-major.
  const int64_t* strides = nullptr;
  uint32_t file = 0;       // index into Checkpoint::files()
  int32_t storage = -1;    // torch: index into the file's storage table; -1 for safetensors
  DType dtype = DType::kU8;

  bool is_contiguous() const;
};

// Product of the dimensions; nullopt when it does not fit in 64 bits.
std::optional<uint64_t> checked_numel(std::span<const uint64_t> shape);
// numel x bits / 8; nullopt on overflow or when the bit count is not a whole number of bytes.
std::optional<uint64_t> checked_nbytes(std::span<const uint64_t> shape, DType dtype);
uint64_t numel(const TensorInfo& t);  // t.shape's product, which the loader already checked
// Whether these strides (one per dimension; null: none) lay the shape out row-major.
bool is_row_major(std::span<const uint64_t> shape, const int64_t* strides);
std::string shape_string(std::span<const uint64_t> shape);  // "[4, 64]"

}  // namespace moeckpt
