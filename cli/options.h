// Parsing option values that are more than a string: sizes, worker shares, dtypes, schemes.
// Each throws Error(kUsage) naming the option.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "loader/dtype.h"
#include "quant/quantize.h"

namespace moeckpt::cli {

// "5GB", "500MB", "1.5GiB", "1048576" (bytes; decimal and binary units, case-insensitive).
uint64_t parse_size(const std::string& text);
// "I/N" with 1 <= I <= N -> (I - 1, N).
std::pair<unsigned, unsigned> parse_worker(const std::string& text);

// `--worker auto`: the share from a scheduler's environment, (0-based index, count).
//   Slurm job array: (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP of
//     SLURM_ARRAY_TASK_COUNT (workers, when given, must agree);
//   Kubernetes Indexed Job: JOB_COMPLETION_INDEX of `workers` (--workers N, required).
// getenv is the environment lookup (std::getenv in the program).
using EnvLookup = const char* (*)(const char*);
std::pair<unsigned, unsigned> worker_from_environment(EnvLookup getenv, unsigned workers);
// bf16|f16|f32 (any case, and their long names); with fp8_ok also F8_E4M3 and F8_E5M2.
DType parse_target(const std::string& text, const char* flag, bool fp8_ok);
// fp8-block|mxfp4|fp8-tensor|fp8-channel|nvfp4.
quant::QuantizeTarget parse_quantize(const std::string& text);

}  // namespace moeckpt::cli
