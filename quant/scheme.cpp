#include "quant/scheme.h"

#include "quant/layouts.h"

#include <fmt/format.h>

#include "loader/error.h"

#include <algorithm>
#include <set>

namespace moeckpt::quant {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) { return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix; }

bool is_float_scale(DType t) { return t == DType::kF32 || t == DType::kBF16 || t == DType::kF16; }


std::vector<uint64_t> squeezed(const std::vector<uint64_t>& s) {
  std::vector<uint64_t> r;
  for (auto d : s)
    if (d != 1) r.push_back(d);
  return r;
}

QuantTensor make(Scheme scheme, TensorName name, Shape shape, const TensorInfo* w, const TensorInfo* s) {
  QuantTensor q;
  q.scheme = scheme;
  q.name = name;
  q.shape = std::move(shape);
  q.weight = w;
  q.scale = s;
  return q;
}

uint64_t product(const std::vector<uint64_t>& s) {
  uint64_t p = 1;
  for (auto d : s) p *= d;  // shapes were checked by the loader not to overflow
  return p;
}

bool is_int_dtype(DType t) { return t == DType::kI32 || t == DType::kI64; }

// The module a tensor belongs to: its name up to the last '.'.
std::string_view module_of(std::string_view stem) { return stem.empty() ? stem : stem.substr(0, stem.size() - 1); }

class Scanner {
 public:
  Scanner(const Checkpoint& ck, const QuantConfig& cfg, const std::function<void(const QuantTensor&)>* each = nullptr)
      : ck_(ck), cfg_(cfg), each_(each), used_(ck.tensors().size(), 0) {
    BlockSize b = block_size_from_config(ck.config() ? &*ck.config() : nullptr);
    b0_ = b.rows;
    b1_ = b.cols;
    out_.block_size_invalid = std::move(b.invalid);
  }

  QuantScan run() {
    // At most one per tensor; pages of the unused tail are never touched.
    if (!each_) out_.tensors.reserve(ck_.tensors().size());
    for (const auto& t : ck_.tensors()) {
      if (ends_with(t.name, "_blocks")) gpt_oss(t);
      else if (ends_with(t.name, ".weight_packed")) weight_packed(t);
      else if (ends_with(t.name, ".qweight")) qweight(t);
      else if (ends_with(t.name, "weight")) weight(t);
    }
    orphans();
    // The loop above visits weights in name order, so this is usually sorted already; a
    // strictly increasing list is what sorting it would give.
    auto by_weight = [](const QuantTensor& a, const QuantTensor& b) { return a.weight->name < b.weight->name; };
    if (std::adjacent_find(out_.tensors.begin(), out_.tensors.end(), [&](const QuantTensor& a, const QuantTensor& b) {
          return !by_weight(a, b);
        }) != out_.tensors.end())
      std::sort(out_.tensors.begin(), out_.tensors.end(), by_weight);
    return std::move(out_);
  }

 private:
  // STEM + "weight", kept with the scan (the weight's own name is another).
  TensorName composed(std::string_view stem) {
    std::string n(stem);
    n += "weight";
    return out_.names.keep(n);
  }

  const TensorInfo* companion(std::string_view stem, const char* suffix) {
    probe_.assign(stem).append(suffix);
    return ck_.find(probe_);
  }
  std::string file(const TensorInfo& t) const { return ck_.file_label(t.file); }
  void err(std::string code, std::string msg, const TensorInfo& t) { out_.findings.push_back(error(std::move(code), std::move(msg), file(t), t.name)); }
  void warn(std::string code, std::string msg, const TensorInfo& t) { out_.findings.push_back(warning(std::move(code), std::move(msg), file(t), t.name)); }

