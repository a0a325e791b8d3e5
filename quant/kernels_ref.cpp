// The scalar reference kernels: one element at a time through the codec. Slow and obviously
// right; the SIMD kernels (kernels_hwy.cpp) are tested against these.
#include <cmath>

#include "quant/kernels.h"

namespace moeckpt::quant::ref {

void run_row(const RowJob& j) {
  for (uint64_t i = 0; i < j.n; ++i) {
    float x = decode_at(j.in, j.src, i);
    if (j.op != ScaleOp::kNone) {
      float s = j.scales[i / j.group];
      x = j.op == ScaleOp::kMultiply ? x * s : x / s;
    }
    encode_at(j.out, x, j.dst, i, j.saturate);
  }
}

void run_int_row(const IntRowJob& j) {
  const unsigned per = 32 / j.bits;
  const uint32_t mask = (1u << j.bits) - 1;
  for (uint64_t i = 0; i < j.n; ++i) {
    const uint32_t code = (j.words[i / per] >> (j.bits * (i % per))) & mask;
    const uint64_t g = j.g_idx ? j.g_idx[i] : i / j.group;
    encode_at(j.out, (static_cast<float>(code) - j.zeros[g]) * j.scales[g], j.dst, i);
  }
}

float absmax(Fmt in, const void* src, uint64_t n) {
  float m = 0.0f;
  for (uint64_t i = 0; i < n; ++i) {
    float a = std::fabs(decode_at(in, src, i));
    if (a != a) return a;
    if (a > m) m = a;
  }
  return m;
}

}  // namespace moeckpt::quant::ref
