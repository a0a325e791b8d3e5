#include "loader/name_index.h"

#include <functional>
#include <limits>
#include <stdexcept>

namespace moeckpt {

TensorNameIndex::TensorNameIndex(std::span<const TensorInfo> tensors) : tensors_(tensors) {
  if (tensors.size() >= std::numeric_limits<uint32_t>::max())
    throw std::length_error("TensorNameIndex: too many tensors");
  size_t cap = 16;
  while (cap < tensors.size() * 2) cap *= 2;  // load factor <= 1/2: short probe runs
  slots_.assign(cap, 0);
  mask_ = cap - 1;
  const std::hash<std::string_view> hash;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string_view name = tensors[i].name;
    const uint64_t h = hash(name);
    const uint64_t tag = h >> 32;
    for (uint64_t s = h & mask_;; s = (s + 1) & mask_) {
      const uint64_t v = slots_[s];
      if (v == 0) {
        slots_[s] = (tag << 32) | (i + 1);
        break;
      }
      // A name already present keeps its first tensor.
      if ((v >> 32) == tag && tensors[(v & 0xffffffffu) - 1].name == name) break;
    }
  }
}

const TensorInfo* TensorNameIndex::find(std::string_view name) const {
  if (slots_.empty()) return nullptr;
  const uint64_t h = std::hash<std::string_view>{}(name);
  const uint64_t tag = h >> 32;
  for (uint64_t s = h & mask_;; s = (s + 1) & mask_) {
    const uint64_t v = slots_[s];
    if (v == 0) return nullptr;
    if ((v >> 32) == tag) {
      const TensorInfo& t = tensors_[(v & 0xffffffffu) - 1];
      if (t.name == name) return &t;
    }
  }
}

}  // namespace moeckpt
