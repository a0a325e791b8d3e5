// Checks of config.json alone (validate): types of the keys moeckpt reads, aliases resolved,
// ranges, divisibility over --tp/--ep, DeepSeek V4's expert_dtype, and the shape of
// quantization_config per method.
#pragma once

#include <cstdint>
#include <string>

#include "loader/config_file.h"
#include "loader/finding.h"
#include "mapping/arch_registry.h"

namespace moeckpt {

struct ParallelOptions {
  int64_t tp = 0;  // 0: not asked
  int64_t ep = 0;
};

// arch may be null (architecture unknown): the default aliases are used and only families'
// common keys are checked. moe_expected: whether the checkpoint has expert tensors (so a
// config without an expert count is an error even for an unknown architecture).
Findings check_config(const Json& config, const std::string& label, const Architecture* arch, bool moe_expected,
                      const ParallelOptions& parallel);

// The quantization_config checks alone (also used by convert before writing one).
Findings check_quantization_config(const Json& q, const std::string& label);

}  // namespace moeckpt