  // Checks a scale's shape against the one expected; a squeezed or flattened scale with the
  // right element count is accepted with a warning, anything else refused.
  bool scale_fits(QuantTensor& q, const TensorInfo& scale, const std::vector<uint64_t>& want) {
    return scale_fits(q, scale, want, [] { return std::string(); });
  }
  // hint() adds to the refusal; called only when the scale does not fit (a formatted string
  // per weight was a tenth of the scan's time).
  template <typename Hint>
  bool scale_fits(QuantTensor& q, const TensorInfo& scale, const std::vector<uint64_t>& want, Hint&& hint) {
    if (scale.shape == want) return true;
    bool same_count = product(scale.shape) == product(want);
    if (same_count && scale.shape.size() == 1) {
      q.note = fmt::format("{} saved flattened as {}; read as {}", scale.name, shape_string(scale.shape), shape_string(want));
      warn("W-SCALE-FLATTENED", q.note, scale);
      return true;
    }
    if (same_count && squeezed(scale.shape) == squeezed(want)) {
      q.note = fmt::format("{} saved as {} (squeezed); read as {}", scale.name, shape_string(scale.shape), shape_string(want));
      warn("W-SCALE-SQUEEZED", q.note, scale);
      return true;
    }
    std::string why = same_count ? "has the right element count but an ambiguous layout" : "does not fit";
    err("E-SCALE-SHAPE",
        fmt::format("scale {} {} {} weight {} {}: expected {}{}", scale.name, shape_string(scale.shape), why, q.weight->name,
                    shape_string(q.weight->shape), shape_string(want), hint()),
        scale);
    return false;
  }

  void use(const TensorInfo* t) { used_[static_cast<size_t>(t - ck_.tensors().data())] = 1; }
  // Whether a tensor of this one's name was used: the tensors are sorted by name, so tensors
  // sharing a name sit next to each other.
  bool name_used(size_t i) const {
    const auto& ts = ck_.tensors();
    if (used_[i]) return true;
    for (size_t j = i; j > 0 && ts[j - 1].name == ts[i].name; --j)
      if (used_[j - 1]) return true;
    for (size_t j = i + 1; j < ts.size() && ts[j].name == ts[i].name; ++j)
      if (used_[j]) return true;
    return false;
  }

  void take(QuantTensor q) {
    use(q.weight);
    // The companions without the vector companions() builds: one per weight adds up.
    for (const TensorInfo* t : {q.scale, q.scale2, q.zero, q.g_idx, q.shape_tensor})
      if (t) use(t);
    for (const TensorInfo* t : q.dropped) use(t);
    if (each_) (*each_)(q);
    else out_.tensors.push_back(std::move(q));
  }

  std::string block_hint(const TensorInfo& scale, uint64_t out, uint64_t in) const {
    if (scale.shape.size() < 2) return {};
    uint64_t so = scale.shape[scale.shape.size() - 2], si = scale.shape.back();
    for (uint64_t a : {32, 64, 128, 256, 512})
      for (uint64_t b : {32, 64, 128, 256, 512})
        if (ceil_div(out, a) == so && ceil_div(in, b) == si && !(a == b0_ && b == b1_))
          return fmt::format(" (it fits {}x{} blocks: is quantization_config.weight_block_size right?)", a, b);
    return {};
  }

  // e8m0_ok: DeepSeek's own ".scale" naming, whose FP8 block scales are power-of-two E8M0 where
  // the config says scale_fmt ue8m0 (DeepSeek-V4 with FP4 experts; vLLM's DeepseekV4FP8Config).
  void block_fp8(const TensorInfo& w, const TensorInfo& scale, bool e8m0_ok = false) { block_fp8(w, scale, b0_, b1_, e8m0_ok); }
  void block_fp8(const TensorInfo& w, const TensorInfo& scale, uint64_t b0, uint64_t b1, bool e8m0_ok = false) {
    QuantTensor q = make(Scheme::kBlockFp8, w.name, w.shape, &w, &scale);
    q.block_rows = b0;
    q.block_cols = b1;
    if (!is_float_scale(scale.dtype) && !(e8m0_ok && scale.dtype == DType::kF8_E8M0))
      return err("E-SCALE-DTYPE", fmt::format("block scale {} is {}, expected F32", scale.name, dtype_name(scale.dtype)), scale);
    if (w.shape.size() < 2) return err("E-SCALE-SHAPE", fmt::format("block-scaled weight {} must have 2 or more dimensions", w.name), w);
    auto want = w.shape;
    uint64_t out = want[want.size() - 2], in = want.back();
    want[want.size() - 2] = ceil_div(out, b0);
    want.back() = ceil_div(in, b1);
    if (scale_fits(q, scale, want, [&] { return block_hint(scale, out, in); })) take(std::move(q));
  }

