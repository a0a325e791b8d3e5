// Tensor producers: how one output tensor's bytes are computed from the input checkpoint, a
// slice of rows at a time, from any thread (the shard writer calls them). Copy, dequantize (a
// QuantTensor from scan_quantized), cast element by element, quantize (codes or scales).
#pragma once

#include <memory>

#include "loader/checkpoint.h"
#include "loader/write_plan.h"
#include "quant/codec.h"
#include "quant/quantize.h"
#include "quant/scheme.h"

namespace moeckpt::quant {

// The input tensor's bytes unchanged (copied in the kernel when the input is a safetensors
// file; gathered from its storage for PyTorch files).
std::shared_ptr<const TensorProducer> make_copy_producer(const Checkpoint& in, const TensorInfo& t);
// The dequantized tensor q.name, q.shape in format `out` (F32, F16 or BF16).
std::shared_ptr<const TensorProducer> make_dequant_producer(const Checkpoint& in, QuantTensor q, Fmt out);
// t converted element by element to `to`; `saturate` clamps values beyond its range.
std::shared_ptr<const TensorProducer> make_cast_producer(const Checkpoint& in, const TensorInfo& t, Fmt to, bool saturate);

enum class QuantizePart : uint8_t { kCodes, kScales, kScale2 };  // kScale2: NVFP4's weight_scale_2
// One part of quantizing weight t (F32/F16/BF16 [.., out, in]) to `target`'s layout.
std::shared_ptr<const TensorProducer> make_quantize_producer(const Checkpoint& in, const TensorInfo& t, QuantizeTarget target,
                                                             QuantizePart part);

}  // namespace moeckpt::quant
