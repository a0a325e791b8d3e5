#include "mapping/cross_checks.h"

#include <functional>
#include <map>
#include <set>
#include <stdexcept>

#include "loader/name_index.h"

#include "mapping/config_view.h"
#include "mapping/moe_summary.h"

namespace moeckpt {
namespace {

bool packed_fp4(DType d) { return d == DType::kI8 || d == DType::kU8; }

std::string shape_of(const std::vector<uint64_t>& s) { return shape_string(s); }

// The checks of cross_check, in the order their findings appear.
class CrossChecker {
 public:
  CrossChecker(const Architecture& arch, const Json* config, const std::string& label, std::span<const TensorInfo> tensors,
               const MapPlan& plan, const std::function<std::string(const TensorInfo&)>& file_of)
      : arch_(arch), label_(label), index_(tensors), plan_(plan), file_of_(file_of) {
    if (config) {
      std::vector<std::vector<std::string>> aliases(arch.aliases.begin(), arch.aliases.end());
      view_.emplace(*config, aliases, arch.config_section);
    }
    n_experts_ = view_ ? view_->get(ConfigField::kNumExperts) : std::nullopt;
    hidden_ = view_ ? view_->get(ConfigField::kHiddenSize) : std::nullopt;
    inter_ = view_ ? view_->get(ConfigField::kMoeIntermediateSize) : std::nullopt;
  }

  Findings run() {
    scan_experts();
    check_expert_counts();
    if (view_ && plan_.num_layers) check_moe_layers();
    if (plan_.expert_dtype && dsv4_dtype_) check_dsv4_expert_dtype();
    report_unmapped();
    report_unfilled();
    report_params();
    return std::move(f_);
  }

 private:
  const TensorInfo* by_name(std::string_view name) const {
    const TensorInfo* t = index_.find(name);
    if (!t) throw std::out_of_range("cross_check: the plan names a tensor the checkpoint lacks");
    return t;
  }

  // Experts seen per (main-model) layer; per (layer, shard) the weights' dtype and shape against
  // the config and against the layer's first expert.
  void scan_experts() {
    for (const auto& e : plan_.entries) {
      if (e.mtp || e.shared || (e.kind != "expert" && e.kind != "fused_expert")) continue;
      const TensorInfo* t = by_name(e.checkpoint);
      if (e.layer >= 0) expert_layers_.insert(e.layer);
      if (e.kind == "fused_expert") {
        if (t->shape.size() == 3 && (e.param.ends_with("_weight") || e.param.ends_with("w13_weight") || e.param.ends_with("w2_weight")))
          fused_count_[e.layer] = static_cast<int64_t>(t->shape[0]);
        continue;
      }
      experts_[e.layer].insert(*e.expert_id);
      if (!e.checkpoint.ends_with(".weight")) continue;
      if (!dsv4_dtype_) {
        dsv4_dtype_ = t->dtype;
        dsv4_example_ = t;
      }
      check_expert_weight(e, t);
    }
  }

  void check_expert_weight(const PlanEntry& e, const TensorInfo* t) {
    // Id groups (ERNIE-4.5-VL's text and vision experts) are compared within their own group
    // (engine parameter) only, and have widths of their own: the config's single
    // moe_intermediate_size does not say theirs.
    auto& seen = per_proj_[{e.layer, e.grouped ? e.param + " " + e.shard_id : e.shard_id}];
    if (!seen.first) {
      seen.first = t;
      if (!e.grouped) check_expert_shape(e, *t);
    } else if (!seen.reported && (t->dtype != seen.first->dtype || t->shape != seen.first->shape)) {
      seen.reported = true;
      f_.push_back(error("E-EXPERT-INCONSISTENT",
                         "is " + std::string(dtype_name(t->dtype)) + " " + shape_of(t->shape) + " while " + seen.first->name +
                             " is " + std::string(dtype_name(seen.first->dtype)) + " " + shape_of(seen.first->shape),
                         file_of_(*t), t->name));
    }
  }

  // Shape against the config: gate/up [I, H], down [H, I]; packed FP4 halves the last.
  void check_expert_shape(const PlanEntry& e, const TensorInfo& t) {
    if (!(hidden_ && inter_ && hidden_->value > 0 && inter_->value > 0)) return;
    uint64_t H = static_cast<uint64_t>(hidden_->value), I = static_cast<uint64_t>(inter_->value);
    std::vector<uint64_t> want = e.shard_id == "w2" ? std::vector<uint64_t>{H, I} : std::vector<uint64_t>{I, H};
    if (packed_fp4(t.dtype)) want[1] /= 2;
    if (t.shape != want)
      f_.push_back(error("E-EXPERT-SHAPE",
                         "expert weight is " + shape_of(t.shape) + " but " + hidden_->key + "=" + std::to_string(H) + " and " +
                             inter_->key + "=" + std::to_string(I) + " make it " + shape_of(want) +
                             (packed_fp4(t.dtype) ? " (packed FP4: two values per byte)" : ""),
                         file_of_(t), t.name));
  }

