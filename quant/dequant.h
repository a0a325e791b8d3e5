// Dequantizing one quantized tensor (a QuantTensor from scan_quantized) to F32, F16 or BF16,
// a range of rows at a time so that callers can stream and split the work across threads.
// Every value is float32(q) times its float32 scale in one float32 multiply, then rounded to
// the target: what PyTorch computes with `q.float() * s` and `.to(dtype)`. NVFP4's block scale
// is float32(e4m3) * weight_scale_2 in float32 first, as ModelOpt defines it; compressed-tensors'
// is float32(e4m3) / weight_global_scale. Integer codes (int-packed, GPTQ, AWQ) are
// (code - zero) * scale in float32 (int_dequant.h).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "quant/codec.h"
#include "quant/scheme.h"

namespace moeckpt::quant {

struct DequantInput {
  std::span<const std::byte> weight, scale, scale2;  // the tensors' bytes, contiguous
  std::span<const std::byte> zero, g_idx;            // integer schemes (empty when absent)
};

// The output is `rows` rows of `row_elems` elements. A row is one matrix row for every scheme
// but gpt-oss MXFP4, whose row is one whole expert (its output [in, out] is the transpose of
// the stored [out, in]).
uint64_t dequant_rows(const QuantTensor& q);
uint64_t dequant_row_elems(const QuantTensor& q);

// The bytes of every tensor q reads, held for as long as the input views them.
struct DequantBytes {
  TensorBytes weight, scale, scale2, zero, g_idx;
  DequantInput input() const { return {weight.span(), scale.span(), scale2.span(), zero.span(), g_idx.span()}; }
};
DequantBytes dequant_bytes(const Checkpoint& ck, const QuantTensor& q);

// count scales of tensor t (bytes), from element first on, decoded to float32 into out.
void decode_scales(const TensorInfo& t, std::span<const std::byte> bytes, uint64_t first, uint64_t count, std::vector<float>& out);

// Writes rows [r0, r1) to dst ((r1 - r0) * row_elems elements of `out`).
void dequantize_rows(const QuantTensor& q, const DequantInput& in, Fmt out, uint64_t r0, uint64_t r1, std::byte* dst);

}  // namespace moeckpt::quant
