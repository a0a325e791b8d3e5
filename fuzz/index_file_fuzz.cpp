// model.safetensors.index.json contents: parse_index accepts or throws Error; every shard
// path it accepts stays inside the directory.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "loader/error.h"
#include "loader/index_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto idx = moeckpt::parse_index(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    for (const auto& s : idx.shards)
      if (!moeckpt::shard_path_is_safe(s) || s.find("..") == 0) __builtin_trap();
  } catch (const moeckpt::Error&) {
  }
  return 0;
}
