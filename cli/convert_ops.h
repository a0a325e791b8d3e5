// The tensor operations of a conversion: which output tensors the input's tensors become
// (copied, dequantized, cast, quantized) and the producers that compute them. The bridge
// between the convert pipeline and quant/.
#pragma once

#include <string>
#include <vector>

#include "cli/convert_plan.h"
#include "loader/checkpoint.h"

namespace moeckpt::cli {

struct ConvertOptions;

struct OpsResult {
  std::vector<PlannedTensor> tensors;  // named as in IN (renames come later)
  std::vector<std::string> consumed;   // input tensors folded into others (scales) or dropped
  std::vector<std::string> notes;
};

OpsResult plan_tensor_ops(const Checkpoint& in, const ConvertOptions& options);

// The quantization_config written by --quantize fp8-block|mxfp4.
Json quantization_config_for(const std::string& scheme);

// A producer that copies an input tensor's bytes unchanged (in the kernel when the input is a
// safetensors file; gathered from its storage for PyTorch files).
std::shared_ptr<const TensorProducer> make_copy_producer(const Checkpoint& in, const TensorInfo& t);

}  // namespace moeckpt::cli
