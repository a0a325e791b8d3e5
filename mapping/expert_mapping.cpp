#include "mapping/expert_mapping.h"

#include "loader/error.h"

namespace moeckpt {

std::vector<int64_t> initial_physical_to_logical(int64_t n, int64_t r) {
  std::vector<int64_t> map;
  map.reserve(static_cast<size_t>(n + r));
  for (int64_t i = 0; i < n; ++i) map.push_back(i);
  for (int64_t i = 0; i < r; ++i) map.push_back(i % n);
  return map;
}

std::vector<ExpertParamRow> make_expert_params_mapping(const std::string& gate, const std::string& down,
                                                       const std::string& up, int64_t n, int64_t r, bool lora) {
  if (n <= 0) throw Error(Errc::kUsage, "experts", "the number of experts must be positive, not " + std::to_string(n));
  if (r < 0) throw Error(Errc::kUsage, "experts", "the number of redundant experts cannot be negative");
  if (n + r > 1'000'000) throw Error(Errc::kUsage, "experts", "more than 1,000,000 physical experts");
  const std::string base = lora ? "base_layer." : "";
  auto logical = initial_physical_to_logical(n, r);
  std::vector<ExpertParamRow> rows;
  rows.reserve(static_cast<size_t>(3 * (n + r)));
  struct Shard {
    const char* id;
    const std::string* name;
  };
  const Shard shards[] = {{"w1", &gate}, {"w2", &down}, {"w3", &up}};
  for (int64_t p = 0; p < n + r; ++p) {
    for (const auto& s : shards) {
      std::string param = "experts." + base + (s.name == &down ? "w2_" : "w13_");
      std::string weight = "experts." + std::to_string(logical[static_cast<size_t>(p)]) + "." + *s.name + "." + base;
      rows.push_back({std::move(param), std::move(weight), p, s.id});
    }
  }
  return rows;
}

PlacementPlan plan_placement(const PlacementInput& in) {
  auto fail = [](const std::string& why) -> void { throw Error(Errc::kUsage, "placement", why); };
  if (in.num_logical <= 0) fail("the number of routed experts must be positive, not " + std::to_string(in.num_logical));
  if (in.num_redundant < 0) fail("the number of redundant experts cannot be negative");
  if (in.tp <= 0 || in.ep <= 0) fail("--tp and --ep must be positive");
  PlacementPlan p;
  p.num_logical = in.num_logical;
  p.num_redundant = in.num_redundant;
  p.num_physical = in.num_logical + in.num_redundant;
  p.num_shared = in.num_shared;
  p.tp = in.tp;
  p.ep = in.ep;
  p.physical_to_logical = initial_physical_to_logical(in.num_logical, in.num_redundant);
  if (in.num_attention_heads && *in.num_attention_heads % in.tp != 0)
    fail("num_attention_heads " + std::to_string(*in.num_attention_heads) + " is not divisible by --tp " + std::to_string(in.tp));
  if (in.num_key_value_heads && *in.num_key_value_heads > 0 && *in.num_key_value_heads % in.tp != 0 &&
      in.tp % *in.num_key_value_heads != 0)
    fail("num_key_value_heads " + std::to_string(*in.num_key_value_heads) + " and --tp " + std::to_string(in.tp) +
         ": neither divides the other");
  if (p.num_physical % in.ep != 0)
    fail(std::to_string(p.num_physical) + " physical experts (" + std::to_string(in.num_logical) + " routed + " +
         std::to_string(in.num_redundant) + " redundant) are not divisible by --ep " + std::to_string(in.ep));
  p.num_local_physical = p.num_physical / in.ep;
  if (in.ep == 1 && in.tp > 1) {
    p.experts_tp_split = true;
    if (in.moe_intermediate_size) {
      if (*in.moe_intermediate_size % in.tp != 0)
        fail("moe_intermediate_size " + std::to_string(*in.moe_intermediate_size) + " is not divisible by --tp " +
             std::to_string(in.tp));
      p.intermediate_per_rank = *in.moe_intermediate_size / in.tp;
      if (in.block_n && *in.block_n > 0 && *p.intermediate_per_rank % *in.block_n != 0)
        fail("moe_intermediate_size / tp = " + std::to_string(*p.intermediate_per_rank) +
             " is not a multiple of the FP8 block size " + std::to_string(*in.block_n));
    }
  } else if (in.moe_intermediate_size) {
    p.intermediate_per_rank = *in.moe_intermediate_size;
  }
  for (int64_t r = 0; r < in.ep; ++r) {
    RankPlacement rp;
    rp.rank = r;
    rp.first_physical = r * p.num_local_physical;
    rp.last_physical = (r + 1) * p.num_local_physical - 1;
    rp.num_local = p.num_local_physical;
    for (int64_t q = rp.first_physical; q <= rp.last_physical; ++q)
      rp.logical.push_back(p.physical_to_logical[static_cast<size_t>(q)]);
    p.ranks.push_back(std::move(rp));
  }
  return p;
}

}  // namespace moeckpt
