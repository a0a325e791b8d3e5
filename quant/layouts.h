// The quantized layouts as one table: every size computation of a scheme (group shape, how
// codes pack into bytes, the scale tensor's dtype and suffix) reads it, the way gguf-tools
// drives every size from one table of type features. Layout facts: moeckpt-formats(7),
// QUANTIZED LAYOUTS.
#pragma once

#include <cstdint>
#include <string_view>

#include "loader/dtype.h"
#include "quant/codec.h"
#include "quant/quantize.h"
#include "quant/scheme.h"

namespace moeckpt::quant {

inline constexpr uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
// Bytes of one element of a byte-aligned format (F32, F16, BF16, the FP8 formats).
inline uint64_t elem_bytes(Fmt f) { return static_cast<uint64_t>(fmt_bits(f)) / 8; }

// A scheme moeckpt reads: its name and the elements one scale covers by default (block FP8's
// block comes from quantization_config.weight_block_size when present; 0 = the whole row or
// tensor, decided by the scale's shape).
struct SchemeLayout {
  Scheme scheme;
  std::string_view name;  // "fp8-block", ... as printed and in --json
  uint64_t group_rows, group_cols;
};

inline constexpr uint64_t kFp8BlockDefault = 128;  // DeepSeek V3 / FineGrainedFP8
inline constexpr uint64_t kMxGroup = 32;           // OCP MX: 32 elements per e8m0 scale
inline constexpr uint64_t kNvfp4Group = 16;        // NVFP4: 16 elements per e4m3 scale

inline constexpr SchemeLayout kSchemeLayouts[] = {
    {Scheme::kBlockFp8, "fp8-block", kFp8BlockDefault, kFp8BlockDefault},
    {Scheme::kPerTensorFp8, "fp8-tensor", 0, 0},
    {Scheme::kPerChannelFp8, "fp8-channel", 1, 0},
    {Scheme::kMxfp4Packed, "mxfp4", 1, kMxGroup},
    {Scheme::kMxfp4GptOss, "mxfp4-gpt-oss", 1, kMxGroup},
    {Scheme::kNvfp4, "nvfp4", 1, kNvfp4Group},
    {Scheme::kNvfp4Ct, "nvfp4-ct", 1, kNvfp4Group},
    {Scheme::kIntPacked, "int-packed", 1, 0},
    {Scheme::kGptq, "gptq", 1, 0},
    {Scheme::kAwq, "awq", 1, 0},
};

const SchemeLayout& scheme_layout(Scheme s);

// A layout `convert --quantize` writes: codes and scales of one weight [.., out, in].
struct QuantizeLayout {
  QuantizeTarget target;
  std::string_view name;          // the --quantize value
  DType code_dtype;               // stored dtype of the codes
  unsigned code_bits;             // bits per code (two E2M1 codes share a U8)
  DType scale_dtype;
  std::string_view scale_suffix;  // replaces "weight" of W.weight
  uint64_t block_rows, block_cols;  // 0: the whole dimension (per tensor, per channel)
  std::string_view expert_dtype;  // DeepSeek V4's config.json expert_dtype for these experts ("": keep)
  std::string_view scale2_suffix = {};  // a second, per-tensor scale (NVFP4's weight_scale_2)
};

inline constexpr QuantizeLayout kQuantizeLayouts[] = {
    {QuantizeTarget::kFp8Block, "fp8-block", DType::kF8_E4M3, 8, DType::kF32, "weight_scale_inv", kFp8BlockDefault,
     kFp8BlockDefault, "fp8"},
    {QuantizeTarget::kMxfp4, "mxfp4", DType::kU8, 4, DType::kF8_E8M0, "scale", 1, kMxGroup, "fp4"},
    {QuantizeTarget::kFp8Tensor, "fp8-tensor", DType::kF8_E4M3, 8, DType::kF32, "weight_scale", 0, 0, ""},
    {QuantizeTarget::kFp8Channel, "fp8-channel", DType::kF8_E4M3, 8, DType::kF32, "weight_scale", 1, 0, ""},
    {QuantizeTarget::kNvfp4, "nvfp4", DType::kU8, 4, DType::kF8_E4M3, "weight_scale", 1, kNvfp4Group, "", "weight_scale_2"},
};

// The block [rows, cols] one scale of layout l covers in a matrix [out, in].
inline uint64_t block_rows_of(const QuantizeLayout& l, uint64_t out) { return l.block_rows ? l.block_rows : out; }
inline uint64_t block_cols_of(const QuantizeLayout& l, uint64_t in) { return l.block_cols ? l.block_cols : in; }

const QuantizeLayout& quantize_layout(QuantizeTarget t);

}  // namespace moeckpt::quant
