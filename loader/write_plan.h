// The plan of a write: every output tensor (name, dtype, shape, the producer that computes its
// bytes), its shard, the index, config.json and the sidecar files copied beside them.
// Computing a plan reads no tensor data and is deterministic, so independent workers agree on
// it and a resumed run recognises the shards an earlier run finished. What the bytes are (a
// copy, a dequantization, ...) is the producers' business: the plan and the writer know nothing
// of number formats.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "loader/checkpoint.h"
#include "loader/safetensors_writer.h"

namespace moeckpt {

// Fills rows [r0, r1) of one output tensor. A "row" is the slicing unit the producer chooses
// (usually a slice of the first dimension); out holds exactly (r1 - r0) * row_bytes() bytes.
// produce() is called from several threads at once, for disjoint rows.
class TensorProducer {
 public:
  virtual ~TensorProducer() = default;
  virtual uint64_t rows() const = 0;
  virtual uint64_t row_bytes() const = 0;
  virtual void produce(uint64_t r0, uint64_t r1, std::span<std::byte> out) const = 0;
  // When set, the output is these bytes of the input file unchanged: the writer copies them in
  // the kernel instead of calling produce().
  virtual const TensorInfo* plain_copy() const { return nullptr; }
  virtual std::string describe() const = 0;  // "copy", "dequant fp8-block -> BF16", ...
  // Input tensors read, so the writer can drop them from the resident set when done.
  virtual std::vector<const TensorInfo*> inputs() const = 0;
};

struct PlannedTensor {
  WriterTensor out;    // final name, dtype, shape, bytes
  std::string source;  // the input tensor it is named after
  std::shared_ptr<const TensorProducer> producer;
};

struct ShardPlan {
  std::string name;             // model-00001-of-00003.safetensors or model.safetensors
  std::vector<size_t> tensors;  // indexes into WritePlan::tensors, in file order
  SafetensorsLayout layout;
};

struct CopiedFile {
  std::filesystem::path source;
  std::string name;
};

struct WritePlan {
  std::vector<PlannedTensor> tensors;  // sorted by output name
  std::vector<ShardPlan> shards;
  std::optional<Json> index;           // model.safetensors.index.json (several shards)
  std::optional<Json> config;          // config.json as written
  std::vector<CopiedFile> copies;      // tokenizer files and the like
  std::vector<std::string> notes;      // shared storages, dropped tensors, ... for the user
  std::vector<std::string> dropped;    // input tensors not written (scales consumed, filters)
  uint64_t total_bytes = 0;
};

using ShardMetadata = std::vector<std::pair<std::string, std::string>>;

// Greedy sharding in name order: a new shard when the next tensor would pass max_bytes (a
// tensor larger than max_bytes gets a shard of its own). Names shards as transformers does;
// one shard is "model.safetensors" without an index.
void assign_shards(WritePlan& plan, uint64_t max_bytes, const ShardMetadata& metadata);

// The shards worker `index` (0-based) of `count` writes: contiguous runs balanced by bytes.
std::vector<size_t> worker_shards(const WritePlan& plan, unsigned index, unsigned count);

// The __metadata__ every output shard carries: format=pt first, then every key of IN's files
// (the first file's value for a key wins), sorted.
ShardMetadata output_metadata(const Checkpoint& in);

// The files of IN other than weights, indexes and config.json (tokenizer, generation config...),
// by name; none when IN is a single weights file.
std::vector<CopiedFile> sidecar_files(const Checkpoint& in);

}  // namespace moeckpt
