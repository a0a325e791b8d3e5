// What the loader knows of one tensor, whatever file format it came from.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "loader/dtype.h"

namespace moeckpt {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kU8;
  std::vector<uint64_t> shape;
  uint64_t nbytes = 0;     // bytes of the tensor's elements, stored contiguously
  uint32_t file = 0;       // index into Checkpoint::files()
  // safetensors: absolute offset of the data in the file.
  // torch: byte offset of the first element inside its storage.
  uint64_t offset = 0;
  int32_t storage = -1;    // torch: index into the file's storage table; -1 for safetensors
  std::vector<int64_t> strides;  // torch: element strides; empty means contiguous row-major

  bool is_contiguous() const;
};

// Product of the dimensions; nullopt when it does not fit in 64 bits.
std::optional<uint64_t> checked_numel(std::span<const uint64_t> shape);
// numel x bits / 8; nullopt on overflow or when the bit count is not a whole number of bytes.
std::optional<uint64_t> checked_nbytes(std::span<const uint64_t> shape, DType dtype);
uint64_t numel(const TensorInfo& t);  // t.shape's product, which the loader already checked
std::string shape_string(std::span<const uint64_t> shape);  // "[4, 64]"

}  // namespace moeckpt
