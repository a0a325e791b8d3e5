#include "quant/producers.h"

#include <fmt/format.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "loader/error.h"
#include "quant/dequant.h"
#include "quant/kernels.h"
#include "quant/layouts.h"

namespace moeckpt::quant {
namespace {

class CopyProducer final : public TensorProducer {
 public:
  CopyProducer(const Checkpoint& in, const TensorInfo& t) : in_(in), t_(t) {}
  uint64_t rows() const override { return t_.nbytes; }
  uint64_t row_bytes() const override { return 1; }
  void produce(uint64_t r0, uint64_t r1, std::span<std::byte> out) const override {
    TensorBytes b = in_.bytes(t_);
    if (b.size() != t_.nbytes) throw Error(Errc::kTruncated, in_.file_label(t_.file), "tensor bytes changed size", t_.name);
    std::memcpy(out.data(), b.data() + r0, r1 - r0);
  }
  const TensorInfo* plain_copy() const override { return t_.storage < 0 ? &t_ : nullptr; }
  std::string describe() const override { return "copy"; }
  std::vector<const TensorInfo*> inputs() const override { return {&t_}; }

 private:
  const Checkpoint& in_;
  const TensorInfo& t_;
};

class DequantProducer final : public TensorProducer {
 public:
  DequantProducer(const Checkpoint& in, QuantTensor q, Fmt out) : in_(in), q_(std::move(q)), out_(out) {}
  uint64_t rows() const override { return dequant_rows(q_); }
  uint64_t row_bytes() const override { return dequant_row_elems(q_) * elem_bytes(out_); }
  void produce(uint64_t r0, uint64_t r1, std::span<std::byte> out) const override {
    const DequantBytes b = dequant_bytes(in_, q_);
    if (q_.shape_tensor) check_weight_shape();
    try {
      dequantize_rows(q_, b.input(), out_, r0, r1, out.data());
    } catch (const Error& e) {
      if (e.code() != Errc::kQuantInvalid) throw;
      throw Error(e.code(), in_.file_label(q_.weight->file), e.reason(), e.tensor().empty() ? q_.weight->name.str() : e.tensor());
    }
  }
  std::string describe() const override { return fmt::format("dequant {} -> {}", scheme_name(q_.scheme), dtype_name(dtype_of(out_))); }
  std::vector<const TensorInfo*> inputs() const override {
    std::vector<const TensorInfo*> v{q_.weight};
    for (const TensorInfo* t : {q_.scale, q_.scale2, q_.zero, q_.g_idx, q_.shape_tensor})
      if (t) v.push_back(t);
    return v;
  }

 private:
  // compressed-tensors' weight_shape is the unpacked [out, in]; packing that disagrees with it
  // would dequantize into the wrong shape.
  void check_weight_shape() const {
    const TensorInfo& t = *q_.shape_tensor;
    TensorBytes b = in_.bytes(t);
    int64_t v[2];
    for (int k = 0; k < 2; ++k) {
      if (t.dtype == DType::kI64) {
        std::memcpy(&v[k], b.data() + 8 * k, 8);
      } else {
        int32_t x;
        std::memcpy(&x, b.data() + 4 * k, 4);
        v[k] = x;
      }
    }
    if (v[0] != static_cast<int64_t>(q_.shape[0]) || v[1] != static_cast<int64_t>(q_.shape[1]))
      throw Error(Errc::kQuantInvalid, in_.file_label(t.file),
                  fmt::format("{} says [{}, {}] but {} packs {}", t.name, v[0], v[1], q_.weight->name, shape_string(q_.shape)), t.name);
  }

  const Checkpoint& in_;
  QuantTensor q_;
  Fmt out_;
};

// Element-wise format change; a "row" is one element, so slices split anywhere.
class CastProducer final : public TensorProducer {
 public:
  CastProducer(const Checkpoint& in, const TensorInfo& t, Fmt to, bool saturate)
      : in_(in), t_(t), from_(*fmt_of(t.dtype)), to_(to), saturate_(saturate) {}
  uint64_t rows() const override { return numel(t_); }
  uint64_t row_bytes() const override { return elem_bytes(to_); }
  void produce(uint64_t r0, uint64_t r1, std::span<std::byte> out) const override {
    TensorBytes b = in_.bytes(t_);
    RowJob job;
    job.in = from_;
    job.src = b.data() + r0 * elem_bytes(from_);
    job.n = r1 - r0;
    job.out = to_;
    job.dst = out.data();
    job.saturate = saturate_;
    run_row(job);
  }
  std::string describe() const override {
    return fmt::format("cast {} -> {}{}", dtype_name(t_.dtype), dtype_name(dtype_of(to_)), saturate_ ? " (saturating)" : "");
  }
  std::vector<const TensorInfo*> inputs() const override { return {&t_}; }

