// The quantization checks of validate, through quant/: every quantized weight has its scales,
// with the shape its block size implies; no scale lacks a weight; squeezed or flattened scales
// are reported; with --data, a scan of every tensor's values.
#pragma once

#include "cli/context.h"
#include "loader/checkpoint.h"
#include "loader/finding.h"
#include "mapping/arch_registry.h"

namespace moeckpt::cli {

struct QuantCheckResult {
  Findings findings;
  Json values = nullptr;  // with --data: per-tensor statistics (amax, NaN/Inf counts)
};

QuantCheckResult check_quantization(const Checkpoint& ck, const Json* config, const Architecture* arch, bool data,
                                    unsigned threads, const Context& ctx);

}  // namespace moeckpt::cli