  void per_tensor_fp8(const TensorInfo& w, const TensorInfo& scale, std::string_view stem) {
    QuantTensor q = make(Scheme::kPerTensorFp8, w.name, w.shape, &w, &scale);
    if (!is_float_scale(scale.dtype)) return err("E-SCALE-DTYPE", fmt::format("scale {} is {}, expected F32", scale.name, dtype_name(scale.dtype)), scale);
    uint64_t in = w.shape.empty() ? 1 : w.shape.back();
    uint64_t rows = w.shape.empty() ? 1 : product(w.shape) / std::max<uint64_t>(in, 1);
    uint64_t out = w.shape.size() >= 2 ? w.shape[w.shape.size() - 2] : 1;
    uint64_t n = product(scale.shape);
    q.block_cols = in;
    if (n == 1) {
      q.block_rows = rows;
    } else if (w.shape.size() >= 2 && n == rows / out) {
      q.block_rows = out;  // one scale per leading index (per expert)
    } else if (n == rows) {
      q.scheme = Scheme::kPerChannelFp8;
      q.block_rows = 1;
    } else {
      return err("E-SCALE-SHAPE",
                 fmt::format("scale {} {} is neither per-tensor (1 element) nor per-channel ({} elements) for weight {} {}", scale.name,
                             shape_string(scale.shape), rows, w.name, shape_string(w.shape)),
                 scale);
    }
    if (auto* is = companion(stem, "input_scale")) q.dropped.push_back(is);
    take(std::move(q));
  }

  void fp4(const TensorInfo& w, const TensorInfo& scale, std::string_view stem, bool nvfp4) {
    QuantTensor q = make(nvfp4 ? Scheme::kNvfp4 : Scheme::kMxfp4Packed, w.name, w.shape, &w, &scale);
    if (w.shape.empty()) return err("E-SCALE-SHAPE", fmt::format("packed weight {} has no dimensions", w.name), w);
    uint64_t in = w.dtype == DType::kF4 ? w.shape.back() : w.shape.back() * 2;
    q.shape.back() = in;
    q.block_rows = 1;
    q.block_cols = nvfp4 ? kNvfp4Group : kMxGroup;
    auto want = q.shape;
    want.back() = ceil_div(in, q.block_cols);
    if (nvfp4) {
      const TensorInfo* s2 = companion(stem, "weight_scale_2");
      if (!s2) return err("E-SCALE-MISSING", fmt::format("NVFP4 weight {} has no {}weight_scale_2", w.name, stem), w);
      if (product(s2->shape) != 1 || !is_float_scale(s2->dtype))
        return err("E-SCALE-SHAPE", fmt::format("{} must be one float32 value, is {} {}", s2->name, dtype_name(s2->dtype), shape_string(s2->shape)), *s2);
      q.scale2 = s2;
      if (auto* is = companion(stem, "input_scale")) q.dropped.push_back(is);
    }
    if (scale_fits(q, scale, want)) take(std::move(q));
  }

