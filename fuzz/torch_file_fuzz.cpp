// Whole PyTorch zip files: the zip reader, the restricted unpickler and the tensor
// interpretation together; anything accepted must be readable within its storages.
#include <cstddef>
#include <cstdint>
#include <span>

#include "loader/error.h"
#include "loader/torch_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  try {
    auto f = moeckpt::parse_torch_file(file, "fuzz");
    std::vector<std::byte> scratch;
    for (const auto& s : f.storages) {
      try {
        moeckpt::read_torch_storage(file, s, "fuzz", scratch);
      } catch (const moeckpt::Error&) {
      }
    }
  } catch (const moeckpt::Error&) {
  }
  return 0;
}
