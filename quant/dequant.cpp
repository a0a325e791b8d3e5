#include "quant/dequant.h"

#include <cstring>
#include <vector>

#include "loader/error.h"
#include "quant/kernels.h"

namespace moeckpt::quant {
namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

Fmt scale_fmt(DType t) {
  if (t == DType::kU8) return Fmt::kE8M0;  // gpt-oss and some DeepSeek V4 files store e8m0 as U8
  auto f = fmt_of(t);
  if (!f) throw Error(Errc::kUnsupported, "scale", std::string("scale dtype ") + std::string(dtype_name(t)) + " cannot be decoded");
  return *f;
}

void decode_scales(const TensorInfo& t, std::span<const std::byte> bytes, uint64_t first, uint64_t count, std::vector<float>& out) {
  Fmt f = scale_fmt(t.dtype);
  out.resize(count);
  for (uint64_t k = 0; k < count; ++k) out[k] = decode_at(f, bytes.data(), first + k);
}

struct Dims {
  uint64_t out = 1, in = 1;  // the output matrix's rows per leading index, and columns
};

Dims dims(const QuantTensor& q) {
  Dims d;
  d.in = q.shape.empty() ? 1 : q.shape.back();
  d.out = q.shape.size() >= 2 ? q.shape[q.shape.size() - 2] : 1;
  return d;
}

}  // namespace

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
  const Dims d = dims(q);
  const uint64_t out_row_bytes = dequant_row_elems(q) * static_cast<uint64_t>(fmt_bits(out)) / 8;
  std::vector<float> scales;
  RowJob job;
  job.op = ScaleOp::kMultiply;
  job.out = out;
  switch (q.scheme) {
    case Scheme::kBlockFp8: {
      job.in = *fmt_of(q.weight->dtype);
      const uint64_t so = ceil_div(d.out, q.block_rows), si = ceil_div(d.in, q.block_cols);
      for (uint64_t r = r0; r < r1; ++r) {
        const uint64_t lead = r / d.out, o = r % d.out;
        decode_scales(*q.scale, in.scale, (lead * so + o / q.block_rows) * si, si, scales);
        job.src = in.weight.data() + r * d.in;
        job.n = d.in;
        job.scales = scales.data();
        job.group = q.block_cols;
        job.dst = dst + (r - r0) * out_row_bytes;
        run_row(job);
      }
      return;
    }
    case Scheme::kPerTensorFp8:
    case Scheme::kPerChannelFp8: {
      job.in = *fmt_of(q.weight->dtype);
      for (uint64_t r = r0; r < r1; ++r) {
        decode_scales(*q.scale, in.scale, r / q.block_rows, 1, scales);
        job.src = in.weight.data() + r * d.in;
        job.n = d.in;
        job.scales = scales.data();
        job.group = d.in;
        job.dst = dst + (r - r0) * out_row_bytes;
        run_row(job);
      }
      return;
    }
    case Scheme::kMxfp4Packed:
    case Scheme::kNvfp4: {
      if (d.in % 2) throw Error(Errc::kUnsupported, q.weight->name, "packed FP4 rows of odd length are not supported");
      job.in = Fmt::kE2M1;
      const uint64_t groups = ceil_div(d.in, q.block_cols);
      float global = 1.0f;
      if (q.scheme == Scheme::kNvfp4) global = decode_at(*fmt_of(q.scale2->dtype), in.scale2.data(), 0);
      for (uint64_t r = r0; r < r1; ++r) {
        decode_scales(*q.scale, in.scale, r * groups, groups, scales);
        if (q.scheme == Scheme::kNvfp4)
          for (float& s : scales) s = s * global;
        job.src = in.weight.data() + r * (d.in / 2);
        job.n = d.in;
        job.scales = scales.data();
        job.group = q.block_cols;
        job.dst = dst + (r - r0) * out_row_bytes;
        run_row(job);
      }
      return;
    }
    case Scheme::kMxfp4GptOss: {
      // Stored [E, out, in/32, 16]; written [E, in, out]: dequantize each stored row, then
      // place it as a column.
      const uint64_t n_in = q.shape[1], n_out = q.shape[2], groups = n_in / 32;
      const uint64_t es = static_cast<uint64_t>(fmt_bits(out)) / 8;
      std::vector<std::byte> tmp(n_in * es);
      job.in = Fmt::kE2M1;
      for (uint64_t e = r0; e < r1; ++e) {
        std::byte* base = dst + (e - r0) * out_row_bytes;
        for (uint64_t o = 0; o < n_out; ++o) {
          const uint64_t row = e * n_out + o;
          decode_scales(*q.scale, in.scale, row * groups, groups, scales);
          job.src = in.weight.data() + row * groups * 16;
          job.n = n_in;
          job.scales = scales.data();
          job.group = 32;
          job.dst = tmp.data();
          run_row(job);
          for (uint64_t i = 0; i < n_in; ++i) std::memcpy(base + (i * n_out + o) * es, tmp.data() + i * es, es);
        }
      }
      return;
    }
  }
}

}  // namespace moeckpt::quant
