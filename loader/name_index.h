// Finding tensors by name in a list of tensors without per-entry allocations: an open-addressed
// table of indices, built in one pass. Of several tensors with the same name it finds the first
// (as an unordered_map filled with emplace would), so callers keep their answers on checkpoints
// that hold a name twice.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "loader/tensor.h"

namespace moeckpt {

class TensorNameIndex {
 public:
  TensorNameIndex() = default;
  explicit TensorNameIndex(std::span<const TensorInfo> tensors);

  // The first tensor named `name`, or nullptr.
  const TensorInfo* find(std::string_view name) const;
  size_t size() const { return tensors_.size(); }

 private:
  std::span<const TensorInfo> tensors_;
  // Per slot: the upper 32 bits of the name's hash, then (index + 1) in the lower 32 bits;
  // 0 marks an empty slot.
  std::vector<uint64_t> slots_;
  uint64_t mask_ = 0;
};

}  // namespace moeckpt