  void weight(const TensorInfo& w) {
    const std::string_view stem = std::string_view(w.name).substr(0, w.name.size() - 6);  // up to and including the '.'
    if (dtype_is_fp8(w.dtype) && w.dtype != DType::kF8_E8M0) {
      if (auto* s = companion(stem, "weight_scale_inv")) return block_fp8(w, *s);
      if (auto* s = companion(stem, "scale"); s && (is_float_scale(s->dtype) || s->dtype == DType::kF8_E8M0)) return block_fp8(w, *s, true);
      if (auto* s = companion(stem, "weight_scale")) {
        const QuantGroup* g = cfg_.group_for(module_of(stem));
        if (g && g->weights.strategy == "block" && g->weights.block_rows && g->weights.block_cols)
          return block_fp8(w, *s, g->weights.block_rows, g->weights.block_cols);
        return per_tensor_fp8(w, *s, stem);
      }
      return err("E-SCALE-MISSING", fmt::format("{} weight {} has no scale ({}weight_scale_inv, {}weight_scale or {}scale)", dtype_name(w.dtype), w.name, stem, stem, stem), w);
    }
    if (w.dtype == DType::kU8 || w.dtype == DType::kI8 || w.dtype == DType::kF4) {
      const TensorInfo* s = companion(stem, "scale");
      if (!s) s = companion(stem, "weight_scale");
      if (s && (s->dtype == DType::kF8_E8M0 || s->dtype == DType::kU8)) return fp4(w, *s, stem, false);
      if (s && s->dtype == DType::kF8_E4M3 && w.dtype != DType::kI8) return fp4(w, *s, stem, true);
      if (w.dtype == DType::kF4) return err("E-SCALE-MISSING", fmt::format("F4 weight {} has no e8m0 or e4m3 scale", w.name), w);
    }
  }

  // ---- compressed-tensors weight_packed, GPTQ/AWQ qweight ----------------------------------

  // A required companion: null (and an E-SCALE-MISSING finding) when absent.
  const TensorInfo* need(std::string_view stem, const char* suffix, const TensorInfo& w, std::string_view what) {
    const TensorInfo* t = companion(stem, suffix);
    if (!t) err("E-SCALE-MISSING", fmt::format("{} {} has no {}{} ({})", what, w.name, stem, suffix, scheme_hint_), w);
    return t;
  }
  // A companion of one exact dtype class and shape; false (with the finding) when it is not.
  bool exact(QuantTensor& q, const TensorInfo& t, bool dtype_ok, const char* dtype_want, const std::vector<uint64_t>& want) {
    if (!dtype_ok) return err("E-SCALE-DTYPE", fmt::format("{} is {}, expected {}", t.name, dtype_name(t.dtype), dtype_want), t), false;
    if (t.shape != want) {
      err("E-SCALE-SHAPE", fmt::format("{} {} does not fit weight {} {}: expected {}", t.name, shape_string(t.shape), q.weight->name,
                                       shape_string(q.weight->shape), shape_string(want)),
          t);
      return false;
    }
    return true;
  }
  // The bits of the module's group; for a module no group targets (validate says so), the
  // bits every group declares when they all agree.
  unsigned config_bits(std::string_view stem) const {
    if (const QuantGroup* g = cfg_.group_for(module_of(stem))) return g->weights.bits;
    unsigned bits = 0;
    for (const auto& g : cfg_.groups) {
      if (bits && g.weights.bits != bits) return 0;
      bits = g.weights.bits;
    }
    return bits;
  }
  const WeightArgs* config_weights(std::string_view stem) const {
    const QuantGroup* g = cfg_.group_for(module_of(stem));
    return g ? &g->weights : nullptr;
  }
  // Bits from the config, else from g_idx's length (in) against the packed words: nothing is
  // dequantized with a guessed bit width.
  unsigned int_bits(std::string_view stem, const TensorInfo& w, const TensorInfo* g_idx, uint64_t packed_in) {
    unsigned bits = config_bits(stem);
    if (!bits && g_idx && g_idx->shape.size() == 1 && packed_in)
      for (unsigned b : {2u, 4u, 8u})
        if (ceil_div(g_idx->shape[0], 32 / b) == packed_in) bits = b;
    if (bits != 2 && bits != 4 && bits != 8) {
      err("E-QUANT-BITS", fmt::format("{}: {} bits per code{}; moeckpt reads 2, 4 and 8 packed into int32", w.name, bits,
                                      bits ? "" : " (quantization_config says none and no g_idx tells)"),
          w);
      return 0;
    }
    return bits;
  }
  // Group size along in: the config's, else what the scale's group count implies. Checks that it
  // divides in (E-QUANT-GROUP).
  uint64_t int_group(std::string_view stem, const TensorInfo& w, uint64_t in, uint64_t scale_groups) {
    const WeightArgs* a = config_weights(stem);
    uint64_t group = a ? (a->strategy == "channel" || a->group_size == 0 ? in : a->group_size) : 0;
    if (!group) group = scale_groups && in % scale_groups == 0 ? in / scale_groups : 0;
    if (!group || in % group) {
      err("E-QUANT-GROUP", fmt::format("{}: group size {} does not divide the {} input columns", w.name, group, in), w);
      return 0;
    }
    return group;
  }
  bool g_idx_fits(QuantTensor& q, const char* suffix, std::string_view stem, uint64_t in) {
    q.g_idx = companion(stem, suffix);
    const WeightArgs* a = config_weights(stem);
    if (!q.g_idx && a && a->actorder && cfg_.method == QuantMethod::kGptq)
      return err("E-SCALE-MISSING", fmt::format("{}: desc_act is true but {}{} is missing", q.weight->name, stem, suffix), *q.weight), false;
    return !q.g_idx || exact(q, *q.g_idx, q.g_idx->dtype == DType::kI32 || q.g_idx->dtype == DType::kI64, "I32", {in});
  }

