// The scalar reference kernels: one element at a time through the codec. Slow and obviously
// right; the SIMD kernels (kernels_hwy.cpp) are tested against these.
#include <bit>
#include <cmath>
#include <cstring>

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

namespace {
uint32_t word_at(const void* src, uint64_t i) {
  uint32_t w;
  std::memcpy(&w, static_cast<const uint8_t*>(src) + 4 * i, 4);
  return w;
}
}  // namespace

void gather_int_columns(const void* src, uint64_t words, uint64_t cols, uint64_t c0, uint64_t count, uint32_t* buf, uint64_t stride) {
  for (uint64_t b = 0; b < count; ++b)
    for (uint64_t w = 0; w < words; ++w) buf[b * stride + w] = word_at(src, w * cols + c0 + b);
}

void transpose_awq_words(const void* src, uint64_t k_len, uint64_t cols, uint64_t c0, uint64_t count, const unsigned nibble_of_row[8],
                         uint32_t* buf, uint64_t stride) {
  for (uint64_t c = c0; c < c0 + count; ++c)
    for (uint64_t k = 0; k < k_len; ++k) {
      const uint32_t word = word_at(src, k * cols + c);
      for (uint64_t b = 0; b < 8; ++b) {
        uint32_t& out = buf[(8 * (c - c0) + b) * stride + k / 8];
        const uint32_t shift = static_cast<uint32_t>(4 * (k % 8));
        out = (out & ~(0xFu << shift)) | (((word >> (4 * nibble_of_row[b])) & 0xFu) << shift);
      }
    }
}

void absmax_blocks(Fmt in, const void* src, uint64_t stride, uint64_t rows, uint64_t n, uint64_t group, float* acc) {
  const uint64_t es = static_cast<uint64_t>(fmt_bits(in)) / 8;
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t i = 0; i < n; ++i) {
      const uint32_t m = std::bit_cast<uint32_t>(decode_at(in, static_cast<const uint8_t*>(src) + r * stride * es, i)) & 0x7FFFFFFFu;
      if (m > std::bit_cast<uint32_t>(acc[i / group])) acc[i / group] = std::bit_cast<float>(m);
    }
}

}  // namespace moeckpt::quant::ref