  // Experts per layer against the config.
  void check_expert_counts() {
    if (!n_experts_ || n_experts_->value <= 0) return;
    std::map<int64_t, std::vector<int64_t>> layers_by_count;
    for (const auto& [layer, ids] : experts_) {
      int64_t count = static_cast<int64_t>(ids.size());
      bool bad = count != n_experts_->value || (!ids.empty() && *ids.rbegin() >= n_experts_->value);
      if (bad) layers_by_count[count].push_back(layer);
    }
    for (const auto& [layer, count] : fused_count_)
      if (count != n_experts_->value) layers_by_count[count].push_back(layer);
    for (const auto& [count, layers] : layers_by_count)
      f_.push_back(error("E-EXPERT-COUNT",
                         "layer" + std::string(layers.size() > 1 ? "s " : " ") + format_ranges(layers) + ": " + std::to_string(count) +
                             " experts in the tensors, but '" + n_experts_->key + "' is " + std::to_string(n_experts_->value),
                         label_));
  }

  // MoE layers where the config puts them.
  void check_moe_layers() {
    std::set<int64_t> want(plan_.moe_layers.begin(), plan_.moe_layers.end());
    std::vector<int64_t> extra, missing;
    for (int64_t l : expert_layers_)
      if (!want.count(l)) extra.push_back(l);
    for (int64_t l : want)
      if (!expert_layers_.count(l)) missing.push_back(l);
    if (!extra.empty())
      f_.push_back(error("E-MOE-LAYERS", "expert tensors in layer(s) " + format_ranges(extra) + ", which the config makes dense (" +
                                             plan_.moe_layers_explanation + ")", label_));
    if (!missing.empty() && !expert_layers_.empty())
      f_.push_back(error("E-MOE-LAYERS", "layer(s) " + format_ranges(missing) + " should hold experts (" + plan_.moe_layers_explanation +
                                             ") but have no expert tensors", label_));
  }

  // DeepSeek V4: expert_dtype against the experts' real dtype.
  void check_dsv4_expert_dtype() {
    bool fp8_real = dtype_is_fp8(*dsv4_dtype_);
    bool fp4_real = packed_fp4(*dsv4_dtype_) || *dsv4_dtype_ == DType::kF4;
    const char* said = plan_.expert_dtype->value == ExpertDtype::kFp4 ? "fp4" : "fp8";
    std::string how = plan_.expert_dtype->explicit_in_config ? "expert_dtype is \"" + std::string(said) + "\""
                                                             : "expert_dtype is absent, which means \"fp4\"";
    if (fp8_real && plan_.expert_dtype->value == ExpertDtype::kFp4)
      f_.push_back(error("E-EXPERT-DTYPE-MISMATCH",
                         "routed experts are FP8 (" + std::string(dtype_name(*dsv4_dtype_)) + ") but " + how +
                             ": an engine would load their .scale tensors as FP4 weight_scale; set \"expert_dtype\": \"fp8\"",
                         file_of_(*dsv4_example_), dsv4_example_->name));
    if (fp4_real && plan_.expert_dtype->value == ExpertDtype::kFp8)
      f_.push_back(error("E-EXPERT-DTYPE-MISMATCH",
                         "routed experts are packed FP4 (" + std::string(dtype_name(*dsv4_dtype_)) + ") but " + how +
                             "; set \"expert_dtype\": \"fp4\" or remove it",
                         file_of_(*dsv4_example_), dsv4_example_->name));
  }

  void report_unmapped() {
    for (const auto& n : plan_.unmapped) {
      const TensorInfo* t = by_name(n);
      f_.push_back(error("E-MAP-UNMAPPED", "matches no tensor family of " + arch_.name + ": an engine would not know where to load it",
                         file_of_(*t), n));
    }
  }

  void report_unfilled() {
    for (const auto& u : plan_.unfilled)
      f_.push_back(error("E-MAP-UNFILLED", u.param + (u.expert_id ? " expert " + std::to_string(*u.expert_id) + " " + u.shard_id : "") +
                                               (u.packed.empty() ? "" : " shard " + u.packed) + ": " + u.reason + " (expected " +
                                               u.expected + ")",
                         "", u.expected));
  }

  // The parameter model's findings (mapping/param_check.h).
  void report_params() {
    for (const auto& p : plan_.param_findings) {
      const TensorInfo* t = by_name(p.tensor);
      if (p.code.starts_with("W-")) f_.push_back(warning(p.code, p.message, file_of_(*t), p.tensor));
      else f_.push_back(error(p.code, p.message, file_of_(*t), p.tensor));
    }
  }

  struct Seen {
    const TensorInfo* first = nullptr;
    bool reported = false;
  };

  const Architecture& arch_;
  const std::string& label_;
  const TensorNameIndex index_;
  const MapPlan& plan_;
  const std::function<std::string(const TensorInfo&)>& file_of_;
  std::optional<ConfigView> view_;
  std::optional<ResolvedInt> n_experts_, hidden_, inter_;
  Findings f_;
  std::map<int64_t, std::set<int64_t>> experts_;  // expert ids per layer
  std::map<int64_t, int64_t> fused_count_;        // experts per layer, from fused tensors
  std::map<std::pair<int64_t, std::string>, Seen> per_proj_;
  std::set<int64_t> expert_layers_;
  std::optional<DType> dsv4_dtype_;  // the first expert weight's dtype
  const TensorInfo* dsv4_example_ = nullptr;
};

}  // namespace

Findings cross_check(const Architecture& arch, const Json* config, const std::string& label,
                     std::span<const TensorInfo> tensors, const MapPlan& plan,
                     const std::function<std::string(const TensorInfo&)>& file_of) {
  return CrossChecker(arch, config, label, tensors, plan, file_of).run();
}

}  // namespace moeckpt
