// safetensors files: u64 little-endian N, N bytes of UTF-8 JSON, then the data buffer.
//
// The header is validated completely before any tensor is touched, with the rules of the
// reference implementation (and a few stricter ones; moeckpt-formats(7), SAFETENSORS FILES):
//  - N >= 0 fits in the file and is at most 100,000,000;
//  - the header is UTF-8 JSON, an object; "__metadata__", if present, maps strings to strings;
//  - every other key names a tensor: {"dtype": known name, "shape": [non-negative ints],
//    "data_offsets": [begin, end]}; unknown extra fields are ignored as the reference does;
//  - no name appears twice;
//  - product(shape) x dtype bits == 8 x (end - begin), computed without overflow;
//  - sorted by begin, the ranges tile the data buffer exactly: no overlap, no hole, and the
//    last one ends at the end of the file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loader/tensor.h"

namespace moeckpt {

inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

struct SafetensorsHeader {
  uint64_t header_size = 0;  // N
  uint64_t data_start = 0;   // 8 + N
  std::vector<TensorInfo> tensors;  // sorted by name; offsets are absolute in the file
  TensorArena names;                // what the tensors' names view
  bool has_metadata = false;
  std::vector<std::pair<std::string, std::string>> metadata;  // __metadata__, in file order
};

// Parses and validates the whole file image. Throws Error naming label (and the tensor
// where one is at fault) for the first rule broken. TensorInfo::file is set to file_index.
SafetensorsHeader parse_safetensors(std::span<const std::byte> file, std::string_view label,
                                    uint32_t file_index = 0);
// The same checks from the file's first bytes and its size (a remote file: only 8 + N bytes
// come over the network). head holds at least min(file_size, 8 + N) bytes; a head shorter than
// that is the file shrinking while read (kTruncated).
SafetensorsHeader parse_safetensors_head(std::span<const std::byte> head, uint64_t file_size, std::string_view label,
                                         uint32_t file_index = 0);

}  // namespace moeckpt
