#include "quant/int_dequant.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "loader/error.h"
#include "quant/kernels.h"
#include "quant/layouts.h"

namespace moeckpt::quant {
namespace {

// Word i of an I32 tensor's bytes (little-endian, as safetensors stores it). Read through memcpy:
// a tensor's data need not be 4-byte aligned in the file.
uint32_t word_at(std::span<const std::byte> b, uint64_t i) {
  uint32_t w;
  std::memcpy(&w, b.data() + 4 * i, 4);
  return w;
}

int64_t index_at(const TensorInfo& t, std::span<const std::byte> b, uint64_t i) {
  if (t.dtype == DType::kI64) {
    int64_t v;
    std::memcpy(&v, b.data() + 8 * i, 8);
    return v;
  }
  return static_cast<int32_t>(word_at(b, i));
}

// AWQ's GEMM packing puts column c of a group of eight in nibble kAwqNibble[c] of its word
// (the inverse of AutoAWQ's order [0, 2, 4, 6, 1, 3, 5, 7]).
constexpr unsigned kAwqNibble[8] = {0, 4, 1, 5, 2, 6, 3, 7};

class IntRows {
 public:
  IntRows(const QuantTensor& q, const DequantInput& in, Fmt out)
      : q_(q), in_(in), out_rows_(q.shape[0]), in_cols_(q.shape[1]), per_(32 / q.bits), mask_((1u << q.bits) - 1),
        groups_(in_cols_ / q.block_cols), row_words_(ceil_div(in_cols_, per_)), row_bytes_(in_cols_ * elem_bytes(out)) {
    job_.bits = q.bits;
    job_.n = in_cols_;
    job_.out = out;
    job_.groups = groups_;
    if (q.g_idx) {
      read_g_idx();
      plan_act_order(g_idx_.data(), in_cols_, groups_, plan_);
      job_.plan = &plan_;
    }
  }

  void run(uint64_t r0, uint64_t r1, std::byte* dst) {
    for (uint64_t n = r0; n < r1; ++n) {
      job_.padded = true;
      job_.words = row_words(n);
      const uint64_t b0 = n / kRowBlock * kRowBlock;
      if (params_first_ != b0) fill_params(b0, std::min(kRowBlock, out_rows_ - b0));
      job_.zeros = zeros_.data() + (n - b0) * groups_;
      job_.scales = scales_.data() + (n - b0) * groups_;
      job_.group = q_.block_cols;
      job_.g_idx = g_idx_.empty() ? nullptr : g_idx_.data();  // activation order: each column's own group
      job_.dst = dst + (n - r0) * row_bytes_;
      run_int_row(job_);
    }
  }

 private:
  void read_g_idx() {
    g_idx_.resize(in_cols_);
    for (uint64_t k = 0; k < in_cols_; ++k) {
      const int64_t g = index_at(*q_.g_idx, in_.g_idx, k);
      if (g < 0 || static_cast<uint64_t>(g) >= groups_)
        throw Error(Errc::kQuantInvalid, "g_idx", fmt::format("{}[{}] is {}, outside the {} groups of {}", q_.g_idx->name, k, g, groups_, q_.scale->name),
                    q_.g_idx->name);
      g_idx_[k] = static_cast<uint32_t>(g);
    }
  }

  // Row n's codes in pack-quantized order: in place where the kernel reads no further than the
  // row (4-bit codes, word-aligned data), else copied with the padding its vector loads need.
  const uint32_t* row_words(uint64_t n) {
    const uint64_t stride = row_words_ + kIntRowPad;
    if (q_.scheme == Scheme::kIntPacked) {
      const std::byte* row = in_.weight.data() + n * row_words_ * 4;
      job_.padded = q_.bits != 4 || reinterpret_cast<uintptr_t>(row) % alignof(uint32_t) != 0;
      if (!job_.padded) return reinterpret_cast<const uint32_t*>(row);
      buf_.assign(stride, 0);
      std::memcpy(buf_.data(), row, row_words_ * 4);
      return buf_.data();
    }
    // GPTQ and AWQ store a word's codes across output rows: a block of rows is unpacked in one
    // pass over the input (whole cache lines of words at a time), so each input word is read once.
    const uint64_t b0 = n / kRowBlock * kRowBlock;
    if (block_first_ != b0) fill_block(b0, std::min(kRowBlock, out_rows_ - b0));
    return buf_.data() + (n - b0) * stride;
  }

  static constexpr uint64_t kRowBlock = 128;  // 16 AWQ column words: one 64-byte line per k