  void weight_packed(const TensorInfo& w) {
    const std::string_view stem = std::string_view(w.name).substr(0, w.name.size() - 13);  // keeps the '.'
    if (w.dtype == DType::kU8) return nvfp4_ct(w, stem);
    if (w.dtype == DType::kI32) return int_packed(w, stem);
    err("E-SCALE-DTYPE", fmt::format("{} is {}: weight_packed holds U8 (nvfp4-pack-quantized) or I32 (pack-quantized)", w.name, dtype_name(w.dtype)), w);
  }

  void nvfp4_ct(const TensorInfo& w, std::string_view stem) {
    scheme_hint_ = "nvfp4-pack-quantized";
    const TensorInfo* s = need(stem, "weight_scale", w, "NVFP4 weight");
    const TensorInfo* g = need(stem, "weight_global_scale", w, "NVFP4 weight");
    if (!s || !g) return;
    if (w.shape.empty()) return err("E-SCALE-SHAPE", fmt::format("packed weight {} has no dimensions", w.name), w);
    QuantTensor q = make(Scheme::kNvfp4Ct, composed(stem), w.shape, &w, s);
    q.shape.back() *= 2;
    q.block_cols = kNvfp4Group;
    if (s->dtype != DType::kF8_E4M3) return err("E-SCALE-DTYPE", fmt::format("NVFP4 scale {} is {}, expected F8_E4M3", s->name, dtype_name(s->dtype)), *s);
    if (product(g->shape) != 1 || !is_float_scale(g->dtype))
      return err("E-SCALE-SHAPE", fmt::format("{} must be one float32 value, is {} {}", g->name, dtype_name(g->dtype), shape_string(g->shape)), *g);
    q.scale2 = g;
    if (auto* is = companion(stem, "input_global_scale")) q.dropped.push_back(is);
    if (auto* is = companion(stem, "input_scale")) q.dropped.push_back(is);
    auto want = q.shape;
    want.back() = ceil_div(q.shape.back(), kNvfp4Group);
    if (scale_fits(q, *s, want)) take(std::move(q));
  }

