#include "mapping/moe_summary.h"

#include <algorithm>
#include <set>
#include <string_view>

namespace moeckpt {
namespace {

bool parse_index_at(std::string_view s, size_t pos, int64_t* out, size_t* end) {
  size_t i = pos;
  int64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (v > (INT64_MAX - 9) / 10) return false;
    v = v * 10 + (s[i] - '0');
    ++i;
  }
  if (i == pos || i >= s.size() || s[i] != '.') return false;
  *out = v;
  *end = i;
  return true;
}

// Layer index from "...layers.N." (also "h.N.", "blocks.N." are not used by MoE families).
int64_t layer_of(std::string_view name) {
  size_t pos = 0;
  while ((pos = name.find("layers.", pos)) != std::string_view::npos) {
    if (pos == 0 || name[pos - 1] == '.') {
      int64_t v;
      size_t end;
      if (parse_index_at(name, pos + 7, &v, &end)) return v;
    }
    pos += 7;
  }
  return -1;
}

// Fused 3-D expert tensors by the names families give them.
constexpr std::string_view kFusedNames[] = {
    "experts.gate_up_proj", "experts.down_proj", "experts.gate_proj", "experts.up_proj",
    "experts.w1", "experts.w2", "experts.w3", "experts.w13", "experts.fc1", "experts.fc2",
    "experts.mlp.w1", "experts.mlp.w2", "experts.mlp.v1",
    "block_sparse_moe.input_linear", "block_sparse_moe.output_linear",
    "experts.input_linear", "experts.output_linear",
};

}  // namespace

std::optional<ExpertTensorRef> classify_expert_tensor(std::string_view name) {
  ExpertTensorRef r;
  size_t pos = name.find("experts.");
  while (pos != std::string_view::npos) {
    bool boundary = pos == 0 || name[pos - 1] == '.' || name[pos - 1] == '_';
    if (boundary) {
      bool shared = pos >= 7 && name.substr(pos - 7, 7) == "shared_";
      int64_t e;
      size_t end;
      if (parse_index_at(name, pos + 8, &e, &end)) {
        r.layer = layer_of(name);
        r.expert = e;
        r.shared = shared;
        return r;
      }
      if (shared) {
        r.layer = layer_of(name);
        r.shared = true;
        return r;
      }
    }
    pos = name.find("experts.", pos + 8);
  }
  if (name.find("shared_expert.") != std::string_view::npos) {
    r.layer = layer_of(name);
    r.shared = true;
    return r;
  }
  for (std::string_view f : kFusedNames) {
    size_t p = name.find(f);
    if (p == std::string_view::npos) continue;
    if (p > 0 && name[p - 1] != '.') continue;
    size_t after = p + f.size();
    if (after == name.size() || name[after] == '.' || name[after] == '_') {
      r.layer = layer_of(name);
      return r;
    }
  }
  return std::nullopt;
}

namespace {

// "mlp.shared_expert.*" for "model.layers.3.mlp.shared_expert.up_proj.weight": the singular
// family of one shared expert, after the layer index; "" for any other name.
std::string single_shared_expert_family(std::string_view name) {
  size_t at = name.find("shared_expert.");
  if (at == std::string_view::npos) return {};
  std::string_view head = name.substr(0, at);
  size_t layers = head.rfind("layers.");
  size_t from = 0;
  if (layers != std::string_view::npos) {
    size_t dot = head.find('.', layers + 7);
    from = dot == std::string_view::npos ? at : dot + 1;
  }
  return std::string(name.substr(from, at + 14 - from)) + "*";
}

// A count the config does not give: one shared expert per layer when its tensors use the
// singular family (vLLM's Qwen2-MoE-style shared_expert, one MLP of
// shared_expert_intermediate_size).
void infer_shared_count(MoeSummary& s, std::span<const TensorInfo> tensors) {
  if (s.num_shared_experts) {
    s.num_shared_experts_source = "config";
    return;
  }
  for (const auto& t : tensors) {
    std::string family = single_shared_expert_family(t.name);
    if (family.empty()) continue;
    s.num_shared_experts = ResolvedInt{1, ""};
    s.num_shared_experts_source = "tensors";
    s.shared_expert_family = std::move(family);
    return;
  }
}

}  // namespace

std::optional<MoeSummary> summarize_moe(const ConfigView* config, std::span<const TensorInfo> tensors) {
  MoeSummary s;
  if (config) {
    s.num_experts = config->get(ConfigField::kNumExperts);
    s.top_k = config->get(ConfigField::kTopK);
    s.num_shared_experts = config->get(ConfigField::kNumSharedExperts);
    s.moe_intermediate_size = config->get(ConfigField::kMoeIntermediateSize);
    s.num_layers = config->get(ConfigField::kNumLayers);
    s.shared_expert_intermediate_size = config->get(ConfigField::kSharedIntermediateSize);
  }
  std::set<int64_t> layers;
  std::map<int64_t, std::set<int64_t>> experts;
  bool per_expert = false, fused = false;
  for (const auto& t : tensors) {
    auto r = classify_expert_tensor(t.name);
    if (!r) continue;
    if (r->shared) {
      s.has_shared_expert_tensors = true;
      continue;
    }
    ++s.expert_tensors;
    s.expert_bytes += t.nbytes;
    if (r->layer >= 0) layers.insert(r->layer);
    if (r->expert >= 0) {
      per_expert = true;
      experts[r->layer].insert(r->expert);
    } else {
      fused = true;
    }
    // The weights' dtype is what matters; scales and biases have their own.
    std::string_view n = t.name;
    bool is_weight = n.ends_with(".weight") || n.ends_with("_proj") || n.ends_with("_blocks") ||
                     n.ends_with(".w1") || n.ends_with(".w2") || n.ends_with(".w3") ||
                     n.ends_with("_linear") || n.ends_with(".weight_packed");
    if (is_weight) ++s.expert_dtypes[std::string(dtype_name(t.dtype))];
  }
  s.expert_layers.assign(layers.begin(), layers.end());
  for (auto& [l, e] : experts) s.experts_per_layer[l] = static_cast<int64_t>(e.size());
  s.layout = per_expert && fused ? "mixed" : per_expert ? "per_expert" : fused ? "fused" : "";
  bool config_says_moe = s.num_experts && s.num_experts->value > 0;
  if (!config_says_moe && s.expert_tensors == 0 && !s.has_shared_expert_tensors) return std::nullopt;
  if (s.has_shared_expert_tensors) infer_shared_count(s, tensors);
  else if (s.num_shared_experts) s.num_shared_experts_source = "config";
  return s;
}

std::string format_ranges(const std::vector<int64_t>& v) {
  std::string out;
  size_t i = 0;
  while (i < v.size()) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(v[i]);
    if (j > i) out += "-" + std::to_string(v[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace moeckpt
