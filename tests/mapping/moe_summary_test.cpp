#include "mapping/moe_summary.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loader/checkpoint.h"
#include "test_util.h"

namespace moeckpt {
namespace {

MoeSummary summary_of(const std::string& dir) {
  Checkpoint ck = Checkpoint::open(testing::testdata(dir));
  EXPECT_TRUE(ck.config()) << dir;
  ConfigView view(*ck.config());
  auto s = summarize_moe(&view, ck.tensors());
  EXPECT_TRUE(s) << dir;
  return s ? *s : MoeSummary{};
}

TensorInfo named(const std::string& name) {
  TensorInfo t;
  t.name = testing::kept_name(name);
  t.dtype = DType::kBF16;
  return t;
}

// Qwen2-MoE, Qwen3-Next and Qwen3.5-MoE configs carry shared_expert_intermediate_size and no
// count: their layers hold one shared expert (mlp.shared_expert.* beside shared_expert_gate).
TEST(MoeSummary, OneSharedExpertFromTheSingularTensorsWhenTheConfigHasNoCount) {
  for (const char* dir : {"models/qwen2_moe", "models/qwen3_next", "models/qwen3_5_moe_text", "composite/qwen3_5_moe",
                          "composite/qwen3_5_moe_lm_only"}) {
    MoeSummary s = summary_of(dir);
    ASSERT_TRUE(s.num_shared_experts) << dir;
    EXPECT_EQ(s.num_shared_experts->value, 1) << dir;
    EXPECT_EQ(s.num_shared_experts_source, "tensors") << dir;
    EXPECT_EQ(s.shared_expert_family, "mlp.shared_expert.*") << dir;
    ASSERT_TRUE(s.shared_expert_intermediate_size) << dir;
    EXPECT_EQ(s.shared_expert_intermediate_size->value, 32) << dir;
  }
}

TEST(MoeSummary, ACountInTheConfigWins) {
  MoeSummary s = summary_of("models/deepseek_v3");
  ASSERT_TRUE(s.num_shared_experts);
  EXPECT_EQ(s.num_shared_experts_source, "config");
  EXPECT_EQ(s.num_shared_experts->key, "n_shared_experts");
  EXPECT_TRUE(s.shared_expert_family.empty());
}

TEST(MoeSummary, PluralSharedExpertsWithoutACountAreNotCounted) {
  // shared_experts.* is n_shared_experts experts fused into one MLP: the names do not say how many.
  Json c = Json::parse(R"({"num_experts": 4})");
  ConfigView view(c);
  std::vector<TensorInfo> t = {named("model.layers.0.mlp.experts.0.up_proj.weight"),
                               named("model.layers.0.mlp.shared_experts.up_proj.weight")};
  auto s = summarize_moe(&view, t);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->has_shared_expert_tensors);
  EXPECT_FALSE(s->num_shared_experts);
  EXPECT_TRUE(s->num_shared_experts_source.empty());
}

TEST(MoeSummary, NoSharedTensorsNoSharedExperts) {
  Json c = Json::parse(R"({"num_experts": 4})");
  ConfigView view(c);
  std::vector<TensorInfo> t = {named("model.layers.0.mlp.experts.0.up_proj.weight")};
  auto s = summarize_moe(&view, t);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->num_shared_experts);
}

}  // namespace
}  // namespace moeckpt