  // Integer codes of all experts fused in one [E, .., ..] tensor: the GPTQ, AWQ and
  // pack-quantized exports in testdata/quantfmt store one 2-D tensor per expert, and which
  // dimension the packing and the zero points run along for a fused one is not defined
  // anywhere moeckpt reads; refused with a line that says so rather than misread.
  void fused_experts(const TensorInfo& w, std::string_view scheme) {
    err("E-SCALE-SHAPE",
        fmt::format("{} {} is a fused 3-D expert tensor: {} codes are read per expert only (2-D tensors, experts.<e>.<proj>)", w.name,
                    shape_string(w.shape), scheme),
        w);
  }

  void int_packed(const TensorInfo& w, std::string_view stem) {
    scheme_hint_ = "pack-quantized";
    const TensorInfo* s = need(stem, "weight_scale", w, "packed weight");
    if (!s) return;
    if (w.shape.size() == 3) return fused_experts(w, "pack-quantized");
    if (w.shape.size() != 2) return err("E-SCALE-SHAPE", fmt::format("packed weight {} must be 2-D [out, in/(32/bits)], is {}", w.name, shape_string(w.shape)), w);
    const TensorInfo* gi = companion(stem, "weight_g_idx");
    const unsigned bits = int_bits(stem, w, gi, w.shape[1]);
    if (!bits) return;
    const uint64_t per = 32 / bits, out = w.shape[0];
    const uint64_t in = gi && gi->shape.size() == 1 && ceil_div(gi->shape[0], per) == w.shape[1] ? gi->shape[0] : w.shape[1] * per;
    QuantTensor q = make(Scheme::kIntPacked, composed(stem), {out, in}, &w, s);
    q.bits = bits;
    if (!is_float_scale(s->dtype)) return err("E-SCALE-DTYPE", fmt::format("scale {} is {}, expected BF16, F16 or F32", s->name, dtype_name(s->dtype)), *s);
    const uint64_t group = int_group(stem, w, in, s->shape.size() == 2 ? s->shape[1] : 0);
    if (!group) return;
    q.block_cols = group;
    const uint64_t groups = in / group;
    if (!exact(q, *s, true, "", {out, groups})) return;
    if (!g_idx_fits(q, "weight_g_idx", stem, in)) return;
    q.zero = companion(stem, "weight_zero_point");
    const WeightArgs* a = config_weights(stem);
    if (!q.zero && a && !a->symmetric)
      return err("E-SCALE-MISSING", fmt::format("{}: the config says asymmetric but {}weight_zero_point is missing", w.name, stem), w);
    if (q.zero && !exact(q, *q.zero, q.zero->dtype == DType::kI32, "I32 (packed along out)", {ceil_div(out, per), groups})) return;
    if ((q.shape_tensor = companion(stem, "weight_shape")) && !exact(q, *q.shape_tensor, is_int_dtype(q.shape_tensor->dtype), "I64 or I32", {2})) return;
    take(std::move(q));
  }

  void qweight(const TensorInfo& w) {
    const std::string_view stem = std::string_view(w.name).substr(0, w.name.size() - 7);
    scheme_hint_ = cfg_.method == QuantMethod::kAwq ? "AWQ" : "GPTQ";
    const TensorInfo* s = need(stem, "scales", w, "packed weight");
    const TensorInfo* z = need(stem, "qzeros", w, "packed weight");
    if (!s || !z) return;
    if (w.dtype != DType::kI32) return err("E-SCALE-DTYPE", fmt::format("{} is {}, expected I32", w.name, dtype_name(w.dtype)), w);
    if (w.shape.size() == 3) return fused_experts(w, cfg_.method == QuantMethod::kAwq ? "AWQ" : "GPTQ");
    if (w.shape.size() != 2 || s->shape.size() != 2)
      return err("E-SCALE-SHAPE", fmt::format("{} {} and {} {} must both be 2-D", w.name, shape_string(w.shape), s->name, shape_string(s->shape)), w);
    if (!is_float_scale(s->dtype)) return err("E-SCALE-DTYPE", fmt::format("scale {} is {}, expected F16, BF16 or F32", s->name, dtype_name(s->dtype)), *s);
    // GPTQ packs along in ([in/p, out]), AWQ along out ([in, out/8]); the scales' out says which
    // when the config does not.
    bool awq = cfg_.method == QuantMethod::kAwq;
    if (cfg_.method != QuantMethod::kAwq && cfg_.method != QuantMethod::kGptq) awq = s->shape[1] != w.shape[1] && s->shape[1] == w.shape[1] * 8;
    if (awq) return awq_weight(w, *s, *z, stem);
    gptq_weight(w, *s, *z, stem);
  }

