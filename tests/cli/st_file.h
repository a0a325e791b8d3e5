// A safetensors file built from (name, dtype, shape) triples with zeroed data: the checkpoints
// the validate tests need, written in a line each.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "test_util.h"

namespace moeckpt::testing {

struct StTensor {
  std::string name;
  std::string dtype = "BF16";
  std::vector<uint64_t> shape;
};

inline size_t st_dtype_bits(const std::string& d) {
  if (d == "F32" || d == "I32") return 32;
  if (d == "BF16" || d == "F16") return 16;
  if (d == "I64") return 64;
  if (d == "F4") return 4;
  return 8;
}

inline std::string st_file(const std::vector<StTensor>& ts) {
  nlohmann::json h = nlohmann::json::object();
  size_t off = 0;
  for (const auto& t : ts) {
    size_t n = st_dtype_bits(t.dtype);
    for (auto d : t.shape) n *= d;
    n /= 8;
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + n}}};
    off += n;
  }
  return safetensors_bytes(h.dump(), std::string(off, '\0'));
}

}  // namespace moeckpt::testing
