#include "quant/dequant.h"

#include "quant/layouts.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "loader/error.h"
#include "quant/int_dequant.h"
#include "quant/kernels.h"

namespace moeckpt::quant {
namespace {


Fmt scale_fmt(DType t) {
  if (t == DType::kU8) return Fmt::kE8M0;  // gpt-oss and some DeepSeek V4 files store e8m0 as U8
  auto f = fmt_of(t);
  if (!f) throw Error(Errc::kUnsupported, "scale", std::string("scale dtype ") + std::string(dtype_name(t)) + " cannot be decoded");
  return *f;
}

}  // namespace

void decode_scales(const TensorInfo& t, std::span<const std::byte> bytes, uint64_t first, uint64_t count, std::vector<float>& out) {
  Fmt f = scale_fmt(t.dtype);
  out.resize(count);
  if (const float* table = decode_table(f); table && f != Fmt::kE2M1) {  // 8-bit scales: one lookup each
    const auto* b = reinterpret_cast<const uint8_t*>(bytes.data()) + first;
    for (uint64_t k = 0; k < count; ++k) out[k] = table[b[k]];
    return;
  }
  if (f == Fmt::kF16 || f == Fmt::kBF16 || f == Fmt::kF32) {  // 16/32-bit scales: the row kernel, a vector at a time
    RowJob job;
    job.in = f;
    job.src = bytes.data() + first * static_cast<uint64_t>(fmt_bits(f)) / 8;
    job.n = count;
    job.out = Fmt::kF32;
    job.dst = out.data();
    run_row(job);
    return;
  }
  for (uint64_t k = 0; k < count; ++k) out[k] = decode_at(f, bytes.data(), first + k);
}

namespace {

// The same, each scale then multiplied by or divided by `global` in float32 (NVFP4's two-level
// scales), through the row kernel: decode and operation at vector speed, where a scalar
// division per block scale cost a third of the NVFP4 dequantization.
void decode_scales_with(const TensorInfo& t, std::span<const std::byte> bytes, uint64_t first, uint64_t count, ScaleOp op, float global,
                        std::vector<float>& out) {
  const Fmt f = scale_fmt(t.dtype);
  out.resize(count);
  RowJob job;
  job.in = f;
  job.src = bytes.data() + first * static_cast<uint64_t>(fmt_bits(f)) / 8;  // E2M1 scales do not exist
  job.n = count;
  job.op = op;
  job.scales = &global;
  job.group = std::max<uint64_t>(count, 1);
  job.out = Fmt::kF32;
  job.dst = out.data();
  run_row(job);
}

}  // namespace

namespace {

struct Dims {
  uint64_t out = 1, in = 1;  // the output matrix's rows per leading index, and columns
};

Dims dims(const QuantTensor& q) {
  Dims d;
  d.in = q.shape.empty() ? 1 : q.shape.back();
  d.out = q.shape.size() >= 2 ? q.shape[q.shape.size() - 2] : 1;
  return d;
}

// Writes rows [r0, r1) of one tensor to dst, one kernel call per stored row, in the layout of
// its scheme. The row job and the scale buffer are reused from row to row.
class RowDequantizer {
 public:
  RowDequantizer(const QuantTensor& q, const DequantInput& in, Fmt out, uint64_t r0, uint64_t r1, std::byte* dst)
      : q_(q), in_(in), d_(dims(q)), r0_(r0), r1_(r1), dst_(dst),
        out_row_bytes_(dequant_row_elems(q) * static_cast<uint64_t>(fmt_bits(out)) / 8) {
    job_.op = ScaleOp::kMultiply;
    job_.out = out;
  }

  // One scale per block_rows x block_cols block.
  void block_fp8() {
    job_.in = *fmt_of(q_.weight->dtype);
    const uint64_t so = ceil_div(d_.out, q_.block_rows), si = ceil_div(d_.in, q_.block_cols);
    for (uint64_t r = r0_; r < r1_; ++r) {
      const uint64_t lead = r / d_.out, o = r % d_.out;
      decode_scales(*q_.scale, in_.scale, (lead * so + o / q_.block_rows) * si, si, scales_);
      dequantize_row(in_.weight.data() + r * d_.in, d_.in, q_.block_cols, dst_ + (r - r0_) * out_row_bytes_);
    }
  }

  // One scale per block_rows rows: the whole tensor, one leading index, or one row.
  void per_tensor_or_channel_fp8() {
    job_.in = *fmt_of(q_.weight->dtype);
    for (uint64_t r = r0_; r < r1_; ++r) {
      decode_scales(*q_.scale, in_.scale, r / q_.block_rows, 1, scales_);
      dequantize_row(in_.weight.data() + r * d_.in, d_.in, d_.in, dst_ + (r - r0_) * out_row_bytes_);
    }
  }

