// Row kernels: the inner loops of dequantization, casting and quantization. Each element i of
// a row is decoded from `in` to float32, combined with its group's float32 scale in ONE
// float32 operation (x * s for dequantization, x / s for quantization), and rounded to `out`
// (nearest, ties to even; `saturate` clamps instead of overflowing). This is exactly what
// `q.to(torch.float32) * s` followed by `.to(dtype)` computes in PyTorch.
//
// run_row() uses SIMD (Highway, runtime dispatch: SSE4/AVX2/AVX-512 as the CPU allows) where a
// fast path exists and the scalar reference otherwise; ref::run_row() is the reference the
// tests hold every fast path equal to, bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "quant/codec.h"

namespace moeckpt::quant {

enum class ScaleOp : uint8_t { kNone, kMultiply, kDivide };

struct RowJob {
  Fmt in = Fmt::kF32;
  const void* src = nullptr;  // E2M1: packed, element 0 in the low nibble of byte 0
  uint64_t n = 0;             // elements (E2M1 rows start on a byte boundary)
  ScaleOp op = ScaleOp::kNone;
  const float* scales = nullptr;  // element i uses scales[i / group]
  uint64_t group = 0;
  Fmt out = Fmt::kF32;
  void* dst = nullptr;  // E2M1 output: n must be even
  bool saturate = false;
};

void run_row(const RowJob& job);

// NVFP4 (ModelOpt's two levels) of one bfloat16 row of n elements (a multiple of 16), many
// groups at a time: per 16-element group g, scale_codes[g] = e4m3fn(amax_g / (6 * global)),
// saturated (a block of zeros: e4m3fn(1)), and unless codes is null the packed E2M1 codes of
// x / (value(scale_codes[g]) * global), saturated: bit for bit what an amax pass and run_row's
// F32 -> E4M3FN and x / s -> E2M1 kernels give. Returns false where it does not apply (a NaN
// or Inf element, 6 * global or its reciprocal not a normal float, no SIMD target): the
// outputs are then unspecified and the caller takes the general path.
bool nvfp4_bf16_row(const uint16_t* src, uint64_t n, float global, uint8_t* scale_codes, uint8_t* codes);

// One row of packed integer codes (compressed-tensors pack-quantized, GPTQ and AWQ after their
// words are put in this order): `bits`-bit unsigned codes, 32/bits to a little-endian 32-bit
// word, element 0 in the low bits. Element i is (float32(code) - zeros[i / group]) *
// scales[i / group] in float32, rounded to `out` (F32, F16 or BF16): what PyTorch computes
// with `(q - z).float() * s.float()` and `.to(dtype)`. With g_idx (activation order), element i
// uses zeros[g_idx[i]] and scales[g_idx[i]] instead. `words` must stay readable kIntRowPad words
// past the row's last word (vector loads read whole registers).
inline constexpr uint64_t kIntRowPad = 16;

// Activation order prepared once per tensor (plan_act_order), for the 4-bit bfloat16 kernel
// with at most 16 groups: what it otherwise rebuilt from g_idx for every row. low[i] is
// (g_idx[i] & 3) << 4 (the group's place in a two-group register pair, beside the code);
// masks[2c] and masks[2c + 1] hold, bit L, whether g_idx[32c + L] has bit 2 / bit 3 set (which
// register pair). Empty (low.size() == 0) where that kernel does not apply.
struct ActOrderPlan {
  std::vector<uint16_t> low;
  std::vector<uint32_t> masks;
};
void plan_act_order(const uint32_t* g_idx, uint64_t n, uint64_t groups, ActOrderPlan& plan);

struct IntRowJob {
  const uint32_t* words = nullptr;
  unsigned bits = 4;  // 2, 4 or 8
  uint64_t n = 0;
  const float* zeros = nullptr;
  const float* scales = nullptr;
  uint64_t group = 1;
  Fmt out = Fmt::kF32;
  void* dst = nullptr;
  const uint32_t* g_idx = nullptr;  // n group indices, each below `groups`
  uint64_t groups = 0;              // zeros/scales held (0: unknown; needed by the g_idx fast path)
  bool padded = true;               // false: `words` is read in place, nothing past the row's words
  const ActOrderPlan* plan = nullptr;  // g_idx prepared by plan_act_order(g_idx, n, groups) (optional)
};

void run_int_row(const IntRowJob& job);

// GPTQ's qweight [words, cols] (I32, little-endian, any alignment): the words of columns
// [c0, c0 + count) transposed into rows, buf[b * stride + w] = element (w, c0 + b).
void gather_int_columns(const void* src, uint64_t words, uint64_t cols, uint64_t c0, uint64_t count, uint32_t* buf, uint64_t stride);
// AWQ's qweight [k_len, cols] of 4-bit codes: word (k, c) holds rows 8c..8c+7 of column k, row
// 8c+b in nibble nibble_of_row[b]. Rows 8*c0 .. 8*(c0 + count) are written in pack-quantized
// order (element k in nibble k % 8 of word k / 8): buf[(8 * (c - c0) + b) * stride + k / 8].
// buf must be zero where whole words are not written (k_len % 8 != 0).
void transpose_awq_words(const void* src, uint64_t k_len, uint64_t cols, uint64_t c0, uint64_t count, const unsigned nibble_of_row[8],
                         uint32_t* buf, uint64_t stride);

// GPTQ's and AWQ's 4-bit codes straight into bfloat16 rows: the word transposes above fused
// with the int4 kernel, so transposed words are decoded from registers instead of going through
// a row buffer. Not used by dequantize_int_rows: 2-6 x slower than the buffer path in the
// reference environment (they write 8 or 16 rows interleaved, 128 bytes at a time; bench/RESULTS.md
// "Round 4", BM_{Gptq,Awq}Words{Fused,Buffered}). Kept, with their tests, for that comparison. Output rows [r0, r0 + count) of the weight, k_len elements each; row r0 + b at
// dst + b * dst_stride (elements). Element k of row r0 + b is (code - z) * s with
// z = zeros[(k / group) * pstride + b], s = scales[likewise], rounded as run_int_row does.
// GPTQ: qweight [k_len / 8, cols] (cols = the weight's rows). AWQ: qweight [k_len, cols]
// (cols = rows / 8), r0 and count multiples of 8. Returns false, writing nothing, where this
// path does not apply (group % 32 != 0, k_len % group != 0, or no AVX-512): the caller then
// takes the buffer path. A call with count 0 answers whether it applies.
bool gptq_int4_bf16(const void* src, uint64_t k_len, uint64_t cols, uint64_t r0, uint64_t count, const float* zeros, const float* scales,
                    uint64_t pstride, uint64_t group, uint16_t* dst, uint64_t dst_stride);
bool awq_int4_bf16(const void* src, uint64_t k_len, uint64_t cols, uint64_t r0, uint64_t count, const unsigned nibble_of_row[8],
                   const float* zeros, const float* scales, uint64_t pstride, uint64_t group, uint16_t* dst, uint64_t dst_stride);

// acc[g] = max(acc[g], |x|) over block g of a rows x n matrix (row k at src + k * stride
// elements): block g is columns [g * group, min(n, (g + 1) * group)) of every row. Compared
// on magnitude bits, so NaN (above Inf) wins as in absmax(); acc starts at 0.
void absmax_blocks(Fmt in, const void* src, uint64_t stride, uint64_t rows, uint64_t n, uint64_t group, float* acc);

// max |x| over n elements of a float format; NaN if any element is NaN.
float absmax(Fmt in, const void* src, uint64_t n);

// The SIMD target run_row uses on this CPU, e.g. "AVX2": the label of the kernel benchmarks
// (bench/kernels_bench.cpp), and checked by the kernel tests.
const char* simd_target();

namespace ref {
void run_row(const RowJob& job);
void run_int_row(const IntRowJob& job);
float absmax(Fmt in, const void* src, uint64_t n);
void gather_int_columns(const void* src, uint64_t words, uint64_t cols, uint64_t c0, uint64_t count, uint32_t* buf, uint64_t stride);
void transpose_awq_words(const void* src, uint64_t k_len, uint64_t cols, uint64_t c0, uint64_t count, const unsigned nibble_of_row[8],
                         uint32_t* buf, uint64_t stride);
void absmax_blocks(Fmt in, const void* src, uint64_t stride, uint64_t rows, uint64_t n, uint64_t group, float* acc);
}  // namespace ref

}  // namespace moeckpt::quant
