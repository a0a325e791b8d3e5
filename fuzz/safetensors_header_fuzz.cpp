// Any byte string as a whole safetensors file: parse_safetensors must accept it or throw
// moeckpt::Error, never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <span>

#include "loader/error.h"
#include "loader/safetensors_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto h = moeckpt::parse_safetensors(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz");
    // What it accepts must be self-consistent: every tensor inside the file.
    for (const auto& t : h.tensors)
      if (t.offset > size || t.nbytes > size - t.offset) __builtin_trap();
  } catch (const moeckpt::Error&) {
  }
  return 0;
}
