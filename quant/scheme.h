// Finding the quantized tensors of a checkpoint: which weight goes with which scales, under
// which scheme, and whether the scales fit. Reads names, dtypes and shapes only (no data).
//
// Schemes (moeckpt-formats(7), QUANTIZED WEIGHTS):
//   block FP8      W.weight F8 [.., out, in] + W.weight_scale_inv (or DeepSeek V4's float
//                  W.scale) F32/BF16 [.., ceil(out/b0), ceil(in/b1)]; block from
//                  quantization_config.weight_block_size, else 128x128
//   per-tensor FP8 W.weight F8 + W.weight_scale with one element (per leading index)
//   per-channel    W.weight F8 [.., out, in] + W.weight_scale [.., out] (or [.., out, 1])
//   MXFP4 packed   W.weight I8/U8 [.., out, in/2] (or F4 [.., out, in]) + W.scale / W.weight_scale
//                  F8_E8M0/U8 [.., out, in/32] (DeepSeek V4 experts)
//   MXFP4 gpt-oss  X_blocks U8 [E, out, in/32, 16] + X_scales U8 [E, out, in/32] -> X [E, in, out]
//   NVFP4          W.weight U8 [.., out, in/2] + W.weight_scale F8_E4M3 [.., out, in/16] +
//                  W.weight_scale_2 F32 (one element) (+ W.input_scale, dropped)  (ModelOpt)
//   NVFP4 (c-t)    W.weight_packed U8 [.., out, in/2] + W.weight_scale F8_E4M3 [.., out, in/16] +
//                  W.weight_global_scale F32 (one element, the DIVISOR) (+ W.input_global_scale)
//   int packed     W.weight_packed I32 [out, ceil(in/p)] (p = 32/bits codes a word) +
//                  W.weight_scale [out, groups] (+ W.weight_zero_point I32 [ceil(out/p), groups],
//                  W.weight_g_idx I32 [in], W.weight_shape [2])  (compressed-tensors pack-quantized)
//   GPTQ           W.qweight I32 [in/p, out] + W.qzeros I32 [groups, out/p] (zero - 1) +
//                  W.scales [groups, out] (+ W.g_idx I32 [in])
//   AWQ            W.qweight I32 [in, out/8] + W.qzeros I32 [groups, out/8] + W.scales [groups, out],
//                  eight codes a word in AWQ's interleaved column order
// Bits, group sizes and which modules are ignored come from quant_config.h.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "loader/checkpoint.h"
#include "loader/finding.h"
#include "quant/quant_config.h"

namespace moeckpt::quant {

enum class Scheme : uint8_t {
  kBlockFp8, kPerTensorFp8, kPerChannelFp8, kMxfp4Packed, kMxfp4GptOss, kNvfp4,
  kNvfp4Ct, kIntPacked, kGptq, kAwq,
};

std::string_view scheme_name(Scheme s);  // "fp8-block", "fp8-tensor", ...

struct QuantTensor {
  Scheme scheme = Scheme::kBlockFp8;
  TensorName name;                  // the dequantized tensor's name (W.weight, or X for gpt-oss):
                                    // the weight's own, or kept by the scan
  Shape shape;                      // its shape
  const TensorInfo* weight = nullptr;
  const TensorInfo* scale = nullptr;
  const TensorInfo* scale2 = nullptr;       // NVFP4 weight_scale_2
  std::vector<const TensorInfo*> dropped;   // input_scale and the like: meaningless once dequantized
  const TensorInfo* zero = nullptr;         // integer schemes: weight_zero_point / qzeros
  const TensorInfo* g_idx = nullptr;        // activation order: each input column's group
  const TensorInfo* shape_tensor = nullptr; // compressed-tensors weight_shape, checked when read
  unsigned bits = 0;                        // integer schemes: bits per code
  uint64_t block_rows = 1, block_cols = 1;  // rows x columns one scale covers (int: group size)
  std::string note;                         // how a non-canonical scale shape was read
};

struct QuantScan {
  std::vector<QuantTensor> tensors;  // sorted by weight name
  TensorArena names;                 // the names it made (GPTQ's W.qweight -> W.weight)
  // E-SCALE-SHAPE, E-SCALE-MISSING, E-SCALE-DTYPE, W-SCALE-FLATTENED, W-SCALE-ORPHAN ...
  Findings findings;
  // Why config.json's weight_block_size cannot be used ("" when it can, or is absent): block-FP8
  // weights are then found (and their scales checked against 128x128) but not dequantized.
  std::string block_size_invalid;
  // Whether every tensor in a quantized dtype has a scheme (dequantization can be complete).
  bool complete() const;
};

// Block size [rows, cols] from config.json's quantization_config.weight_block_size, 128x128
// when the key is absent (or null). A present value that is not two positive integers leaves
// the default in place and says why in `invalid`: nothing may be dequantized with a guess.
struct BlockSize {
  uint64_t rows = 128, cols = 128;
  std::string invalid;
};
BlockSize block_size_from_config(const Json* config);

QuantScan scan_quantized(const Checkpoint& ck);
// With the checkpoint's quantization config already read.
QuantScan scan_quantized(const Checkpoint& ck, const QuantConfig& config);
// The same scan handing each quantized tensor to `each` (in weight-name order, mostly) instead
// of keeping it in tensors: a summary needs no list (~500k entries at 1M tensors).
QuantScan scan_quantized(const Checkpoint& ck, const QuantConfig& config, const std::function<void(const QuantTensor&)>& each);

// Every tensor a quantized weight reads besides its codes (scales, zeros, g_idx, ...).
std::vector<const TensorInfo*> companions(const QuantTensor& q);

// Throws Error(kQuantInvalid) naming config.json when q is block FP8 and the scan's block size
// is unusable; the check every dequantization makes before it starts.
void require_known_block(const Checkpoint& ck, const QuantScan& scan, const QuantTensor& q);

}  // namespace moeckpt::quant