  void fill_block(uint64_t b0, uint64_t rows) {
    const uint64_t stride = row_words_ + kIntRowPad;
    // Zeroed once: later blocks overwrite every word the kernel reads (stale bits past a row's
    // last element, or in the padding, are never used).
    if (buf_.size() != kRowBlock * stride) buf_.assign(kRowBlock * stride, 0);
    block_first_ = b0;
    const void* w = in_.weight.data();
    if (q_.scheme == Scheme::kGptq) return gather_int_columns(w, row_words_, out_rows_, b0, rows, buf_.data(), stride);  // [in/p, out]
    // AWQ [in, out/8]: a word holds 8 rows (the layout check makes rows a multiple of 8)
    transpose_awq_words(w, in_cols_, out_rows_ / 8, b0 / 8, rows / 8, kAwqNibble, buf_.data(), stride);
  }

  // Zeros and scales of rows [b0, b0 + rows), row by row (groups_ each): scales decoded a
  // block at a time (GPTQ's and AWQ's [groups, out] a run of rows per group), not one by one.
  void fill_params(uint64_t b0, uint64_t rows) {
    params_first_ = b0;
    zeros_.resize(rows * groups_);
    if (!block_zeros_int4(b0, rows))
      for (uint64_t r = 0; r < rows; ++r) row_zeros(b0 + r, zeros_.data() + r * groups_);
    if (q_.scheme == Scheme::kIntPacked) return decode_scales(*q_.scale, in_.scale, b0 * groups_, rows * groups_, scales_);
    scales_.resize(rows * groups_);
    for (uint64_t g = 0; g < groups_; ++g) {
      decode_scales(*q_.scale, in_.scale, g * out_rows_ + b0, rows, run_);
      for (uint64_t r = 0; r < rows; ++r) scales_[r * groups_ + g] = run_[r];
    }
  }

  // GPTQ's and AWQ's 4-bit zeros of a block, a group at a time: the group's words for these
  // rows are consecutive, so the int4 row kernel decodes them (code + 1 for GPTQ v1: code
  // minus a zero of -1, times 1, exact), then each row takes its own (AWQ: in nibble order).
  bool block_zeros_int4(uint64_t b0, uint64_t rows) {
    if (q_.scheme == Scheme::kIntPacked || q_.bits != 4 || rows % 8 != 0) return false;
    const bool gptq = q_.scheme == Scheme::kGptq;
    const uint64_t zrow = gptq ? q_.zero->shape[1] : out_rows_ / 8;  // words per group
    const float zero = gptq ? -1.0f : 0.0f, one = 1.0f;
    zwords_.assign(rows / 8 + kIntRowPad, 0);
    run_.resize(rows);
    for (uint64_t g = 0; g < groups_; ++g) {
      std::memcpy(zwords_.data(), in_.zero.data() + 4 * (g * zrow + b0 / 8), rows / 2);
      run_int_row({zwords_.data(), 4, rows, &zero, &one, rows, Fmt::kF32, run_.data()});
      for (uint64_t r = 0; r < rows; ++r) zeros_[r * groups_ + g] = run_[gptq ? r : (r & ~uint64_t{7}) | kAwqNibble[r % 8]];
    }
    return true;
  }

  void row_zeros(uint64_t n, float* zeros) const {
    for (uint64_t g = 0; g < groups_; ++g) {
      uint32_t z;
      if (q_.scheme == Scheme::kIntPacked) {  // [ceil(out/p), groups], packed along out; absent: symmetric
        z = q_.zero ? (word_at(in_.zero, (n / per_) * groups_ + g) >> (q_.bits * (n % per_))) & mask_ : 1u << (q_.bits - 1);
      } else if (q_.scheme == Scheme::kGptq) {  // [groups, out/p], stored minus one (GPTQ v1)
        z = ((word_at(in_.zero, g * q_.zero->shape[1] + n / per_) >> (q_.bits * (n % per_))) & mask_) + 1;
      } else {
        z = (word_at(in_.zero, g * (out_rows_ / 8) + n / 8) >> (4 * kAwqNibble[n % 8])) & 0xFu;
      }
      zeros[g] = static_cast<float>(z);
    }
  }

  const QuantTensor& q_;
  const DequantInput& in_;
  const uint64_t out_rows_, in_cols_, per_;
  const uint32_t mask_;
  const uint64_t groups_, row_words_, row_bytes_;
  IntRowJob job_;
  ActOrderPlan plan_;
  uint64_t block_first_ = UINT64_MAX;   // the first row fill_block unpacked into buf_
  uint64_t params_first_ = UINT64_MAX;  // the first row fill_params decoded
  std::vector<uint32_t> g_idx_, buf_, zwords_;
  std::vector<float> zeros_, scales_, run_;
};

}  // namespace

void dequantize_int_rows(const QuantTensor& q, const DequantInput& in, Fmt out, uint64_t r0, uint64_t r1, std::byte* dst) {
  IntRows(q, in, out).run(r0, r1, dst);
}

}  // namespace moeckpt::quant
