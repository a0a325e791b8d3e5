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

// One row of packed integer codes (compressed-tensors pack-quantized, GPTQ and AWQ after their
// words are put in this order): `bits`-bit unsigned codes, 32/bits to a little-endian 32-bit
// word, element 0 in the low bits. Element i is (float32(code) - zeros[i / group]) *
// scales[i / group] in float32, rounded to `out` (F32, F16 or BF16): what PyTorch computes
// with `(q - z).float() * s.float()` and `.to(dtype)`. With g_idx (activation order), element i
// uses zeros[g_idx[i]] and scales[g_idx[i]] instead. `words` must stay readable kIntRowPad words
// past the row's last word (vector loads read whole registers).
inline constexpr uint64_t kIntRowPad = 16;
struct IntRowJob {
  const uint32_t* words = nullptr;
  unsigned bits = 4;  // 2, 4 or 8
  uint64_t n = 0;
  const float* zeros = nullptr;
  const float* scales = nullptr;
  uint64_t group = 1;
  Fmt out = Fmt::kF32;
  void* dst = nullptr;
  const uint32_t* g_idx = nullptr;  // n group indices, each below the number of zeros/scales
};

void run_int_row(const IntRowJob& job);

// max |x| over n elements of a float format; NaN if any element is NaN.
float absmax(Fmt in, const void* src, uint64_t n);

// The SIMD target run_row uses on this CPU, e.g. "AVX2": the label of the kernel benchmarks
// (bench/kernels_bench.cpp), and checked by the kernel tests.
const char* simd_target();

namespace ref {
void run_row(const RowJob& job);
void run_int_row(const IntRowJob& job);
float absmax(Fmt in, const void* src, uint64_t n);
}  // namespace ref

}  // namespace moeckpt::quant
