// Writing safetensors files: the header is computed up front from the tensors' dtypes and
// shapes, so every tensor's offset is known before any data is produced and tensors can be
// written in parallel, in any order, with pwrite.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "loader/dtype.h"

namespace moeckpt {

struct WriterTensor {
  std::string name;
  DType dtype = DType::kU8;
  std::vector<uint64_t> shape;
  uint64_t nbytes = 0;
};

struct SafetensorsLayout {
  std::string head;               // 8-byte length + JSON header padded with spaces to a multiple of 8
  std::vector<uint64_t> offsets;  // absolute offset of each tensor, in the order given
  uint64_t file_size = 0;
};

// Tensors are laid out in the order given. metadata becomes "__metadata__" (first key).
// Throws Error(kOverflow) when sizes do not fit in 64 bits, Error(kUsage) for a dtype
// safetensors cannot carry or a duplicate name.
SafetensorsLayout layout_safetensors(std::span<const WriterTensor> tensors,
                                     const std::vector<std::pair<std::string, std::string>>& metadata);

}  // namespace moeckpt
