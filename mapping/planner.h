// The map plan: how an engine (vLLM's naming) loads every tensor of a checkpoint.
//
// For each checkpoint tensor, in this order (vLLM's load path):
//   1. the user's --rules (a checkpoint written with other names, e.g. a PEFT prefix);
//   2. the architecture's hf_to_vllm mapper (mapping/archs/<arch>.json "mapper");
//   3. DeepSeek V4's scale-suffix rule, for architectures that declare it;
//   4. tensors the engine skips on load ("skip") are listed as skipped;
//   5. expert weights: "<path>.<e>.<proj>.<rest>" -> "<path>.w13_<rest>" (gate, up) or
//      "<path>.w2_<rest>" (down), expert id e, shard w1/w3/w2; fused 3-D tensors -> their param;
//   6. stacked parameters: the first (param, shard) whose shard name occurs in the name replaces
//      it (q_proj -> qkv_proj with shard "q");
//   7. otherwise the name itself; then the architecture's load-time renames.
// unmapped: tensors that match no tensor family the architecture knows. unfilled: parameters
// the config implies (MoE layers x experts x projections, the other shards of a stacked
// parameter, the scale a quantized weight needs, and with a parameter model every other
// parameter the engine allocates) that no tensor fills. unexpected: tensors of a known family
// that the parameter model says the engine does not allocate under this config.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "loader/config_file.h"
#include "loader/tensor.h"
#include "mapping/arch_registry.h"
#include "mapping/dsv4_rule.h"
#include "mapping/param_check.h"

namespace moeckpt {

struct PlanEntry {
  std::string checkpoint;
  std::string param;
  std::optional<int64_t> expert_id;
  std::string shard_id;  // w1 / w3 / w2 for per-expert tensors; w13 / w2 for fused ones
  std::string packed;    // the stacked shard ("q", "k", "v", "0", "1"), or ""
  std::string kind;      // "expert", "fused_expert", "stacked", "direct"
  int64_t layer = -1;
  bool mtp = false;      // a multi-token-prediction layer (index >= num_layers, or "mtp.")
  bool shared = false;   // a shared expert in an expert layout (ExpertSpec::shared): not routed
  bool grouped = false;  // from an experts item with "ids": one group of the layer's expert list, its own width
};

struct UnfilledEntry {
  std::string param;
  std::optional<int64_t> expert_id;
  std::string shard_id;
  std::string packed;
  std::string expected;  // the checkpoint tensor that would fill it
  std::string reason;
  int64_t layer = -1;
};

struct MapPlan {
  const Architecture* arch = nullptr;
  std::optional<ExpertDtypeSetting> expert_dtype;  // scale_rule deepseek_v4 only
  std::optional<int64_t> num_experts;
  std::optional<int64_t> num_layers;
  std::vector<int64_t> moe_layers;
  std::string moe_layers_explanation;
  std::vector<PlanEntry> entries;  // in checkpoint-name order
  std::vector<std::string> unmapped;
  std::vector<UnfilledEntry> unfilled;
  std::vector<std::string> dropped;                          // by a rule
  std::vector<std::pair<std::string, std::string>> skipped;  // name, why
  std::vector<std::pair<std::string, std::string>> towers;   // a composite's tower tensors: name, tower
  std::vector<std::string> notes;                            // e.g. what could not be checked
  // The parameter model (mapping/param_model.h), when the architecture has one and the config
  // gives the layer count.
  bool param_model = false;
  size_t params_expected = 0;  // non-expert tensors the model implies
  std::vector<std::string> unexpected;
  std::vector<ParamFinding> param_findings;  // shapes, dtypes, ignored and unexpected tensors
};

struct PlanOptions {
  const RuleSet* user_rules = nullptr;
  std::string config_label = "config.json";
};

// The engine's side of a plan: each parameter with the entries that fill it and the gaps
// (indices into plan.entries and plan.unfilled), sorted by parameter name.
struct EngineParam {
  std::string param;
  std::vector<size_t> fillers;
  std::vector<size_t> unfilled;
};
std::vector<EngineParam> engine_parameters(const MapPlan& plan);

// Throws Error(kConfigInvalid) for an invalid expert_dtype or a malformed MoE-layer key.
MapPlan plan_mapping(const Architecture& arch, const Json* config, std::span<const TensorInfo> tensors,
                     const PlanOptions& options = {});

}  // namespace moeckpt
