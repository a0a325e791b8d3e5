// Parameter models of the MLA group (DeepSeek family and relatives): for each layer kind these
// entries add, a clean fixture passes and a twin with one config key changed, or one tensor
// dropped, gives the finding that names the tensor. In process, like param_model_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "loader/checkpoint.h"
#include "mapping/arch_registry.h"
#include "mapping/planner.h"
#include "param_fixture.h"
#include "test_util.h"

namespace moeckpt {
namespace {

using Fixture = testing::ParamFixture;
using testing::clean;
using testing::plan;
using testing::unexpected;
using testing::unfilled;

Fixture open_fixture(const std::string& entry) { return testing::load_fixture(entry); }

// The fixture's plan with one config key set to another value.
MapPlan plan_with(const Fixture& f, const std::string& key, const Json& value) {
  Json c = f.config;
  c[key] = value;
  return plan(f, c, f.tensors);
}

std::vector<TensorInfo> without(std::vector<TensorInfo> all, const std::string& name) {
  auto it = std::find_if(all.begin(), all.end(), [&](const TensorInfo& t) { return t.name == name; });
  EXPECT_NE(it, all.end()) << name;
  if (it != all.end()) all.erase(it);
  return all;
}

// The V3.2 lightning indexer exists because the config has index_topk: without the key the
// engine builds no indexer, so the checkpoint's indexer tensors have no parameter.
TEST(ParamModelMla, IndexerFollowsIndexTopk) {
  Fixture f = open_fixture("deepseek_v32");
  ASSERT_TRUE(f.arch);
  EXPECT_TRUE(clean(plan(f, f.config, f.tensors)));
  Json c = f.config;
  c.erase("index_topk");
  MapPlan p = plan(f, c, f.tensors);
  EXPECT_TRUE(unexpected(p, "model.layers.0.self_attn.indexer.wq_b.weight"));
  EXPECT_TRUE(testing::finding(p, "E-PARAM-UNEXPECTED", "model.layers.1.self_attn.indexer.k_norm.bias"));
}

// IndexCache (index_topk_freq / index_skip_topk_offset): a layer that reuses an earlier
// layer's top-k builds no indexer, so its tensors may be absent; a layer that builds one still
// needs all of them.
TEST(ParamModelMla, IndexerSkippedLayersMayLackIndexerTensors) {
  Fixture f = open_fixture("deepseek_v32");
  ASSERT_TRUE(f.arch);
  Json c = f.config;
  c["index_topk_freq"] = 2;
  c["index_skip_topk_offset"] = 1;  // layer 0: built; layer 1: max(1 - 1 + 1, 0) % 2 != 0, skipped
  const std::string skipped = "model.layers.1.self_attn.indexer.wq_b.weight";
  const std::string built = "model.layers.0.self_attn.indexer.wq_b.weight";
  EXPECT_TRUE(clean(plan(f, c, without(f.tensors, skipped))));
  EXPECT_TRUE(unfilled(plan(f, c, without(f.tensors, built)), built));
  // With the default schedule (every layer builds one) the same drop is caught.
  EXPECT_TRUE(unfilled(plan(f, f.config, without(f.tensors, skipped)), skipped));
}

// DeepSeek-V2's router has e_score_correction_bias only under topk_method noaux_tc (the
// fixture says greedy); GLM-4.5's router has it whatever topk_method says.
TEST(ParamModelMla, CorrectionBiasFollowsTopkMethodInDeepseekButNotInGlm) {
  Fixture v2 = open_fixture("deepseek_v2");
  ASSERT_TRUE(v2.arch);
  EXPECT_TRUE(clean(plan(v2, v2.config, v2.tensors)));
  EXPECT_TRUE(unfilled(plan_with(v2, "topk_method", "noaux_tc"), "model.layers.1.mlp.gate.e_score_correction_bias"));

  Fixture glm = open_fixture("glm4_moe");
  ASSERT_TRUE(glm.arch);
  EXPECT_TRUE(clean(plan(glm, glm.config, glm.tensors)));
  const std::string bias = "model.layers.1.mlp.gate.e_score_correction_bias";
  EXPECT_TRUE(clean(plan_with(glm, "topk_method", "greedy")));
  Json greedy = glm.config;
  greedy["topk_method"] = "greedy";
  EXPECT_TRUE(unfilled(plan(glm, greedy, without(glm.tensors, bias)), bias));
}

// Hy3's routing bias lives under mlp.expert_bias (no e_score_correction_bias), and its q/k
// norms follow qk_norm (vLLM's HYV3Config defaults it to true, so the fixture, which omits
// the key, has them).
TEST(ParamModelMla, Hy3ExpertBiasAndQkNorm) {
  Fixture f = open_fixture("hy_v3");
  ASSERT_TRUE(f.arch);
  EXPECT_TRUE(clean(plan(f, f.config, f.tensors)));
  const std::string bias = "model.layers.1.mlp.expert_bias";
  EXPECT_TRUE(unfilled(plan(f, f.config, without(f.tensors, bias)), bias));
  EXPECT_TRUE(unexpected(plan_with(f, "qk_norm", false), "model.layers.0.self_attn.q_norm.weight"));
}

// LongCat-Flash's router scores the routed experts plus the zero (identity) experts, and its
// score-correction bias has the same length.
TEST(ParamModelMla, LongcatRouterCountsZeroExperts) {
  Fixture f = open_fixture("longcat_flash");
  ASSERT_TRUE(f.arch);
  EXPECT_TRUE(clean(plan(f, f.config, f.tensors)));
  MapPlan p = plan_with(f, "zero_expert_num", 0);
  EXPECT_TRUE(testing::finding(p, "E-PARAM-SHAPE", "model.layers.0.mlp.router.classifier.weight"));
  EXPECT_TRUE(testing::finding(p, "E-PARAM-SHAPE", "model.layers.1.mlp.router.e_score_correction_bias"));
  EXPECT_TRUE(unfilled(plan_with(f, "router_bias", true), "model.layers.0.mlp.router.classifier.bias"));
}

// Step3's attention has one K/V head whatever num_attention_groups says, and a query that goes
// through share_q_dim (q_proj, inter_norm, wq).
TEST(ParamModelMla, Step3SharedQueryAndSingleKvHead) {
  Fixture f = open_fixture("step3_text");
  ASSERT_TRUE(f.arch);
  EXPECT_TRUE(clean(plan(f, f.config, f.tensors)));
  EXPECT_TRUE(clean(plan_with(f, "num_attention_groups", 2)));
  MapPlan p = plan_with(f, "share_q_dim", 48);
  EXPECT_TRUE(testing::finding(p, "E-PARAM-SHAPE", "model.layers.0.self_attn.q_proj.weight"));
  EXPECT_TRUE(testing::finding(p, "E-PARAM-SHAPE", "model.layers.1.self_attn.inter_norm.weight"));
  EXPECT_TRUE(testing::finding(p, "E-PARAM-SHAPE", "model.layers.1.self_attn.wq.weight"));
}

}  // namespace
}  // namespace moeckpt
