#include "mapping/expert_mapping.h"

#include <gtest/gtest.h>

#include "loader/error.h"

namespace moeckpt {
namespace {

TEST(ExpertMapping, RowsInVllmOrderWithRedundantExperts) {
  // Hand-computed: 3 logical experts, 2 redundant -> physical 3 and 4 map to logical 0 and 1.
  auto rows = make_expert_params_mapping("w1", "w2", "w3", 3, 2);
  ASSERT_EQ(rows.size(), 15u);
  struct Row { const char* param; const char* weight; int64_t id; const char* shard; };
  const Row want[] = {
      {"experts.w13_", "experts.0.w1.", 0, "w1"}, {"experts.w2_", "experts.0.w2.", 0, "w2"}, {"experts.w13_", "experts.0.w3.", 0, "w3"},
      {"experts.w13_", "experts.1.w1.", 1, "w1"}, {"experts.w2_", "experts.1.w2.", 1, "w2"}, {"experts.w13_", "experts.1.w3.", 1, "w3"},
      {"experts.w13_", "experts.2.w1.", 2, "w1"}, {"experts.w2_", "experts.2.w2.", 2, "w2"}, {"experts.w13_", "experts.2.w3.", 2, "w3"},
      {"experts.w13_", "experts.0.w1.", 3, "w1"}, {"experts.w2_", "experts.0.w2.", 3, "w2"}, {"experts.w13_", "experts.0.w3.", 3, "w3"},
      {"experts.w13_", "experts.1.w1.", 4, "w1"}, {"experts.w2_", "experts.1.w2.", 4, "w2"}, {"experts.w13_", "experts.1.w3.", 4, "w3"},
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].param, want[i].param) << i;
    EXPECT_EQ(rows[i].weight, want[i].weight) << i;
    EXPECT_EQ(rows[i].expert_id, want[i].id) << i;
    EXPECT_EQ(rows[i].shard_id, want[i].shard) << i;
  }
}

TEST(ExpertMapping, RedundantBeyondOneRoundWrapsModuloN) {
  EXPECT_EQ(initial_physical_to_logical(2, 5), (std::vector<int64_t>{0, 1, 0, 1, 0, 1, 0}));
}

TEST(ExpertMapping, LoraAddsBaseLayer) {
  auto rows = make_expert_params_mapping("gate_proj", "down_proj", "up_proj", 1, 0, true);
  EXPECT_EQ(rows[0].param, "experts.base_layer.w13_");
  EXPECT_EQ(rows[0].weight, "experts.0.gate_proj.base_layer.");
  EXPECT_EQ(rows[1].param, "experts.base_layer.w2_");
}

TEST(ExpertMapping, RefusesImpossibleCounts) {
  EXPECT_THROW(make_expert_params_mapping("a", "b", "c", 0), Error);
  EXPECT_THROW(make_expert_params_mapping("a", "b", "c", 4, -1), Error);
}

TEST(Placement, SplitsPhysicalExpertsOverEpRanks) {
  PlacementInput in;
  in.num_logical = 8;
  in.num_redundant = 4;
  in.num_shared = 1;
  in.ep = 4;
  auto p = plan_placement(in);
  EXPECT_EQ(p.num_physical, 12);
  EXPECT_EQ(p.num_local_physical, 3);
  ASSERT_EQ(p.ranks.size(), 4u);
  EXPECT_EQ(p.ranks[3].first_physical, 9);
  EXPECT_EQ(p.ranks[3].last_physical, 11);
  EXPECT_EQ(p.ranks[3].logical, (std::vector<int64_t>{1, 2, 3}));  // physical 9, 10, 11
  EXPECT_EQ(p.num_shared, 1);
  EXPECT_FALSE(p.experts_tp_split);
}

TEST(Placement, WithoutEpExpertsAreSplitOverTp) {
  PlacementInput in;
  in.num_logical = 4;
  in.tp = 4;
  in.moe_intermediate_size = 1024;
  in.block_n = 128;
  auto p = plan_placement(in);
  EXPECT_TRUE(p.experts_tp_split);
  EXPECT_EQ(*p.intermediate_per_rank, 256);
  EXPECT_EQ(p.ranks.size(), 1u);
  EXPECT_EQ(p.num_local_physical, 4);
}

std::string placement_error(PlacementInput in) {
  try {
    plan_placement(in);
  } catch (const Error& e) {
    return e.what();
  }
  return "<accepted>";
}

TEST(Placement, IndivisibleCountsAreErrorsNamingTheNumbers) {
  PlacementInput a;
  a.num_logical = 10;
  a.num_redundant = 1;
  a.ep = 4;
  EXPECT_NE(placement_error(a).find("11 physical experts (10 routed + 1 redundant) are not divisible by --ep 4"), std::string::npos);
  PlacementInput b;
  b.num_logical = 8;
  b.tp = 3;
  b.moe_intermediate_size = 1408;
  EXPECT_NE(placement_error(b).find("moe_intermediate_size 1408 is not divisible by --tp 3"), std::string::npos);
  PlacementInput c;
  c.num_logical = 8;
  c.tp = 4;
  c.moe_intermediate_size = 1536;  // 384 per rank, not a multiple of 256
  c.block_n = 256;
  EXPECT_NE(placement_error(c).find("not a multiple of the FP8 block size 256"), std::string::npos);
  PlacementInput d;
  d.num_logical = 8;
  d.tp = 8;
  d.num_attention_heads = 12;
  EXPECT_NE(placement_error(d).find("num_attention_heads 12 is not divisible by --tp 8"), std::string::npos);
}

}  // namespace
}  // namespace moeckpt
