// Quantizing float tensors (F32/F16/BF16) to block FP8 (DeepSeek V3 / FineGrainedFP8 layout)
// and to MXFP4 (OCP MX: 32-element groups, e2m1 elements, e8m0 scales), a range of rows at a
// time.
//
// Block FP8: per block of b0 x b1, scale = amax / 448 in float32 (1 when the block is all
// zeros), q = e4m3fn(x / scale) saturated to +-448; the scale is written as
// `weight_scale_inv` (the multiplier dequantization applies).
// Per-tensor and per-channel FP8: block FP8 with the block the whole matrix or one row (scale
// = amax / 448), written as compressed-tensors float-quantized (`weight_scale`).
// NVFP4 (ModelOpt): weight_scale_2 = amax / (6 * 448) over the whole weight in float32; per 16
// elements of a row, the block scale e4m3(amax_block / (6 * weight_scale_2)) (1 for a block of
// zeros); element = e2m1(x / (float32(block scale) * weight_scale_2)), saturating at +-6.
// MXFP4: per group of 32 along the last dimension, shared exponent e = floor(log2(amax)) - 2
// (e2m1's largest exponent), clamped to e8m0's range; element = e2m1(x / 2^e), saturating at
// +-6; written as `weight` U8 [.., out, in/2] (first element in the low nibble) + `scale`
// F8_E8M0 [.., out, in/32] (the DeepSeek V4 expert layout).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "quant/codec.h"

namespace moeckpt::quant {

enum class QuantizeTarget : uint8_t { kFp8Block, kMxfp4, kFp8Tensor, kFp8Channel, kNvfp4 };

// Whether `--quantize` converts a tensor: a floating 2-D or 3-D `.weight` of a linear layer.
// Embeddings, norms, output heads and MoE routers stay as they are (as transformers' FP8
// quantizer leaves them); MXFP4 also needs the last dimension to be a multiple of 32.
bool should_quantize(std::string_view name, DType dtype, const std::vector<uint64_t>& shape, QuantizeTarget target);

struct MatrixView {
  Fmt fmt;                     // F32, F16 or BF16
  const std::byte* data;       // contiguous [lead..., out, in]
  uint64_t rows;               // product of every dimension but the last
  uint64_t out;                // rows per leading index (shape[-2], 1 for 1-D)
  uint64_t in;                 // shape[-1]
};

// Block FP8 scales of scale rows [s0, s1) (a scale row covers b0 rows of one leading index;
// there are lead * ceil(out/b0) of them), ceil(in/b1) floats each, into dst.
void fp8_block_scales(const MatrixView& m, uint64_t b0, uint64_t b1, uint64_t s0, uint64_t s1, float* dst);
// E4M3FN codes of matrix rows [r0, r1) into dst ((r1 - r0) * in bytes), each band's scales
// computed on the way (one pass per band and cache-sized tile: amax, then encode from cache).
void fp8_block_quantize(const MatrixView& m, uint64_t b0, uint64_t b1, uint64_t r0, uint64_t r1, std::byte* dst);
// The same with every scale row given (`scales` from fp8_block_scales of all scale rows): for
// blocks too large to stay in cache, such as per-tensor FP8, whose scale is computed once.
void fp8_block_quantize_with(const MatrixView& m, uint64_t b0, uint64_t b1, const float* scales, uint64_t r0, uint64_t r1, std::byte* dst);

// MXFP4 e8m0 scale codes of rows [r0, r1) (in/32 per row) and packed codes (in/2 per row).
void mxfp4_scales(const MatrixView& m, uint64_t r0, uint64_t r1, std::byte* dst);
void mxfp4_quantize(const MatrixView& m, uint64_t r0, uint64_t r1, std::byte* dst);

// NVFP4: the global weight_scale_2 of the whole matrix; block scale codes (E4M3, in/16 per row)
// and packed codes (in/2 per row) of rows [r0, r1).
float nvfp4_global_scale(const MatrixView& m);
void nvfp4_scales(const MatrixView& m, float global, uint64_t r0, uint64_t r1, std::byte* dst);
void nvfp4_quantize(const MatrixView& m, float global, uint64_t r0, uint64_t r1, std::byte* dst);

}  // namespace moeckpt::quant
