// The plan of a conversion: every output tensor (name, dtype, shape, how it is produced), its
// shard, the index, the rewritten config.json and the other files to copy. Computing the plan
// reads no tensor data; it is deterministic, so independent workers (--worker I/N) agree on it
// and a resumed run can recognise the shards an earlier run finished.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "loader/checkpoint.h"
#include "loader/safetensors_writer.h"

namespace moeckpt::cli {

// Fills rows [r0, r1) of one output tensor. A "row" is the slicing unit the producer chooses
// (usually a slice of the first dimension); out holds exactly (r1 - r0) * row_bytes() bytes.
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
  // Input byte ranges read, so the runner can drop them from the page cache when done.
  virtual std::vector<const TensorInfo*> inputs() const = 0;
};

struct PlannedTensor {
  WriterTensor out;                 // final name, dtype, shape, bytes
  std::string source;               // the input tensor it is named after
  std::shared_ptr<const TensorProducer> producer;
};

struct ShardPlan {
  std::string name;              // model-00001-of-00003.safetensors or model.safetensors
  std::vector<size_t> tensors;   // indexes into ConvertPlan::tensors, in file order
  SafetensorsLayout layout;
  uint64_t data_bytes = 0;
};

struct CopiedFile {
  std::filesystem::path source;
  std::string name;
};

struct ConvertPlan {
  std::vector<PlannedTensor> tensors;  // sorted by output name
  std::vector<ShardPlan> shards;
  std::optional<Json> index;           // model.safetensors.index.json (several shards)
  std::optional<Json> config;          // the rewritten config.json
  std::vector<CopiedFile> copies;      // tokenizer files and the like
  std::vector<std::string> notes;      // shared storages, dropped tensors, ... for the user
  std::vector<std::string> dropped;    // input tensors not written (scales consumed, filters)
  uint64_t total_bytes = 0;
};

// Parses "5GB", "500MB", "1.5GiB", "1048576". Throws Error(kUsage).
uint64_t parse_size(const std::string& text);

// Greedy sharding in name order: a new shard when the next tensor would pass max_bytes (a
// tensor larger than max_bytes gets a shard of its own). Names shards as transformers does;
// one shard is "model.safetensors" without an index.
void assign_shards(ConvertPlan& plan, uint64_t max_bytes, const std::vector<std::pair<std::string, std::string>>& metadata);

// The shards worker `index` (0-based) of `count` writes: contiguous runs balanced by bytes.
std::vector<size_t> worker_shards(const ConvertPlan& plan, unsigned index, unsigned count);

}  // namespace moeckpt::cli
