// What a checkpoint says about its MoE layout, from config.json (over the aliases) and from
// the tensor names themselves, for `inspect` and as evidence for `validate`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "loader/tensor.h"
#include "mapping/config_view.h"

namespace moeckpt {

// Where a tensor name puts it: layer index and, for a per-expert tensor, the expert index.
struct ExpertTensorRef {
  int64_t layer = -1;   // -1 when the name has no "layers.N." part
  int64_t expert = -1;  // -1 for fused 3-D expert tensors
  bool shared = false;  // shared_experts / shared_expert
};

// Parses names like "model.layers.3.mlp.experts.7.gate_proj.weight" (routed, expert 7),
// "model.layers.3.mlp.experts.gate_up_proj" (fused), "...block_sparse_moe.input_linear.weight"
// (fused, GraniteMoE). nullopt when the tensor is not an expert weight.
std::optional<ExpertTensorRef> classify_expert_tensor(std::string_view name);

struct MoeSummary {
  std::optional<ResolvedInt> num_experts, top_k, num_shared_experts, moe_intermediate_size, num_layers;
  std::vector<int64_t> expert_layers;         // layers holding routed-expert tensors
  std::map<int64_t, int64_t> experts_per_layer;  // distinct expert indices found, per layer (per-expert layouts)
  std::string layout;                         // "per_expert", "fused", "mixed" or "" (no expert tensors)
  std::map<std::string, uint64_t> expert_dtypes;  // dtype of routed-expert tensors -> count
  uint64_t expert_tensors = 0;
  uint64_t expert_bytes = 0;
  bool has_shared_expert_tensors = false;
  // Where num_shared_experts came from: "config" (a key of config.json), or "tensors" when the
  // config names no count but the layers hold one shared expert each under the singular name
  // (Qwen2-MoE style "mlp.shared_expert.*", beside "shared_expert_gate"), which is one expert.
  std::string num_shared_experts_source;
  std::string shared_expert_family;  // e.g. "mlp.shared_expert.*" (names after "layers.N.")
  std::optional<ResolvedInt> shared_expert_intermediate_size;
};

// nullopt when neither the config nor the tensors show any sign of experts.
std::optional<MoeSummary> summarize_moe(const ConfigView* config, std::span<const TensorInfo> tensors);

// "0-3, 5, 7-9"
std::string format_ranges(const std::vector<int64_t>& sorted_values);

}  // namespace moeckpt
