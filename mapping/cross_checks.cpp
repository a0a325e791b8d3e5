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

}  // namespace

Findings cross_check(const Architecture& arch, const Json* config, const std::string& label,
                     std::span<const TensorInfo> tensors, const MapPlan& plan,
                     const std::function<std::string(const TensorInfo&)>& file_of) {
  Findings f;
  const TensorNameIndex index(tensors);
  auto by_name = [&](std::string_view name) {
    const TensorInfo* t = index.find(name);
    if (!t) throw std::out_of_range("cross_check: the plan names a tensor the checkpoint lacks");
    return t;
  };

  std::optional<ConfigView> view;
  if (config) {
    std::vector<std::vector<std::string>> aliases(arch.aliases.begin(), arch.aliases.end());
    view.emplace(*config, aliases, arch.config_section);
  }
  auto n_experts = view ? view->get(ConfigField::kNumExperts) : std::nullopt;
  auto hidden = view ? view->get(ConfigField::kHiddenSize) : std::nullopt;
  auto inter = view ? view->get(ConfigField::kMoeIntermediateSize) : std::nullopt;

  // Experts seen per (main-model) layer, and per (layer, shard) the weights' dtype/shape.
  std::map<int64_t, std::set<int64_t>> experts;
  std::map<int64_t, int64_t> fused_count;
  struct Seen {
    const TensorInfo* first = nullptr;
    bool reported = false;
  };
  std::map<std::pair<int64_t, std::string>, Seen> per_proj;
  std::set<int64_t> expert_layers;
  std::optional<DType> dsv4_dtype;
  const TensorInfo* dsv4_example = nullptr;
  for (const auto& e : plan.entries) {
    if (e.mtp || (e.kind != "expert" && e.kind != "fused_expert")) continue;
    const TensorInfo* t = by_name(e.checkpoint);
    if (e.layer >= 0) expert_layers.insert(e.layer);
    if (e.kind == "fused_expert") {
      if (t->shape.size() == 3 && (e.param.ends_with("_weight") || e.param.ends_with("w13_weight") || e.param.ends_with("w2_weight")))
        fused_count[e.layer] = static_cast<int64_t>(t->shape[0]);
      continue;
    }
    experts[e.layer].insert(*e.expert_id);
    if (!e.checkpoint.ends_with(".weight")) continue;
    if (!dsv4_dtype) {
      dsv4_dtype = t->dtype;
      dsv4_example = t;
    }
    auto& seen = per_proj[{e.layer, e.shard_id}];
    if (!seen.first) {
      seen.first = t;
      // Shape against the config: gate/up [I, H], down [H, I]; packed FP4 halves the last.
      if (hidden && inter && hidden->value > 0 && inter->value > 0) {
        uint64_t H = static_cast<uint64_t>(hidden->value), I = static_cast<uint64_t>(inter->value);
        std::vector<uint64_t> want = e.shard_id == "w2" ? std::vector<uint64_t>{H, I} : std::vector<uint64_t>{I, H};
        if (packed_fp4(t->dtype)) want[1] /= 2;
        if (t->shape != want)
          f.push_back(error("E-EXPERT-SHAPE",
                            "expert weight is " + shape_of(t->shape) + " but " + hidden->key + "=" + std::to_string(H) + " and " +
                                inter->key + "=" + std::to_string(I) + " make it " + shape_of(want) +
                                (packed_fp4(t->dtype) ? " (packed FP4: two values per byte)" : ""),
                            file_of(*t), t->name));
      }
    } else if (!seen.reported && (t->dtype != seen.first->dtype || t->shape != seen.first->shape)) {
      seen.reported = true;
      f.push_back(error("E-EXPERT-INCONSISTENT",
                        "is " + std::string(dtype_name(t->dtype)) + " " + shape_of(t->shape) + " while " + seen.first->name +
                            " is " + std::string(dtype_name(seen.first->dtype)) + " " + shape_of(seen.first->shape),
                        file_of(*t), t->name));
    }
  }

  // Experts per layer against the config.
  if (n_experts && n_experts->value > 0) {
    std::map<int64_t, std::vector<int64_t>> layers_by_count;
    for (const auto& [layer, ids] : experts) {
      int64_t count = static_cast<int64_t>(ids.size());
      bool bad = count != n_experts->value || (!ids.empty() && *ids.rbegin() >= n_experts->value);
      if (bad) layers_by_count[count].push_back(layer);
    }
    for (const auto& [layer, count] : fused_count)
      if (count != n_experts->value) layers_by_count[count].push_back(layer);
    for (const auto& [count, layers] : layers_by_count)
      f.push_back(error("E-EXPERT-COUNT",
                        "layer" + std::string(layers.size() > 1 ? "s " : " ") + format_ranges(layers) + ": " + std::to_string(count) +
                            " experts in the tensors, but '" + n_experts->key + "' is " + std::to_string(n_experts->value),
                        label));
  }

  // MoE layers where the config puts them.
  if (view && plan.num_layers) {
    std::set<int64_t> want(plan.moe_layers.begin(), plan.moe_layers.end());
    std::vector<int64_t> extra, missing;
    for (int64_t l : expert_layers)
      if (!want.count(l)) extra.push_back(l);
    for (int64_t l : want)
      if (!expert_layers.count(l)) missing.push_back(l);
    if (!extra.empty())
      f.push_back(error("E-MOE-LAYERS", "expert tensors in layer(s) " + format_ranges(extra) + ", which the config makes dense (" +
                                            plan.moe_layers_explanation + ")", label));
    if (!missing.empty() && !expert_layers.empty())
      f.push_back(error("E-MOE-LAYERS", "layer(s) " + format_ranges(missing) + " should hold experts (" + plan.moe_layers_explanation +
                                            ") but have no expert tensors", label));
  }

  // DeepSeek V4: expert_dtype against the experts' real dtype.
  if (plan.expert_dtype && dsv4_dtype) {
    bool fp8_real = dtype_is_fp8(*dsv4_dtype);
    bool fp4_real = packed_fp4(*dsv4_dtype) || *dsv4_dtype == DType::kF4;
    const char* said = plan.expert_dtype->value == ExpertDtype::kFp4 ? "fp4" : "fp8";
    std::string how = plan.expert_dtype->explicit_in_config ? "expert_dtype is \"" + std::string(said) + "\""
                                                            : "expert_dtype is absent, which means \"fp4\"";
    if (fp8_real && plan.expert_dtype->value == ExpertDtype::kFp4)
      f.push_back(error("E-EXPERT-DTYPE-MISMATCH",
                        "routed experts are FP8 (" + std::string(dtype_name(*dsv4_dtype)) + ") but " + how +
                            ": an engine would load their .scale tensors as FP4 weight_scale; set \"expert_dtype\": \"fp8\"",
                        file_of(*dsv4_example), dsv4_example->name));
    if (fp4_real && plan.expert_dtype->value == ExpertDtype::kFp8)
      f.push_back(error("E-EXPERT-DTYPE-MISMATCH",
                        "routed experts are packed FP4 (" + std::string(dtype_name(*dsv4_dtype)) + ") but " + how +
                            "; set \"expert_dtype\": \"fp4\" or remove it",
                        file_of(*dsv4_example), dsv4_example->name));
  }

  for (const auto& n : plan.unmapped) {
    const TensorInfo* t = by_name(n);
    f.push_back(error("E-MAP-UNMAPPED", "matches no tensor family of " + arch.name + ": an engine would not know where to load it",
                      file_of(*t), n));
  }
  for (const auto& u : plan.unfilled)
    f.push_back(error("E-MAP-UNFILLED", u.param + (u.expert_id ? " expert " + std::to_string(*u.expert_id) + " " + u.shard_id : "") +
                                            (u.packed.empty() ? "" : " shard " + u.packed) + ": " + u.reason + " (expected " +
                                            u.expected + ")",
                      "", u.expected));
  return f;
}

}  // namespace moeckpt
