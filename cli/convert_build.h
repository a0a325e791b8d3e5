// Building a ConvertPlan from an input checkpoint and the user's options.
#pragma once

#include <optional>
#include <string>

#include "cli/convert_plan.h"
#include "loader/checkpoint.h"
#include "mapping/rules.h"

namespace moeckpt::cli {

struct ConvertOptions {
  std::string input, output;
  std::optional<DType> dequant;   // --dequant bf16|f16|f32
  std::optional<DType> cast;      // --cast DTYPE
  std::string quantize;           // --quantize fp8-block|mxfp4
  bool saturate = false;
  std::string rules;              // --rules FILE
  std::string arch;               // --arch NAME
  std::string rename;             // --rename engine
  std::string only, exclude;      // regexes on input names
  uint64_t max_shard_size = 5'000'000'000;
  unsigned threads = 0;
  bool dry_run = false, resume = false, overwrite = false;
  unsigned worker_index = 0, worker_count = 1;  // --worker I/N, 0-based index
  std::string finalize;           // --finalize OUT
};

// Plans the whole conversion. Throws Error (usage, input or unsupported) before anything is
// written.
ConvertPlan build_convert_plan(const Checkpoint& in, const ConvertOptions& options);

// The files of IN other than weights, indexes and config.json (tokenizer, generation config...).
std::vector<CopiedFile> files_to_copy(const Checkpoint& in);

// config.json as it should be after the conversion (quantization_config removed on dequant
// and rewritten on quantize, torch_dtype/dtype updated, DeepSeek V4's expert_dtype kept
// consistent with the experts written).
Json rewrite_config(const Json& config, const ConvertOptions& options, const ConvertPlan& plan);

}  // namespace moeckpt::cli
