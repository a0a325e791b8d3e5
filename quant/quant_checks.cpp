#include "quant/quant_checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <set>

#include "loader/error.h"
#include "loader/parallel.h"
#include "quant/codec.h"
#include "quant/quant_config.h"
#include "quant/scheme.h"
#include "quant/values.h"

namespace moeckpt::quant {
namespace {

// E8M0 holds nothing but scales: a tensor of it means the checkpoint is quantized even where
// the scan does not know the layout.
bool quantized_dtype(DType d) {
  return d == DType::kF8_E4M3 || d == DType::kF8_E5M2 || d == DType::kF4 || d == DType::kF8_E8M0;
}

// Schemes each quant_method of config.json can describe; a method not listed is not checked.
const std::map<std::string, std::set<Scheme>>& method_schemes() {
  static const std::map<std::string, std::set<Scheme>> m = {
      {"fp8", {Scheme::kBlockFp8, Scheme::kPerTensorFp8, Scheme::kPerChannelFp8}},
      {"mxfp4", {Scheme::kMxfp4Packed, Scheme::kMxfp4GptOss}},
      {"compressed-tensors", {Scheme::kBlockFp8, Scheme::kPerTensorFp8, Scheme::kPerChannelFp8, Scheme::kNvfp4Ct, Scheme::kIntPacked}},
      {"modelopt", {Scheme::kPerTensorFp8, Scheme::kPerChannelFp8, Scheme::kNvfp4}},
      {"gptq", {Scheme::kGptq}},
      {"awq", {Scheme::kAwq}},
  };
  return m;
}

// DeepSeek V4 declares block FP8 (quant_method fp8) and stores its experts as MXFP4 when
// config.json's expert_dtype is "fp4" (the default).
bool fp4_experts_under_fp8(const Json& config) {
  auto it = config.find("expert_dtype");
  if (it != config.end()) return it->is_string() && *it == "fp4";
  auto mt = config.find("model_type");
  return mt != config.end() && mt->is_string() && *mt == "deepseek_v4";
}

void config_checks(const Checkpoint& ck, const Json* config, const QuantConfig& cfg, const QuantScan& scan, Findings& f) {
  if (!config || !config->is_object()) return;
  const bool has_quant_tensors =
      !scan.tensors.empty() || std::any_of(ck.tensors().begin(), ck.tensors().end(), [](const TensorInfo& t) {
        // Packed integer weights count even in a layout the scan cannot read (3-bit codes, say).
        return quantized_dtype(t.dtype) || t.name.ends_with(".weight_packed") || t.name.ends_with(".qweight");
      });
  const Json* qc = nullptr;
  for (const char* key : {"quantization_config", "compression_config"})
    if (auto it = config->find(key); it != config->end() && it->is_object()) qc = &*it;
  if (has_quant_tensors && !qc && !cfg.present()) {
    // Without it an engine builds unquantized layers and fails on the FP8/FP4 bytes or scale names.
    std::string first;
    for (const auto& t : ck.tensors())
      if (quantized_dtype(t.dtype)) {
        first = t.name;
        break;
      }
    f.push_back(error("E-QUANT-CONFIG-MISSING",
                      "the checkpoint holds quantized weights (" + (first.empty() ? std::string("scaled tensors") : first) +
                          ") but config.json has no quantization_config",
                      ck.config_file()));
    return;
  }
  if (!qc && !cfg.present()) return;
  if (!has_quant_tensors) {
    // The engine builds quantized layers from the config and loads these float weights into
    // them: their scales never arrive (issue reports: FP8 params, garbage output).
    f.push_back(error("E-QUANT-CONFIG-UNUSED",
                      "config.json has a quantization_config but no tensor is quantized: an engine would allocate quantized "
                      "parameters and load these unquantized weights into them; remove quantization_config",
                      ck.config_file()));
    return;
  }
  auto known = method_schemes().find(cfg.method_name);
  if (known == method_schemes().end()) return;
  for (const auto& q : scan.tensors)
    if (!known->second.count(q.scheme) && !(q.scheme == Scheme::kMxfp4Packed && known->first == "fp8" && fp4_experts_under_fp8(*config))) {
      f.push_back(error("E-QUANT-METHOD-MISMATCH",
                        fmt::format("quantization_config.quant_method is '{}' but {} is stored as {}", known->first, q.weight->name,
                                    scheme_name(q.scheme)),
                        cfg.file, q.weight->name));
      return;  // one is enough: the rest follow from the same cause
    }
}

std::string_view module_of(std::string_view weight_name) {
  const size_t dot = weight_name.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : weight_name.substr(0, dot);
}

bool has_input_scale(const QuantTensor& q) {
  return std::any_of(q.dropped.begin(), q.dropped.end(), [](const TensorInfo* t) {
    std::string_view n = t->name;
    return n.ends_with("input_scale") || n.ends_with("input_global_scale");
  });
}

// What the config says against what the tensors are: ignored modules hold no quantized
// tensors, every quantized module is one a config group targets, static activation scales
// are there.
void group_checks(const QuantConfig& cfg, const QuantScan& scan, const Checkpoint& ck, Findings& f) {
  for (const auto& p : cfg.problems) f.push_back(error("E-QUANT-CONFIG", p, cfg.file));
  if (!cfg.present()) return;
  for (const auto& q : scan.tensors) {
    const std::string_view module = module_of(q.name);
    const std::string file = ck.file_label(q.weight->file);
    if (cfg.ignored(module)) {
      f.push_back(error("E-QUANT-IGNORED", fmt::format("{} is ignored by the quantization config but holds {} tensors ({}); an engine loads it unquantized",
                                                       module, scheme_name(q.scheme), q.weight->name),
                        file, q.weight->name));
      continue;
    }
    const QuantGroup* g = cfg.group_for(module);
    if (!g && !cfg.groups.empty()) {
      f.push_back(error("E-QUANT-UNCOVERED", fmt::format("{} is quantized ({}) but no config group targets {}", q.weight->name, scheme_name(q.scheme), module),
                        file, q.weight->name));
      continue;
    }
    if (g && g->static_inputs && !has_input_scale(q) && q.scheme != Scheme::kGptq && q.scheme != Scheme::kAwq && q.scheme != Scheme::kIntPacked)
      f.push_back(error("E-QUANT-INPUT-SCALE-MISSING",
                        fmt::format("{}: the config's group {} has static activations but {}.input_scale{} is missing", q.weight->name, g->name,
                                    module, q.scheme == Scheme::kNvfp4Ct ? " / input_global_scale" : ""),
                        file, q.weight->name));
  }
}

struct ScanRow {
  const TensorInfo* t = nullptr;
  bool is_scale = false;
  Stats st;
  bool negative_or_zero = false;  // scales only
  uint64_t zeros = 0;
  std::string unreadable;         // reason, when the bytes could not be read
};

void scan_values(const Checkpoint& ck, const QuantScan& scan, ScanRow& row) {
  try {
    TensorValues tv(ck, scan, row.t->name, false);
    std::vector<float> buf;
    const uint64_t per = std::max<uint64_t>(1, (uint64_t{4} << 20) / std::max<uint64_t>(1, tv.row_elems()));
    for (uint64_t r = 0; r < tv.rows(); r += per) {
      tv.read(r, std::min(tv.rows(), r + per), buf);
      row.st.add(buf.data(), buf.size());
      if (row.is_scale)
        for (float v : buf)
          if (v <= 0) row.negative_or_zero = true;
    }
  } catch (const Error& e) {
    row.unreadable = e.reason();
  }
}

Json number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return std::strtod(fmt::format("{}", static_cast<float>(v)).c_str(), nullptr);
}

}  // namespace