  // Two E2M1 values per byte, one scale per block_cols values of a row; NVFP4 scales are
  // multiplied by the global weight_scale_2 first.
  void packed_fp4() {
    if (d_.in % 2) throw Error(Errc::kUnsupported, q_.weight->name, "packed FP4 rows of odd length are not supported");
    job_.in = Fmt::kE2M1;
    const uint64_t groups = ceil_div(d_.in, q_.block_cols);
    float global = 1.0f;
    if (q_.scale2) global = decode_at(*fmt_of(q_.scale2->dtype), in_.scale2.data(), 0);
    const ScaleOp op = q_.scheme == Scheme::kNvfp4 ? ScaleOp::kMultiply : q_.scheme == Scheme::kNvfp4Ct ? ScaleOp::kDivide : ScaleOp::kNone;
    for (uint64_t r = r0_; r < r1_; ++r) {
      if (op == ScaleOp::kNone) {
        decode_scales(*q_.scale, in_.scale, r * groups, groups, scales_);
      } else {
        decode_scales_with(*q_.scale, in_.scale, r * groups, groups, op, global, scales_);
      }
      dequantize_row(in_.weight.data() + r * (d_.in / 2), d_.in, q_.block_cols, dst_ + (r - r0_) * out_row_bytes_);
    }
  }

  // Stored [E, out, in/32, 16]; written [E, in, out]: dequantize each stored row, then place it
  // as a column. A row of the output is one whole expert.
  void mxfp4_gpt_oss() {
    const uint64_t n_in = q_.shape[1], n_out = q_.shape[2], groups = n_in / kMxGroup;
    const uint64_t es = elem_bytes(job_.out);
    std::vector<std::byte> tmp(n_in * es);
    job_.in = Fmt::kE2M1;
    for (uint64_t e = r0_; e < r1_; ++e) {
      std::byte* base = dst_ + (e - r0_) * out_row_bytes_;
      for (uint64_t o = 0; o < n_out; ++o) {
        const uint64_t stored = e * n_out + o;
        decode_scales(*q_.scale, in_.scale, stored * groups, groups, scales_);
        dequantize_row(in_.weight.data() + stored * groups * (kMxGroup / 2), n_in, kMxGroup, tmp.data());
        for (uint64_t i = 0; i < n_in; ++i) std::memcpy(base + (i * n_out + o) * es, tmp.data() + i * es, es);
      }
    }
  }

 private:
  // n elements from src through the kernel, element i scaled by scales_[i / group].
  void dequantize_row(const std::byte* src, uint64_t n, uint64_t group, std::byte* dst) {
    job_.src = src;
    job_.n = n;
    job_.scales = scales_.data();
    job_.group = group;
    job_.dst = dst;
    run_row(job_);
  }

  const QuantTensor& q_;
  const DequantInput& in_;
  const Dims d_;
  const uint64_t r0_, r1_;
  std::byte* const dst_;
  const uint64_t out_row_bytes_;
  RowJob job_;
  std::vector<float> scales_;  // the current row's, decoded
};

}  // namespace

DequantBytes dequant_bytes(const Checkpoint& ck, const QuantTensor& q) {
  auto opt = [&](const TensorInfo* t) { return t ? ck.bytes(*t) : TensorBytes{}; };
  return {ck.bytes(*q.weight), opt(q.scale), opt(q.scale2), opt(q.zero), opt(q.g_idx)};
}

uint64_t dequant_rows(const QuantTensor& q) {
  if (q.scheme == Scheme::kMxfp4GptOss) return q.shape[0];
  uint64_t n = 1;
  for (size_t i = 0; i + 1 < q.shape.size(); ++i) n *= q.shape[i];
  return n;
}

uint64_t dequant_row_elems(const QuantTensor& q) {
  if (q.scheme == Scheme::kMxfp4GptOss) return q.shape[1] * q.shape[2];
  return q.shape.empty() ? 1 : q.shape.back();
}

void dequantize_rows(const QuantTensor& q, const DequantInput& in, Fmt out, uint64_t r0, uint64_t r1, std::byte* dst) {
  RowDequantizer rows(q, in, out, r0, r1, dst);
  switch (q.scheme) {
    case Scheme::kBlockFp8: return rows.block_fp8();
    case Scheme::kPerTensorFp8:
    case Scheme::kPerChannelFp8: return rows.per_tensor_or_channel_fp8();
    case Scheme::kMxfp4Packed:
    case Scheme::kNvfp4:
    case Scheme::kNvfp4Ct: return rows.packed_fp4();
    case Scheme::kMxfp4GptOss: return rows.mxfp4_gpt_oss();
    case Scheme::kIntPacked:
    case Scheme::kGptq:
    case Scheme::kAwq: return dequantize_int_rows(q, in, out, r0, r1, dst);
  }
}

}  // namespace moeckpt::quant
