// vLLM's expert-parameter mapping and the expert placement plan, one code path for every mode
// (a mode that forgets a field is the bug class this tool exists to catch: vLLM PR 44356).
//
// For physical expert p = 0 .. num_experts + num_redundant - 1 and, in this order, (w1, gate),
// (w2, down), (w3, up): param "experts.w13_" (gate, up) or "experts.w2_" (down), weight
// "experts.{logical(p)}.{name}.", expert id p, shard id. logical() is the initial
// physical->logical map: [0 .. n-1] followed by i mod n for each redundant expert i.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moeckpt {

struct ExpertParamRow {
  std::string param;   // "experts.w13_"
  std::string weight;  // "experts.7.gate_proj."
  int64_t expert_id;   // physical expert
  std::string shard_id;  // "w1", "w2", "w3"
};

// The initial physical -> logical expert map.
std::vector<int64_t> initial_physical_to_logical(int64_t num_experts, int64_t num_redundant);

// Throws Error(kUsage) when num_experts <= 0 or num_redundant < 0. lora adds "base_layer."
// to both strings, as vLLM does when the model's parameters contain ".base_layer.".
std::vector<ExpertParamRow> make_expert_params_mapping(const std::string& gate, const std::string& down,
                                                       const std::string& up, int64_t num_experts,
                                                       int64_t num_redundant = 0, bool lora = false);

struct PlacementInput {
  int64_t num_logical = 0;    // routed experts
  int64_t num_redundant = 0;
  int64_t num_shared = 0;
  int64_t tp = 1;             // tensor-parallel ranks
  int64_t ep = 1;             // expert-parallel ranks (1 = no EP)
  std::optional<int64_t> moe_intermediate_size;  // checked against tp when experts are TP-split
  std::optional<int64_t> num_attention_heads;    // checked against tp
  std::optional<int64_t> num_key_value_heads;    // tp must divide it, or it must divide tp (replication)
  std::optional<int64_t> block_n;                // FP8 block size along the sharded dim, if block-quantized
};

struct RankPlacement {
  int64_t rank = 0;
  int64_t first_physical = 0;  // inclusive
  int64_t last_physical = 0;   // inclusive
  int64_t num_local = 0;
  std::vector<int64_t> logical;  // logical expert of each local physical expert
};

struct PlacementPlan {
  int64_t num_logical = 0, num_redundant = 0, num_physical = 0, num_shared = 0;
  int64_t tp = 1, ep = 1;
  int64_t num_local_physical = 0;      // per EP rank (== num_physical without EP)
  bool experts_tp_split = false;       // without EP each expert's intermediate dim is split over tp
  std::optional<int64_t> intermediate_per_rank;
  std::vector<int64_t> physical_to_logical;
  std::vector<RankPlacement> ranks;    // one per EP rank (one entry without EP)
};

// Throws Error(kUsage) naming the numbers when a count does not divide.
PlacementPlan plan_placement(const PlacementInput& in);

}  // namespace moeckpt