  void gptq_weight(const TensorInfo& w, const TensorInfo& s, const TensorInfo& z, std::string_view stem) {
    const TensorInfo* gi = companion(stem, "g_idx");
    const unsigned bits = int_bits(stem, w, gi, w.shape[0]);
    if (!bits) return;
    const uint64_t per = 32 / bits, out = w.shape[1];
    const uint64_t in = gi && gi->shape.size() == 1 && ceil_div(gi->shape[0], per) == w.shape[0] ? gi->shape[0] : w.shape[0] * per;
    QuantTensor q = make(Scheme::kGptq, composed(stem), {out, in}, &w, &s);
    q.bits = bits;
    const uint64_t group = int_group(stem, w, in, s.shape[0]);
    if (!group) return;
    q.block_cols = group;
    if (!exact(q, s, true, "", {in / group, out})) return;
    if (!exact(q, z, z.dtype == DType::kI32, "I32", {in / group, ceil_div(out, per)})) return;
    q.zero = &z;
    if (g_idx_fits(q, "g_idx", stem, in)) take(std::move(q));
  }

  void awq_weight(const TensorInfo& w, const TensorInfo& s, const TensorInfo& z, std::string_view stem) {
    const unsigned bits = config_bits(stem) ? config_bits(stem) : 4;
    if (bits != 4) return err("E-QUANT-BITS", fmt::format("{}: AWQ with {} bits; moeckpt reads AWQ's 4-bit GEMM packing", w.name, bits), w);
    const uint64_t in = w.shape[0], out = w.shape[1] * 8;
    QuantTensor q = make(Scheme::kAwq, composed(stem), {out, in}, &w, &s);
    q.bits = 4;
    const uint64_t group = int_group(stem, w, in, s.shape[0]);
    if (!group) return;
    q.block_cols = group;
    if (!exact(q, s, true, "", {in / group, out})) return;
    if (!exact(q, z, z.dtype == DType::kI32, "I32", {in / group, out / 8})) return;
    q.zero = &z;
    take(std::move(q));
  }

  void gpt_oss(const TensorInfo& b) {
    const TensorName base = b.name.substr(0, b.name.size() - 7);
    const TensorInfo* s = ck_.find(base + "_scales");
    if (b.dtype != DType::kU8 || b.shape.size() != 4 || b.shape[3] != kMxGroup / 2) {
      if (s) err("E-SCALE-SHAPE", fmt::format("MXFP4 blocks {} must be U8 [E, out, in/32, 16], is {} {}", b.name, dtype_name(b.dtype), shape_string(b.shape)), b);
      return;
    }
    if (!s) return err("E-SCALE-MISSING", fmt::format("MXFP4 blocks {} have no {}_scales", b.name, base), b);
    QuantTensor q = make(Scheme::kMxfp4GptOss, base, {b.shape[0], b.shape[2] * kMxGroup, b.shape[1]}, &b, s);
    q.block_cols = kMxGroup;
    if (s->dtype != DType::kU8 && s->dtype != DType::kF8_E8M0)
      return err("E-SCALE-DTYPE", fmt::format("MXFP4 scales {} are {}, expected U8 (e8m0)", s->name, dtype_name(s->dtype)), *s);
    if (scale_fits(q, *s, {b.shape[0], b.shape[1], b.shape[2]})) take(std::move(q));
  }

