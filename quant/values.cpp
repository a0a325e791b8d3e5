#include "quant/values.h"

#include <cmath>

#include "loader/error.h"
#include "quant/dequant.h"
#include "quant/kernels.h"

namespace moeckpt::quant {

TensorValues::TensorValues(const Checkpoint& ck, const QuantScan& scan, const std::string& name, bool dequant) : ck_(ck) {
  if (dequant)
    for (const auto& q : scan.tensors)
      if (q.name == name || q.weight->name == name) q_ = &q;
  if (q_) {
    require_known_block(ck, scan, *q_);
    shape_ = q_->shape;
    rows_ = dequant_rows(*q_);
    row_elems_ = dequant_row_elems(*q_);
    return;
  }
  t_ = ck.find(name);
  if (!t_) throw Error(Errc::kTensorNotFound, ck.input(), "no tensor named '" + name + "'", name);
  if (!fmt_of(t_->dtype))
    throw Error(Errc::kUnsupported, ck.file_label(t_->file), std::string("values of ") + std::string(dtype_name(t_->dtype)) + " tensors are not decoded", name);
  shape_ = t_->shape;
  row_elems_ = shape_.empty() ? 1 : shape_.back();
  rows_ = row_elems_ == 0 ? 0 : numel(*t_) / row_elems_;
  if (t_->dtype == DType::kF4 && row_elems_ % 2) {  // packed rows must start on a byte
    row_elems_ = numel(*t_);
    rows_ = 1;
  }
}

void TensorValues::read(uint64_t r0, uint64_t r1, std::vector<float>& out) const {
  out.resize((r1 - r0) * row_elems_);
  if (q_) {
    const DequantBytes b = dequant_bytes(ck_, *q_);
    dequantize_rows(*q_, b.input(), Fmt::kF32, r0, r1, reinterpret_cast<std::byte*>(out.data()));
    return;
  }
  TensorBytes b = ck_.bytes(*t_);
  Fmt f = *fmt_of(t_->dtype);
  RowJob job;
  job.in = f;
  job.src = b.data() + r0 * row_elems_ * static_cast<uint64_t>(fmt_bits(f)) / 8;
  job.n = (r1 - r0) * row_elems_;
  job.out = Fmt::kF32;
  job.dst = out.data();
  run_row(job);
}

void Stats::add(const float* v, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    float x = v[i];
    ++count;
    if (std::isnan(x)) {
      ++nan;
      continue;
    }
    if (std::isinf(x)) {
      ++inf;
      continue;
    }
    if (x == 0.0f) ++zeros;
    sum += x;
    sum_sq += static_cast<double>(x) * x;
    if (x < min) min = x;
    if (x > max) max = x;
    float a = std::fabs(x);
    if (a > amax) amax = a;
  }
}

double Stats::mean() const {
  uint64_t finite = count - nan - inf;
  return finite ? sum / static_cast<double>(finite) : 0.0;
}

double Stats::std_dev() const {
  uint64_t finite = count - nan - inf;
  if (finite == 0) return 0.0;
  double m = mean();
  double var = sum_sq / static_cast<double>(finite) - m * m;
  return var > 0 ? std::sqrt(var) : 0.0;
}

}  // namespace moeckpt::quant
