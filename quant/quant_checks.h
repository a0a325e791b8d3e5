// The quantization checks of validate: every quantized weight has its scales,
// with the shape its block size implies; no scale lacks a weight; squeezed or flattened scales
// are reported; with --data, a scan of every tensor's values.
#pragma once

#include "loader/checkpoint.h"
#include "loader/finding.h"

namespace moeckpt::quant {

struct QuantCheckResult {
  Findings findings;
  Json values = nullptr;  // with --data: per-tensor statistics (amax, NaN/Inf counts)
};

// config: config.json, if any. data: also scan values, on `threads` threads (0: all cores).
QuantCheckResult check_quantization(const Checkpoint& ck, const Json* config, bool data, unsigned threads);

}  // namespace moeckpt::quant