  void orphans() {
    // A scale already refused (wrong shape or dtype) has its error; calling it an orphan too
    // would say it is copied unchanged, which a refusing command never does.
    std::set<std::string, std::less<>> refused;
    for (const auto& f : out_.findings)
      if (f.severity == Severity::kError && !f.tensor.empty()) refused.insert(f.tensor);
    const auto& ts = ck_.tensors();
    for (size_t i = 0; i < ts.size(); ++i) {
      const TensorInfo& t = ts[i];
      for (std::string_view suf : {"weight_scale_inv", "weight_scale_2", "weight_scale", "input_scale", "_scales", "weight_global_scale",
                                   "input_global_scale", "weight_zero_point", "weight_g_idx", "weight_shape", ".qzeros", ".scales",
                                   ".g_idx"}) {
        if (!ends_with(t.name, suf)) continue;
        if (!name_used(i) && !refused.count(t.name))
          warn("W-SCALE-ORPHAN", fmt::format("scale {} belongs to no quantized weight (it would be copied unchanged)", t.name), t);
        break;
      }
    }
  }

  const Checkpoint& ck_;
  const QuantConfig& cfg_;
  const std::function<void(const QuantTensor&)>* each_;  // null: keep the list
  std::string scheme_hint_;  // the layout being read, for E-SCALE-MISSING messages
  uint64_t b0_ = kFp8BlockDefault, b1_ = kFp8BlockDefault;
  QuantScan out_;
  std::vector<char> used_;  // per tensor of ck_
  std::string probe_;       // companion(): stem + suffix
};

}  // namespace

std::string_view scheme_name(Scheme s) { return scheme_layout(s).name; }

bool QuantScan::complete() const {
  for (const auto& f : findings)
    if (f.severity == Severity::kError) return false;
  return true;
}

BlockSize block_size_from_config(const Json* config) {
  BlockSize b;
  if (!config || !config->is_object()) return b;
  auto qc = config->find("quantization_config");
  if (qc == config->end() || !qc->is_object()) return b;
  auto bs = qc->find("weight_block_size");
  if (bs == qc->end() || bs->is_null()) return b;
  auto positive = [](const Json& v) { return v.is_number_unsigned() && v.get<uint64_t>() > 0; };
  if (!bs->is_array() || bs->size() != 2 || !positive((*bs)[0]) || !positive((*bs)[1])) {
    b.invalid = "quantization_config.weight_block_size is " + bs->dump() + ", expected two positive integers such as [128, 128]";
    return b;
  }
  b.rows = (*bs)[0].get<uint64_t>();
  b.cols = (*bs)[1].get<uint64_t>();
  return b;
}

void require_known_block(const Checkpoint& ck, const QuantScan& scan, const QuantTensor& q) {
  if (q.scheme != Scheme::kBlockFp8 || scan.block_size_invalid.empty()) return;
  throw Error(Errc::kQuantInvalid, ck.config_file().empty() ? ck.input() : ck.config_file(),
              scan.block_size_invalid + ": " + q.weight->name + " cannot be dequantized", q.weight->name);
}

QuantScan scan_quantized(const Checkpoint& ck, const QuantConfig& config) { return Scanner(ck, config).run(); }

QuantScan scan_quantized(const Checkpoint& ck, const QuantConfig& config, const std::function<void(const QuantTensor&)>& each) {
  return Scanner(ck, config, &each).run();
}

QuantScan scan_quantized(const Checkpoint& ck) { return scan_quantized(ck, read_quant_config(ck)); }

std::vector<const TensorInfo*> companions(const QuantTensor& q) {
  std::vector<const TensorInfo*> v;
  for (const TensorInfo* t : {q.scale, q.scale2, q.zero, q.g_idx, q.shape_tensor})
    if (t) v.push_back(t);
  v.insert(v.end(), q.dropped.begin(), q.dropped.end());
  return v;
}

}  // namespace moeckpt::quant
