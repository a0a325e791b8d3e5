#include "cli/convert_ops.h"

#include <fmt/format.h>

#include <cstring>
#include <map>
#include <set>

#include "cli/convert_build.h"
#include "loader/error.h"
#include "quant/dequant.h"
#include "quant/kernels.h"
#include "quant/quantize.h"
#include "quant/scheme.h"

namespace moeckpt::cli {
namespace {

using quant::Fmt;

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
uint64_t elem_bytes(Fmt f) { return static_cast<uint64_t>(quant::fmt_bits(f)) / 8; }

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
  DequantProducer(const Checkpoint& in, quant::QuantTensor q, Fmt out) : in_(in), q_(std::move(q)), out_(out) {}
  uint64_t rows() const override { return quant::dequant_rows(q_); }
  uint64_t row_bytes() const override { return quant::dequant_row_elems(q_) * elem_bytes(out_); }
  void produce(uint64_t r0, uint64_t r1, std::span<std::byte> out) const override {
    TensorBytes w = in_.bytes(*q_.weight), s = in_.bytes(*q_.scale);
    TensorBytes s2 = q_.scale2 ? in_.bytes(*q_.scale2) : TensorBytes{};
    quant::dequantize_rows(q_, {w.span(), s.span(), s2.span()}, out_, r0, r1, out.data());
  }
  std::string describe() const override { return fmt::format("dequant {} -> {}", quant::scheme_name(q_.scheme), dtype_name(quant::dtype_of(out_))); }
  std::vector<const TensorInfo*> inputs() const override {
    std::vector<const TensorInfo*> v{q_.weight, q_.scale};
    if (q_.scale2) v.push_back(q_.scale2);
    return v;
  }

 private:
  const Checkpoint& in_;
  quant::QuantTensor q_;
  Fmt out_;
};

// Element-wise format change; a "row" is one element, so slices split anywhere.
class CastProducer final : public TensorProducer {
 public:
  CastProducer(const Checkpoint& in, const TensorInfo& t, Fmt to, bool saturate)
      : in_(in), t_(t), from_(*quant::fmt_of(t.dtype)), to_(to), saturate_(saturate) {}
  uint64_t rows() const override { return numel(t_); }
  uint64_t row_bytes() const override { return elem_bytes(to_); }
  void produce(uint64_t r0, uint64_t r1, std::span<std::byte> out) const override {
    TensorBytes b = in_.bytes(t_);
    quant::RowJob job;
    job.in = from_;
    job.src = b.data() + r0 * elem_bytes(from_);
    job.n = r1 - r0;
    job.out = to_;
    job.dst = out.data();
    job.saturate = saturate_;
    quant::run_row(job);
  }
  std::string describe() const override { return fmt::format("cast {} -> {}", dtype_name(t_.dtype), dtype_name(quant::dtype_of(to_))); }
  std::vector<const TensorInfo*> inputs() const override { return {&t_}; }

 private:
  const Checkpoint& in_;
  const TensorInfo& t_;
  Fmt from_, to_;
  bool saturate_;
};

quant::MatrixView matrix(const TensorInfo& t, const TensorBytes& b) {
  quant::MatrixView m{*quant::fmt_of(t.dtype), b.data(), 1, 1, t.shape.back()};
  m.out = t.shape.size() >= 2 ? t.shape[t.shape.size() - 2] : 1;
  m.rows = numel(t) / m.in;
  return m;
}

// The outputs of quantizing one weight: its codes (part 0) or its scales (part 1).
class QuantizeProducer final : public TensorProducer {
 public:
  QuantizeProducer(const Checkpoint& in, const TensorInfo& t, quant::QuantizeTarget target, bool scales)
      : in_(in), t_(t), target_(target), scales_(scales) {}
  uint64_t rows() const override {
    const uint64_t in = t_.shape.back(), rows = numel(t_) / in;
    if (target_ == quant::QuantizeTarget::kFp8Block && scales_) {
      const uint64_t out = t_.shape[t_.shape.size() - 2];
      return rows / out * ceil_div(out, 128);
    }
    return rows;
  }
  uint64_t row_bytes() const override {
    const uint64_t in = t_.shape.back();
    if (target_ == quant::QuantizeTarget::kFp8Block) return scales_ ? ceil_div(in, 128) * 4 : in;
    return scales_ ? in / 32 : in / 2;
  }
  void produce(uint64_t r0, uint64_t r1, std::span<std::byte> out) const override {
    TensorBytes b = in_.bytes(t_);
    quant::MatrixView m = matrix(t_, b);
    try {
      if (target_ == quant::QuantizeTarget::kFp8Block) {
        if (scales_) quant::fp8_block_scales(m, 128, 128, r0, r1, reinterpret_cast<float*>(out.data()));
        else quant::fp8_block_quantize(m, 128, 128, r0, r1, out.data());
      } else {
        if (scales_) quant::mxfp4_scales(m, r0, r1, out.data());
        else quant::mxfp4_quantize(m, r0, r1, out.data());
      }
    } catch (const Error& e) {
      throw Error(e.code(), in_.file_label(t_.file), e.reason(), t_.name);
    }
  }
  std::string describe() const override {
    return fmt::format("quantize {} -> {}{}", dtype_name(t_.dtype), target_ == quant::QuantizeTarget::kFp8Block ? "fp8-block" : "mxfp4",
                       scales_ ? " (scales)" : "");
  }
  std::vector<const TensorInfo*> inputs() const override { return {&t_}; }