 private:
  const Checkpoint& in_;
  const TensorInfo& t_;
  Fmt from_, to_;
  bool saturate_;
};

MatrixView matrix(const TensorInfo& t, const TensorBytes& b) {
  MatrixView m{*fmt_of(t.dtype), b.data(), 1, 1, t.shape.back()};
  m.out = t.shape.size() >= 2 ? t.shape[t.shape.size() - 2] : 1;
  m.rows = numel(t) / m.in;
  return m;
}

// Codes: one row per matrix row. Scales: one row per block_rows matrix rows of each leading
// index, ceil(in / block_cols) scales each. Scale2: one float (NVFP4's weight_scale_2).
class QuantizeProducer final : public TensorProducer {
 public:
  QuantizeProducer(const Checkpoint& in, const TensorInfo& t, QuantizeTarget target, QuantizePart part)
      : in_(in), t_(t), layout_(quantize_layout(target)), part_(part), out_(t.shape.size() >= 2 ? t.shape[t.shape.size() - 2] : 1),
        b0_(block_rows_of(layout_, out_)), b1_(block_cols_of(layout_, t.shape.back())) {}
  uint64_t rows() const override {
    const uint64_t rows = numel(t_) / t_.shape.back();
    if (part_ == QuantizePart::kScale2) return 1;
    if (part_ == QuantizePart::kCodes || b0_ == 1) return rows;
    return rows / out_ * ceil_div(out_, b0_);
  }
  uint64_t row_bytes() const override {
    const uint64_t in = t_.shape.back();
    if (part_ == QuantizePart::kScale2) return 4;
    if (part_ == QuantizePart::kScales) return ceil_div(in, b1_) * static_cast<uint64_t>(dtype_bits(layout_.scale_dtype)) / 8;
    return in * layout_.code_bits / 8;
  }
  void produce(uint64_t r0, uint64_t r1, std::span<std::byte> out) const override {
    TensorBytes b = in_.bytes(t_);
    MatrixView m = matrix(t_, b);
    const bool scales = part_ == QuantizePart::kScales;
    try {
      switch (layout_.target) {
        case QuantizeTarget::kFp8Tensor: {  // one scale per matrix: computed once, not per slice
          const std::vector<float>& all = tensor_scales(m);
          if (scales) std::memcpy(out.data(), all.data() + r0, (r1 - r0) * sizeof(float));
          else fp8_block_quantize_with(m, b0_, b1_, all.data(), r0, r1, out.data());
          break;
        }
        case QuantizeTarget::kFp8Block:
        case QuantizeTarget::kFp8Channel:
          if (scales) fp8_block_scales(m, b0_, b1_, r0, r1, reinterpret_cast<float*>(out.data()));
          else fp8_block_quantize(m, b0_, b1_, r0, r1, out.data());
          break;
        case QuantizeTarget::kMxfp4:
          if (scales) mxfp4_scales(m, r0, r1, out.data());
          else mxfp4_quantize(m, r0, r1, out.data());
          break;
        case QuantizeTarget::kNvfp4: {
          const float global = global_scale(m);
          if (part_ == QuantizePart::kScale2) std::memcpy(out.data(), &global, 4);
          else if (scales) nvfp4_scales(m, global, r0, r1, out.data());
          else nvfp4_quantize(m, global, r0, r1, out.data());
          break;
        }
      }
    } catch (const Error& e) {
      throw Error(e.code(), in_.file_label(t_.file), e.reason(), t_.name);
    }
  }
  std::string describe() const override {
    return fmt::format("quantize {} -> {}{}", dtype_name(t_.dtype), layout_.name,
                       part_ == QuantizePart::kScales ? " (scales)" : part_ == QuantizePart::kScale2 ? " (global scale)" : "");
  }
  std::vector<const TensorInfo*> inputs() const override { return {&t_}; }

 private:
  // The whole weight's amax, read once per producer whichever thread asks first.
  float global_scale(const MatrixView& m) const {
    std::call_once(once_, [&] { global_ = nvfp4_global_scale(m); });
    return global_;
  }

  // Per-tensor FP8: every matrix's scale (one per leading index), likewise once.
  const std::vector<float>& tensor_scales(const MatrixView& m) const {
    std::call_once(once_, [&] {
      scales_.resize(m.rows / m.out);
      fp8_block_scales(m, b0_, b1_, 0, scales_.size(), scales_.data());
    });
    return scales_;
  }

  const Checkpoint& in_;
  const TensorInfo& t_;
  const QuantizeLayout& layout_;
  QuantizePart part_;
  uint64_t out_, b0_, b1_;
  mutable std::once_flag once_;
  mutable float global_ = 0.0f;
  mutable std::vector<float> scales_;
};

}  // namespace

std::shared_ptr<const TensorProducer> make_copy_producer(const Checkpoint& in, const TensorInfo& t) {
  return std::make_shared<CopyProducer>(in, t);
}

std::shared_ptr<const TensorProducer> make_dequant_producer(const Checkpoint& in, QuantTensor q, Fmt out) {
  return std::make_shared<DequantProducer>(in, std::move(q), out);
}

std::shared_ptr<const TensorProducer> make_cast_producer(const Checkpoint& in, const TensorInfo& t, Fmt to, bool saturate) {
  return std::make_shared<CastProducer>(in, t, to, saturate);
}

std::shared_ptr<const TensorProducer> make_quantize_producer(const Checkpoint& in, const TensorInfo& t, QuantizeTarget target,
                                                             QuantizePart part) {
  return std::make_shared<QuantizeProducer>(in, t, target, part);
}

}  // namespace moeckpt::quant