QuantCheckResult check_quantization(const Checkpoint& ck, const Json* config, bool data, unsigned threads) {
  QuantCheckResult r;
  const QuantConfig cfg = read_quant_config(ck);
  QuantScan scan = scan_quantized(ck, cfg);
  r.findings = scan.findings;
  config_checks(ck, config, cfg, scan, r.findings);
  group_checks(cfg, scan, ck, r.findings);
  if (!data) return r;

  std::set<const TensorInfo*> scales;
  for (const auto& q : scan.tensors) {
    scales.insert(q.scale);
    if (q.scale2) scales.insert(q.scale2);
  }
  std::vector<ScanRow> rows;
  for (const auto& t : ck.tensors()) {
    // Integer and bool tensors hold no NaN or Inf (scales stored as U8 E8M0 bytes are not decoded here).
    if (!fmt_of(t.dtype)) continue;
    ScanRow row;
    row.t = &t;
    row.is_scale = scales.count(&t) > 0;
    rows.push_back(std::move(row));
  }
  // One tensor per job: tensors are independent and reading dominates.
  parallel_for(rows.size(), threads, [&](size_t i) { scan_values(ck, scan, rows[i]); });

  r.values = Json::object();
  for (const auto& row : rows) {
    const std::string file = ck.file_label(row.t->file);
    const std::string& name = row.t->name;
    if (!row.unreadable.empty()) {
      r.findings.push_back(error("E-DATA-UNREADABLE", row.unreadable, file, name));
      continue;
    }
    r.values[name] = Json{{"amax", number(row.st.amax)}, {"nan", row.st.nan}, {"inf", row.st.inf}};
    if (row.is_scale) {
      if (row.st.nan || row.st.inf)
        r.findings.push_back(error("E-SCALE-VALUE", fmt::format("scale holds {} NaN and {} Inf value(s): its block dequantizes to garbage",
                                                                row.st.nan, row.st.inf),
                                   file, name));
      else if (row.st.count && row.st.min < 0)
        r.findings.push_back(error("E-SCALE-VALUE", fmt::format("scale holds negative values (min {})", row.st.min), file, name));
      else if (row.negative_or_zero)
        r.findings.push_back(warning("W-SCALE-ZERO", "scale holds zeros: those blocks dequantize to 0", file, name));
      continue;
    }
    if (row.st.nan)
      r.findings.push_back(error("E-VALUES-NAN", fmt::format("{} NaN value(s) of {}", row.st.nan, row.st.count), file, name));
    if (row.st.inf)
      r.findings.push_back(error("E-VALUES-INF", fmt::format("{} infinite value(s) of {}", row.st.inf, row.st.count), file, name));
  }
  return r;
}

}  // namespace moeckpt::quant
