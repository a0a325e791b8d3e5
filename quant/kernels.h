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

// max |x| over n elements of a float format; NaN if any element is NaN.
float absmax(Fmt in, const void* src, uint64_t n);

// The SIMD target run_row uses on this CPU, e.g. "AVX2": the label of the kernel benchmarks
// (bench/kernels_bench.cpp), and checked by the kernel tests.
const char* simd_target();

namespace ref {
void run_row(const RowJob& job);
float absmax(Fmt in, const void* src, uint64_t n);
}  // namespace ref

}  // namespace moeckpt::quant