 private:
  const Checkpoint& in_;
  const TensorInfo& t_;
  quant::QuantizeTarget target_;
  bool scales_;
};

void refuse_incomplete(const Checkpoint& in, const quant::QuantScan& scan) {
  for (const auto& f : scan.findings)
    if (f.severity == Severity::kError) throw Error(Errc::kQuantInvalid, f.file.empty() ? in.input() : f.file, f.message, f.tensor);
}

void plan_dequant(const Checkpoint& in, const ConvertOptions& opt, OpsResult& r) {
  quant::QuantScan scan = quant::scan_quantized(in);
  refuse_incomplete(in, scan);
  const Fmt to = *quant::fmt_of(*opt.dequant);
  std::map<std::string, const quant::QuantTensor*, std::less<>> by_weight;
  std::set<std::string, std::less<>> consumed;
  for (const auto& q : scan.tensors) {
    by_weight[q.weight->name] = &q;
    consumed.insert(q.scale->name);
    if (q.scale2) consumed.insert(q.scale2->name);
    for (auto* d : q.dropped) consumed.insert(d->name);
  }
  for (const auto& t : in.tensors()) {
    if (auto it = by_weight.find(t.name); it != by_weight.end()) {
      const quant::QuantTensor& q = *it->second;
      const uint64_t nbytes = quant::dequant_rows(q) * quant::dequant_row_elems(q) * elem_bytes(to);
      r.tensors.push_back({WriterTensor{q.name, *opt.dequant, q.shape, nbytes}, t.name, std::make_shared<DequantProducer>(in, q, to)});
      if (q.name != t.name) r.consumed.push_back(t.name);
      if (!q.note.empty()) r.notes.push_back(q.note);
      continue;
    }
    if (consumed.count(t.name)) {
      r.consumed.push_back(t.name);
      continue;
    }
    r.tensors.push_back({WriterTensor{t.name, t.dtype, t.shape, t.nbytes}, t.name, make_copy_producer(in, t)});
  }
  if (scan.tensors.empty()) r.notes.push_back("no quantized tensors found: every tensor copied unchanged");
}

void plan_cast(const Checkpoint& in, const ConvertOptions& opt, OpsResult& r) {
  quant::QuantScan scan = quant::scan_quantized(in);
  if (!scan.tensors.empty())
    throw Error(Errc::kUsage, in.input(),
                fmt::format("holds quantized weights ({} {}): --cast would drop their scales; use --dequant", quant::scheme_name(scan.tensors[0].scheme),
                            scan.tensors[0].weight->name));
  const Fmt to = *quant::fmt_of(*opt.cast);
  for (const auto& t : in.tensors()) {
    auto from = quant::fmt_of(t.dtype);
    bool castable = from && *from != Fmt::kE2M1 && *from != Fmt::kE8M0 && t.dtype != *opt.cast;
    if (castable) {
      WriterTensor w{t.name, *opt.cast, t.shape, numel(t) * elem_bytes(to)};
      r.tensors.push_back({w, t.name, std::make_shared<CastProducer>(in, t, to, opt.saturate)});
    } else {
      r.tensors.push_back({WriterTensor{t.name, t.dtype, t.shape, t.nbytes}, t.name, make_copy_producer(in, t)});
    }
  }
}

void plan_quantize(const Checkpoint& in, const ConvertOptions& opt, OpsResult& r) {
  quant::QuantScan scan = quant::scan_quantized(in);
  if (!scan.tensors.empty())
    throw Error(Errc::kUsage, in.input(), fmt::format("is already quantized ({} {}); --dequant it first", quant::scheme_name(scan.tensors[0].scheme), scan.tensors[0].weight->name));
  const auto target = opt.quantize == "mxfp4" ? quant::QuantizeTarget::kMxfp4 : quant::QuantizeTarget::kFp8Block;
  uint64_t skipped = 0;
  for (const auto& t : in.tensors()) {
    if (!quant::should_quantize(t.name, t.dtype, t.shape, target)) {
      if (target == quant::QuantizeTarget::kMxfp4 && quant::should_quantize(t.name, t.dtype, t.shape, quant::QuantizeTarget::kFp8Block)) ++skipped;
      r.tensors.push_back({WriterTensor{t.name, t.dtype, t.shape, t.nbytes}, t.name, make_copy_producer(in, t)});
      continue;
    }
    const std::string stem = t.name.substr(0, t.name.size() - 6);  // "....", keeps the dot
    auto codes = std::make_shared<QuantizeProducer>(in, t, target, false);
    auto scales = std::make_shared<QuantizeProducer>(in, t, target, true);
    std::vector<uint64_t> wshape = t.shape, sshape = t.shape;
    if (target == quant::QuantizeTarget::kFp8Block) {
      sshape[sshape.size() - 2] = ceil_div(sshape[sshape.size() - 2], 128);
      sshape.back() = ceil_div(sshape.back(), 128);
      r.tensors.push_back({WriterTensor{t.name, DType::kF8_E4M3, wshape, codes->rows() * codes->row_bytes()}, t.name, codes});
      r.tensors.push_back({WriterTensor{stem + "weight_scale_inv", DType::kF32, sshape, scales->rows() * scales->row_bytes()}, t.name, scales});
    } else {
      wshape.back() /= 2;
      sshape.back() /= 32;
      r.tensors.push_back({WriterTensor{t.name, DType::kU8, wshape, codes->rows() * codes->row_bytes()}, t.name, codes});
      r.tensors.push_back({WriterTensor{stem + "scale", DType::kF8_E8M0, sshape, scales->rows() * scales->row_bytes()}, t.name, scales});
    }
  }
  if (skipped) r.notes.push_back(fmt::format("{} linear weights left unquantized: MXFP4 needs rows that are a multiple of 32 long", skipped));
}

}  // namespace

