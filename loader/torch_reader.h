// PyTorch checkpoints written by torch.save (the zip format of PyTorch >= 1.6): .bin, .pt, .pth.
//
// The archive holds <top>/data.pkl (the pickled object), <top>/data/<key> (raw storage bytes),
// <top>/version and <top>/byteorder. data.pkl is interpreted by moeckpt's restricted unpickler
// (loader/unpickler.h), which knows only the opcodes and globals a state dict needs and refuses
// everything else: nothing in the file is ever executed.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loader/tensor.h"

namespace moeckpt {

struct TorchStorage {
  std::string key;           // persistent id key, e.g. "0"
  DType dtype = DType::kU8;  // element type of the storage
  uint64_t nbytes = 0;       // uncompressed size of its zip entry
  uint64_t data_offset = 0;  // absolute offset of the entry's data in the file
  uint64_t stored_size = 0;  // size of the data in the file (== nbytes unless deflated)
  bool deflated = false;
  uint32_t crc32 = 0;
};

struct TorchFile {
  std::vector<TensorInfo> tensors;     // in the order the state dict lists them
  std::vector<TorchStorage> storages;  // TensorInfo::storage indexes this
  TensorArena arena;                   // the tensors' names and strides
};

// Parses the zip directory and data.pkl and returns every tensor of the (possibly nested)
// state dict; nested dicts give dotted names ("model.x"). Offsets are bounds-checked against
// the storages. Throws Error (kZip*, kPickle*, kTorchLegacyFormat, kTorchInvalid) naming label.
TorchFile parse_torch_file(std::span<const std::byte> file, std::string_view label, uint32_t file_index = 0);

// The bytes of one storage: a view into file when stored, else inflated into scratch.
// The CRC-32 of the entry is verified either way. Throws Error naming label.
std::span<const std::byte> read_torch_storage(std::span<const std::byte> file, const TorchStorage& storage,
                                              std::string_view label, std::vector<std::byte>& scratch);

}  // namespace moeckpt
