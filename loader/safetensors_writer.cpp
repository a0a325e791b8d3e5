#include "loader/safetensors_writer.h"

#include <nlohmann/json.hpp>

#include <unordered_set>

#include "loader/error.h"
#include "loader/tensor.h"

namespace moeckpt {

SafetensorsLayout layout_safetensors(std::span<const WriterTensor> tensors,
                                     const std::vector<std::pair<std::string, std::string>>& metadata) {
  using J = nlohmann::ordered_json;
  J header = J::object();
  J meta = J::object();
  for (const auto& [k, v] : metadata) meta[k] = v;
  header["__metadata__"] = meta;
  SafetensorsLayout l;
  l.offsets.reserve(tensors.size());
  std::unordered_set<std::string_view> seen;
  uint64_t cursor = 0;
  for (const auto& t : tensors) {
    if (!dtype_in_safetensors(t.dtype))
      throw Error(Errc::kUsage, t.name, std::string(dtype_name(t.dtype)) + " cannot be stored in safetensors");
    if (!seen.insert(t.name).second) throw Error(Errc::kUsage, t.name, "two output tensors have this name");
    auto n = checked_nbytes(t.shape, t.dtype);
    if (!n || *n != t.nbytes) throw Error(Errc::kOverflow, t.name, "shape and byte size disagree");
    uint64_t end = 0;
    if (__builtin_add_overflow(cursor, t.nbytes, &end)) throw Error(Errc::kOverflow, t.name, "output file over 2^64 bytes");
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {cursor, end}}};
    l.offsets.push_back(cursor);
    cursor = end;
  }
  std::string json = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  json.append((8 - json.size() % 8) % 8, ' ');
  const uint64_t n = json.size();
  l.head.resize(8);
  for (int i = 0; i < 8; ++i) l.head[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  l.head += json;
  for (auto& o : l.offsets) o += l.head.size();
  l.file_size = l.head.size() + cursor;
  return l;
}

}  // namespace moeckpt
