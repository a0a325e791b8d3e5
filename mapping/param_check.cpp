#include "mapping/param_check.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "mapping/arch_registry.h"
#include "mapping/moe_summary.h"
#include "mapping/planner.h"

namespace moeckpt {
namespace {

bool unquantized_float(DType d) { return d == DType::kF16 || d == DType::kBF16 || d == DType::kF32 || d == DType::kF64; }
bool packed_two_per_byte(DType d) { return d == DType::kU8 || d == DType::kI8; }

std::string dims_string(const ExpectedTensor& t) {
  std::string v = "[", e = "[";
  for (size_t i = 0; i < t.shape.size(); ++i) {
    v += (i ? ", " : "") + (t.shape[i] ? std::to_string(*t.shape[i]) : std::string("?"));
    e += (i ? ", " : "") + t.dims[i];
  }
  return v + "] = " + e + "]";
}

class ParamChecker {
 public:
  explicit ParamChecker(const ParamCheckInput& in) : in_(in) {
    for (size_t i = 0; i < in.user_names->size(); ++i) by_name_.emplace((*in.user_names)[i], i);
  }

  ParamCheckResult run() {
    ExpectedSet ex = expand_params(*in_.model, *in_.config, in_.layers);
    mtp_layers_ = ex.mtp_layers;
    std::set<int64_t> present_layers;
    for (const auto& e : *in_.entries) present_layers.insert(e.layer);
    std::set<int64_t> absent_mtp, absent_decoder;
    for (const auto& t : ex.tensors) {
      if (!t.mtp && t.layer >= 0 && !present_layers.count(t.layer)) absent_decoder.insert(t.layer);
      // An MTP layer is all or nothing: a checkpoint may leave the draft layers out.
      if (t.mtp && !present_layers.count(t.layer)) {
        absent_mtp.insert(t.layer);
        continue;
      }
      expected_.insert(t.name);
      ++r_.expected;
      check_expected(t);
    }
    if (!absent_mtp.empty())
      r_.notes.push_back("the config has " + std::to_string(mtp_layers_) + " MTP layer(s) but layer(s) " +
                         format_ranges(std::vector<int64_t>(absent_mtp.begin(), absent_mtp.end())) +
                         " have no tensors: the main model loads, an MTP draft (speculative decoding) cannot be served from this checkpoint");
    // A whole decoder layer without tensors: the config builds more layers than the checkpoint
    // has (LongCat-Flash as transformers saves it: num_hidden_layers = 2 * num_layers).
    if (!absent_decoder.empty())
      r_.notes.push_back("layer(s) " + format_ranges(std::vector<int64_t>(absent_decoder.begin(), absent_decoder.end())) + " of the " +
                         std::to_string(in_.layers.num_layers) + " decoder layers the config's '" + in_.layers_key +
                         "' builds have no tensor at all: the checkpoint holds fewer layers than the config says, and the engine "
                         "would build the missing ones from whatever its allocation held");
    find_unexpected();
    return std::move(r_);
  }

 private:
  std::optional<size_t> filler(const ExpectedTensor& t) const {
    if (auto it = by_name_.find(t.name); it != by_name_.end()) return it->second;
    if (t.kind == ParamKind::kLinear && t.name.ends_with(".weight")) {
      std::string stem = t.name.substr(0, t.name.size() - 7);
      for (const char* alt : {".weight_packed", ".qweight"})
        if (auto it = by_name_.find(stem + alt); it != by_name_.end()) return it->second;
    }
    return std::nullopt;
  }

  void check_expected(const ExpectedTensor& t) {
    auto i = filler(t);
    if (!i) {
      if (!t.optional && !t.ignored) report_unfilled(t);
      return;
    }
    const TensorInfo& ti = *in_.tensor(*i);
    if (t.ignored) {
      r_.findings.push_back({"W-PARAM-IGNORED", ti.name, t.ignored_why});
      return;
    }
    check_dtype(t, ti);
    if (ti.name.ends_with(".weight") || t.kind != ParamKind::kLinear) check_shape(t, ti);
  }

  void report_unfilled(const ExpectedTensor& t) {
    auto engine = in_.engine_name(t.name);
    if (!engine) return;  // the engine skips the name itself
    UnfilledEntry u;
    u.param = engine->first;
    u.packed = engine->second;
    u.expected = t.name;
    u.layer = t.layer;
    u.reason = "no tensor: the engine would keep whatever its allocation held";
    r_.unfilled.push_back(std::move(u));
  }

  void check_dtype(const ExpectedTensor& t, const TensorInfo& ti) {
    if (t.kind != ParamKind::kTensor || unquantized_float(ti.dtype)) return;
    r_.findings.push_back({"E-PARAM-DTYPE", ti.name,
                           "is " + std::string(dtype_name(ti.dtype)) +
                               " but the engine allocates this parameter unquantized (BF16/F16/F32): its values would be copied without a scale"});
  }

  void check_shape(const ExpectedTensor& t, const TensorInfo& ti) {
    if (t.shape.empty()) return;
    if (ti.dtype == DType::kI32 || ti.dtype == DType::kU32) return;  // packed integers: the scheme's checks
    bool packed = t.kind == ParamKind::kLinear && packed_two_per_byte(ti.dtype);
    bool ok = ti.shape.size() == t.shape.size();
    for (size_t d = 0; ok && d < t.shape.size(); ++d) {
      if (!t.shape[d]) continue;
      uint64_t have = ti.shape[d];
      if (packed && d + 1 == t.shape.size()) have *= 2;
      ok = have == static_cast<uint64_t>(*t.shape[d]);
    }
    if (ok) return;
    r_.findings.push_back({"E-PARAM-SHAPE", ti.name,
                           "is " + shape_string(ti.shape) + " but the config makes it " + dims_string(t) +
                               (packed ? " (packed FP4: two values per byte in the last dimension)" : "")});
  }

  bool is_companion(const std::string& name) const {
    size_t dot = name.rfind('.');
    if (dot == std::string::npos) return false;
    std::string_view suffix = std::string_view(name).substr(dot + 1);
    const auto& s = quant_companion_suffixes();
    if (std::find(s.begin(), s.end(), suffix) == s.end()) return false;
    return expected_.count(name.substr(0, dot) + ".weight") > 0;
  }

  void find_unexpected() {
    const int64_t limit = in_.layers.num_layers + mtp_layers_;
    for (size_t i = 0; i < in_.entries->size(); ++i) {
      const PlanEntry& e = (*in_.entries)[i];
      const std::string& name = (*in_.user_names)[i];
      if (e.kind == "expert" || e.kind == "fused_expert" || expected_.count(name) || is_companion(name)) continue;
      std::string why;
      if (e.layer >= limit)
        why = "layer " + std::to_string(e.layer) + " does not exist: " + in_.layers_key + " is " + std::to_string(in_.layers.num_layers) +
              " and the config has " + std::to_string(mtp_layers_) + " MTP layer(s); the engine has no parameter for it and fails to load";
      else
        why = "the engine allocates no such parameter under this config; loading it fails with an unknown-parameter error";
      r_.unexpected.push_back(e.checkpoint);
      r_.findings.push_back({"E-PARAM-UNEXPECTED", e.checkpoint, why});
    }
  }

  const ParamCheckInput& in_;
  std::unordered_map<std::string_view, size_t> by_name_;
  std::unordered_set<std::string> expected_;
  int64_t mtp_layers_ = 0;
  ParamCheckResult r_;
};

}  // namespace

ParamCheckResult check_params(const ParamCheckInput& in) { return ParamChecker(in).run(); }

}  // namespace moeckpt
