// Which decoder layers hold routed experts, by the rule each family's config uses.
// Rules (the registry's "moe_layers": {"rule": ..., key overrides}):
//   all            every layer
//   first_k_dense  i >= first_k_dense_replace and i % moe_layer_freq == 0   (DeepSeek V2/V3, GLM-4.5, ...)
//   sparse_step    i not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0   (Qwen2/3-MoE)
//   period         i % expert_layer_period == expert_layer_offset   (Jamba)
//   interleave     i in moe_layers if given, else (i + 1) % interleave_moe_layer_step == 0   (Llama 4)
//   pattern        hybrid_override_pattern[i] == 'E'   (Nemotron-H)
//   layer_types    a per-layer list (e.g. mlp_layer_types) whose entry equals one of "values"
//                  (strings or numbers/flags: MiMo-V2's moe_layer_freq [0, 1, 1, ...])
//   dense_prefix   i >= num_dense_layers   (LFM2-MoE); "count" may also be a fixed number
//   list           i in an explicit list key (a JSON list, or a string "4,5,6" as Step3 writes it)
//   window         start <= i <= end and (i + 1) % interval == 0   (ERNIE 4.5: moe_layer_start_index,
//                  moe_layer_end_index, moe_layer_interval)
// Any rule may carry "enabled_by": [flag keys]: unless one of them is true in the config, no layer
// holds experts (Gemma 4's enable_moe_block).
// Any rule may carry "fallback": {another rule}: used when the config has none of the keys the
// rule reads (transformers 5 configs that only save mlp_layer_types, hub configs that only have
// first_k_dense_replace).
// Keys missing from the config take the engine's defaults (documented per rule in the .cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loader/config_file.h"
#include "mapping/config_view.h"

namespace moeckpt {

struct MoeLayerRule {
  std::string rule = "all";
  Json args = Json::object();  // key-name overrides, e.g. {"first_k": "first_k_dense_replace"}
};

struct MoeLayers {
  std::vector<int64_t> layers;  // sorted
  std::string explanation;      // "first_k_dense_replace=1, moe_layer_freq=1" for messages
};

// Layers 0 .. num_layers-1 that the config makes MoE layers. Throws Error(kConfigInvalid)
// naming the key when a value the rule needs has the wrong type.
MoeLayers resolve_moe_layers(const MoeLayerRule& rule, const ConfigView& config, int64_t num_layers,
                             const std::string& config_label);

// Whether the rule name is known (registry validation).
bool moe_layer_rule_known(const std::string& rule);

// The rule's "fallback" rule, when it names one (its "rule" may be empty or unknown: validate it).
std::optional<MoeLayerRule> moe_layer_fallback(const MoeLayerRule& rule);

}  // namespace moeckpt