std::shared_ptr<const TensorProducer> make_copy_producer(const Checkpoint& in, const TensorInfo& t) {
  return std::make_shared<CopyProducer>(in, t);
}

Json quantization_config_for(const std::string& scheme) {
  if (scheme == "fp8-block")
    return Json{{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"}, {"weight_block_size", {128, 128}}};
  if (scheme == "mxfp4") return Json{{"quant_method", "mxfp4"}};
  throw Error(Errc::kUsage, "--quantize", "unknown scheme '" + scheme + "' (fp8-block or mxfp4)");
}

OpsResult plan_tensor_ops(const Checkpoint& in, const ConvertOptions& opt) {
  OpsResult r;
  if (opt.dequant) {
    plan_dequant(in, opt, r);
  } else if (opt.cast) {
    plan_cast(in, opt, r);
  } else if (!opt.quantize.empty()) {
    plan_quantize(in, opt, r);
  } else {
    for (const auto& t : in.tensors()) r.tensors.push_back({WriterTensor{t.name, t.dtype, t.shape, t.nbytes}, t.name, make_copy_producer(in, t)});
  }
  // PyTorch files may share one storage between tensors (tied weights, views); safetensors
  // cannot, so each is written with its own bytes. Say which.
  std::map<std::pair<uint32_t, int32_t>, std::vector<std::string>> by_storage;
  for (const auto& t : in.tensors())
    if (t.storage >= 0) by_storage[{t.file, t.storage}].push_back(t.name);
  for (const auto& [k, names] : by_storage) {
    if (names.size() < 2) continue;
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    r.notes.push_back("tensors sharing one storage, each written with its own copy: " + list);
  }
  return r;
}

}  // namespace moeckpt::cli
