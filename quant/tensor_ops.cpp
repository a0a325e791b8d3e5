#include "quant/tensor_ops.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "loader/error.h"
#include "quant/dequant.h"
#include "quant/layouts.h"
#include "quant/producers.h"
#include "quant/scheme.h"

namespace moeckpt::quant {
namespace {

PlannedTensor copied(const Checkpoint& in, const TensorInfo& t) {
  return {WriterTensor{t.name, t.dtype, t.shape, t.nbytes}, t.name, make_copy_producer(in, t)};
}

void refuse_incomplete(const Checkpoint& in, const QuantScan& scan) {
  for (const auto& f : scan.findings)
    if (f.severity == Severity::kError) throw Error(Errc::kQuantInvalid, f.file.empty() ? in.input() : f.file, f.message, f.tensor);
}

// The input names a dequantization folds away: scales and the tensors a scheme drops.
std::set<std::string, std::less<>> folded_names(const QuantScan& scan) {
  std::set<std::string, std::less<>> consumed;
  for (const auto& q : scan.tensors)
    for (const TensorInfo* c : companions(q)) consumed.insert(c->name);
  return consumed;
}

void plan_dequant(const Checkpoint& in, DType target, OpsResult& r) {
  QuantScan scan = scan_quantized(in);
  refuse_incomplete(in, scan);
  const Fmt to = *fmt_of(target);
  std::map<std::string, const QuantTensor*, std::less<>> by_weight;
  for (const auto& q : scan.tensors) {
    require_known_block(in, scan, q);
    by_weight[q.weight->name] = &q;
  }
  const std::set<std::string, std::less<>> consumed = folded_names(scan);
  for (const auto& t : in.tensors()) {
    if (auto it = by_weight.find(t.name); it != by_weight.end()) {
      const QuantTensor& q = *it->second;
      const uint64_t nbytes = dequant_rows(q) * dequant_row_elems(q) * elem_bytes(to);
      r.tensors.push_back({WriterTensor{q.name, target, q.shape, nbytes}, t.name, make_dequant_producer(in, q, to)});
      if (q.name != t.name) r.consumed.push_back(t.name);
      if (!q.note.empty()) r.notes.push_back(q.note);
    } else if (consumed.count(t.name)) {
      r.consumed.push_back(t.name);
    } else {
      r.tensors.push_back(copied(in, t));
    }
  }
  if (scan.tensors.empty()) r.notes.push_back("no quantized tensors found: every tensor copied unchanged");
}

void plan_cast(const Checkpoint& in, DType target, bool saturate, OpsResult& r) {
  QuantScan scan = scan_quantized(in);
  if (!scan.tensors.empty())
    throw Error(Errc::kUsage, in.input(),
                fmt::format("holds quantized weights ({} {}): --cast would drop their scales; use --dequant", scheme_name(scan.tensors[0].scheme),
                            scan.tensors[0].weight->name));
  const Fmt to = *fmt_of(target);
  for (const auto& t : in.tensors()) {
    auto from = fmt_of(t.dtype);
    bool castable = from && *from != Fmt::kE2M1 && *from != Fmt::kE8M0 && t.dtype != target;
    if (castable)
      r.tensors.push_back({WriterTensor{t.name, target, t.shape, numel(t) * elem_bytes(to)}, t.name, make_cast_producer(in, t, to, saturate)});
    else
      r.tensors.push_back(copied(in, t));
  }
}

// Shape of the scales of weight shape w: [.., ceil(out / block_rows), ceil(in / block_cols)];
// a per-tensor scale is [.., 1] (compressed-tensors' [1] for a matrix).
std::vector<uint64_t> scale_shape(std::vector<uint64_t> w, const QuantizeLayout& l) {
  if (l.block_rows == 0 && l.block_cols == 0) {
    w.pop_back();
    w.back() = 1;
    return w;
  }
  w[w.size() - 2] = ceil_div(w[w.size() - 2], block_rows_of(l, w[w.size() - 2]));
  w.back() = ceil_div(w.back(), block_cols_of(l, w.back()));
  return w;
}

void add_quantized(const Checkpoint& in, const TensorInfo& t, QuantizeTarget target, OpsResult& r) {
  const QuantizeLayout& l = quantize_layout(target);
  const std::string stem = t.name.substr(0, t.name.size() - 6);  // "....", keeps the dot
  auto codes = make_quantize_producer(in, t, target, QuantizePart::kCodes);
  auto scales = make_quantize_producer(in, t, target, QuantizePart::kScales);
  std::vector<uint64_t> wshape = t.shape;
  wshape.back() = wshape.back() * l.code_bits / static_cast<unsigned>(dtype_bits(l.code_dtype));
  r.tensors.push_back({WriterTensor{t.name, l.code_dtype, wshape, codes->rows() * codes->row_bytes()}, t.name, codes});
  r.tensors.push_back({WriterTensor{stem + std::string(l.scale_suffix), l.scale_dtype, scale_shape(t.shape, l),
                                    scales->rows() * scales->row_bytes()},
                       t.name, scales});
  if (!l.scale2_suffix.empty())
    r.tensors.push_back({WriterTensor{stem + std::string(l.scale2_suffix), DType::kF32, {}, 4}, t.name,
                         make_quantize_producer(in, t, target, QuantizePart::kScale2)});
}

// A weight --quantize leaves alone that an engine would still build as a linear layer (2-D or
// 3-D floating .weight, not an embedding or a norm): the config must say it is not quantized.
bool linear_like(const TensorInfo& t) {
  if (!fmt_of(t.dtype) || (t.shape.size() != 2 && t.shape.size() != 3) || !t.name.ends_with(".weight")) return false;
  for (std::string_view skip : {"embed", "norm", "wte", "wpe"})
    if (t.name.find(skip) != std::string::npos) return false;
  return true;
}

void plan_quantize(const Checkpoint& in, QuantizeTarget target, OpsResult& r) {
  QuantScan scan = scan_quantized(in);
  if (!scan.tensors.empty())
    throw Error(Errc::kUsage, in.input(), fmt::format("is already quantized ({} {}); --dequant it first", scheme_name(scan.tensors[0].scheme), scan.tensors[0].weight->name));
  uint64_t skipped = 0;
  for (const auto& t : in.tensors()) {
    if (should_quantize(t.name, t.dtype, t.shape, target)) {
      add_quantized(in, t, target, r);
      continue;
    }
    if (target != QuantizeTarget::kFp8Block && should_quantize(t.name, t.dtype, t.shape, QuantizeTarget::kFp8Block)) ++skipped;
    if (linear_like(t)) r.unquantized.push_back(t.name.substr(0, t.name.size() - 7));
    r.tensors.push_back(copied(in, t));
  }
  if (skipped && target == QuantizeTarget::kMxfp4)
    r.notes.push_back(fmt::format("{} linear weights left unquantized: MXFP4 needs rows that are a multiple of {} long", skipped, kMxGroup));
  if (skipped && target == QuantizeTarget::kNvfp4)
    r.notes.push_back(fmt::format("{} linear weights left unquantized: NVFP4 takes 2-D weights with rows a multiple of {} long", skipped, kNvfp4Group));
  if (target == QuantizeTarget::kNvfp4)
    r.notes.push_back("weight-only NVFP4 (ModelOpt quant_algo W4A16_NVFP4): activations stay unquantized, so no input_scale is written");
}

// PyTorch files may share one storage between tensors (tied weights, views); safetensors
// cannot, so each is written with its own bytes. Say which.
void note_shared_storages(const Checkpoint& in, OpsResult& r) {
  std::map<std::pair<uint32_t, int32_t>, std::vector<std::string>> by_storage;
  for (const auto& t : in.tensors())
    if (t.storage >= 0) by_storage[{t.file, t.storage}].push_back(t.name);
  for (const auto& [k, names] : by_storage) {
    if (names.size() < 2) continue;
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    r.notes.push_back("tensors sharing one storage, each written with its own copy: " + list);
  }
}

std::string dtype_word(DType d) {
  switch (d) {
    case DType::kBF16: return "bfloat16";
    case DType::kF16: return "float16";
    case DType::kF32: return "float32";
    case DType::kF8_E4M3: return "float8_e4m3fn";
    case DType::kF8_E5M2: return "float8_e5m2";
    default: return std::string(dtype_name(d));
  }
}

void drop_quantization_config(Json& c) {
  // compressed-tensors checkpoints name it compression_config; engines read either.
  for (const char* key : {"quantization_config", "compression_config"}) {
    c.erase(key);
    if (auto* tc = c.contains("text_config") && c["text_config"].is_object() ? &c["text_config"] : nullptr) tc->erase(key);
  }
  // Dequantized experts are neither fp4 nor fp8: the key would make an engine expect scales.
  c.erase("expert_dtype");
}

}  // namespace

OpsResult plan_tensor_ops(const Checkpoint& in, const TensorOps& ops) {
  OpsResult r;
  if (ops.dequant) plan_dequant(in, *ops.dequant, r);
  else if (ops.cast) plan_cast(in, *ops.cast, ops.saturate, r);
  else if (ops.quantize) plan_quantize(in, *ops.quantize, r);
  else
    for (const auto& t : in.tensors()) r.tensors.push_back(copied(in, t));
  note_shared_storages(in, r);
  return r;
}

Json quantization_config_for(QuantizeTarget target, const std::vector<std::string>& unquantized) {
  const QuantizeLayout& l = quantize_layout(target);
  switch (target) {
    case QuantizeTarget::kFp8Block:
      return Json{{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"}, {"weight_block_size", {l.block_rows, l.block_cols}}};
    case QuantizeTarget::kMxfp4: return Json{{"quant_method", "mxfp4"}};
    case QuantizeTarget::kFp8Tensor:
    case QuantizeTarget::kFp8Channel: {
      // compressed-tensors float-quantized, activations quantized per token at run time.
      Json weights{{"num_bits", 8},        {"type", "float"},       {"strategy", target == QuantizeTarget::kFp8Tensor ? "tensor" : "channel"},
                   {"symmetric", true},    {"dynamic", false},      {"group_size", nullptr},
                   {"actorder", nullptr},  {"block_structure", nullptr}, {"observer", "minmax"}};
      Json inputs{{"num_bits", 8}, {"type", "float"}, {"strategy", "token"}, {"symmetric", true}, {"dynamic", true}};
      return Json{{"quant_method", "compressed-tensors"},
                  {"format", "float-quantized"},
                  {"quantization_status", "compressed"},
                  {"config_groups", {{"group_0", {{"targets", {"Linear"}}, {"weights", weights}, {"input_activations", inputs}}}}},
                  {"ignore", unquantized},
                  {"kv_cache_scheme", nullptr}};
    }
    case QuantizeTarget::kNvfp4:
      // W4A16_NVFP4, not NVFP4: a weight-only producer cannot know the activations' amax, and
      // vLLM's ModelOpt NVFP4 (W4A4) method reads a static input_scale for every linear.
      return Json{{"quant_method", "modelopt"}, {"quant_algo", "W4A16_NVFP4"}, {"group_size", kNvfp4Group}, {"kv_cache_quant_algo", nullptr},
                  {"exclude_modules", unquantized}};
  }
  return nullptr;
}

bool sidecar_survives(std::string_view name, const TensorOps& ops) {
  return name != "hf_quant_config.json" || (!ops.dequant && !ops.quantize);
}

Json config_after(const Json& config, const TensorOps& ops, const std::vector<std::string>& unquantized) {
  Json c = config;
  std::optional<DType> target = ops.dequant ? ops.dequant : ops.cast;
  if (ops.dequant) drop_quantization_config(c);
  if (ops.quantize) c["quantization_config"] = quantization_config_for(*ops.quantize, unquantized);
  if (target && (*target == DType::kBF16 || *target == DType::kF16 || *target == DType::kF32)) {
    for (const char* key : {"torch_dtype", "dtype"})
      if (c.contains(key)) c[key] = dtype_word(*target);
    if (!c.contains("torch_dtype") && !c.contains("dtype")) c["torch_dtype"] = dtype_word(*target);
  }
  if (ops.quantize && c.contains("expert_dtype") && !quantize_layout(*ops.quantize).expert_dtype.empty())
    c["expert_dtype"] = std::string(quantize_layout(*ops.quantize).expert_dtype);
  return c;
}

}  // namespace moeckpt::quant
