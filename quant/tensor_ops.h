// The tensor operations of a conversion: which output tensors the input's tensors become
// (copied, dequantized, cast, quantized), each with its producer, named as in the input
// (renaming comes later), and config.json as it must read afterwards.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "loader/checkpoint.h"
#include "loader/write_plan.h"
#include "quant/quantize.h"

namespace moeckpt::quant {

// At most one of dequant, cast and quantize.
struct TensorOps {
  std::optional<DType> dequant;            // BF16, F16 or F32: every quantized weight, scales folded in
  std::optional<DType> cast;               // every floating tensor, element by element
  std::optional<QuantizeTarget> quantize;  // linear weights (should_quantize)
  bool saturate = false;                   // cast: clamp to the target's largest finite value
};

struct OpsResult {
  std::vector<PlannedTensor> tensors;  // named as in IN
  std::vector<std::string> consumed;   // input tensors folded into others (scales) or dropped
  std::vector<std::string> notes;
  std::vector<std::string> unquantized;  // --quantize: modules of linear-like weights left as they are
};

// Throws Error: kQuantInvalid when a quantized weight's scales are missing or do not fit
// (dequant), kUsage when the input is already quantized (cast, quantize).
OpsResult plan_tensor_ops(const Checkpoint& in, const TensorOps& ops);

// The quantization_config written with `--quantize` codes of this target; `unquantized` are
// the modules it lists as ignored (compressed-tensors ignore, ModelOpt exclude_modules).
Json quantization_config_for(QuantizeTarget target, const std::vector<std::string>& unquantized = {});

// config.json after the ops: quantization_config removed on dequant and written on quantize,
// torch_dtype/dtype updated, DeepSeek V4's expert_dtype kept consistent with the experts.
Json config_after(const Json& config, const TensorOps& ops, const std::vector<std::string>& unquantized = {});

// Whether a file beside the weights is still true of the output: ModelOpt's hf_quant_config.json
// describes the quantization, so it goes when the weights are dequantized or re-quantized.
bool sidecar_survives(std::string_view name, const TensorOps& ops);

}  // namespace moeckpt::quant
