// What inspect says about a checkpoint's quantization: the method and format the config
// declares, each scheme found in the tensors (how many weights, bits, group or block size,
// zero points, activation order) and which modules the config leaves unquantized.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loader/checkpoint.h"
#include "quant/quant_config.h"
#include "quant/scheme.h"

namespace moeckpt::quant {

struct SchemeSummary {
  Scheme scheme = Scheme::kBlockFp8;
  uint64_t weights = 0;
  unsigned bits = 0;                       // integer schemes; 0 otherwise
  std::vector<uint64_t> group_sizes;       // elements along a row one scale covers (sorted, distinct)
  std::vector<uint64_t> block;             // block FP8: [rows, cols]
  bool zero_points = false, act_order = false;
};

struct QuantSummary {
  QuantConfig config;
  std::vector<SchemeSummary> schemes;        // in Scheme order
  std::vector<std::string> ignored_modules;  // modules with a 2-D weight that the config ignores
  uint64_t errors = 0;                       // quantized tensors the scan refused
};

QuantSummary summarize_quantization(const Checkpoint& ck);
// The same from the checkpoint's quantization config and its scan (scan_quantized(ck, config)),
// for a caller that needs the scan too.
QuantSummary summarize_quantization(const Checkpoint& ck, QuantConfig config, const QuantScan& scan);

}  // namespace moeckpt::quant
