// What inspect says about a checkpoint's quantization: the method and format the config
// declares, each scheme found in the tensors (how many weights, bits, group or block size,
// zero points, activation order) and which modules the config leaves unquantized.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loader/checkpoint.h"
#include "quant/moe_backend.h"
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
  std::optional<BackendFit> megamoe;         // when asked for: whether MegaMoE can run the experts
};

// `megamoe` (DeepSeek V4): the experts also checked against MegaMoE, from the same scan.
QuantSummary summarize_quantization(const Checkpoint& ck, bool megamoe = false);

}  // namespace moeckpt::quant
