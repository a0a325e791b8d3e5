// Placeholder until the zip reader and unpickler land (same session); refuses every file.
#include "loader/torch_reader.h"

#include "loader/error.h"

namespace moeckpt {
TorchFile parse_torch_file(std::span<const std::byte>, std::string_view label, uint32_t) {
  throw Error(Errc::kUnsupported, std::string(label), "PyTorch files are not supported yet");
}
std::span<const std::byte> read_torch_storage(std::span<const std::byte>, const TorchStorage&, std::string_view label,
                                              std::vector<std::byte>&) {
  throw Error(Errc::kUnsupported, std::string(label), "PyTorch files are not supported yet");
}
}  // namespace moeckpt
