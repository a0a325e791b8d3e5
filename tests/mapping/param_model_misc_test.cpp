// Failing twins for the layer kinds the misc group's parameter models add (gpt-oss attention
// sinks and always-on biases, routing biases under other keys, a fused QKV, gated attention,
// per-layer head counts, a classifier head sized by id2label, a norm only MoE layers need):
// each starts from a clean fixture, which must plan with nothing unfilled, unexpected or found,
// then changes one tensor or config key and expects the finding that names the tensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
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
using testing::finding;
using testing::plan;
using testing::unexpected;
using testing::unfilled;

Fixture load(const char* arch, const char* dir) { return testing::load_fixture(arch, dir); }

void drop(Fixture& f, const std::string& name) {
  auto it = std::find_if(f.tensors.begin(), f.tensors.end(), [&](const TensorInfo& t) { return t.name == name; });
  ASSERT_NE(it, f.tensors.end()) << name;
  f.tensors.erase(it);
}

void reshape(Fixture& f, const std::string& name, std::vector<uint64_t> shape) {
  auto it = std::find_if(f.tensors.begin(), f.tensors.end(), [&](const TensorInfo& t) { return t.name == name; });
  ASSERT_NE(it, f.tensors.end()) << name;
  it->shape = std::move(shape);
}

// The clean fixture plans clean; without `tensor` the plan names it unfilled.
void expect_required(const char* arch, const char* dir, const std::string& tensor) {
  Fixture f = load(arch, dir);
  ASSERT_TRUE(clean(plan(f)));
  drop(f, tensor);
  EXPECT_TRUE(unfilled(plan(f), tensor)) << tensor;
}

// gpt-oss: attention sinks [heads] are a parameter of every layer; a missing one would be
// left as torch.empty by the engine.
TEST(ParamModelMisc, GptOssAttentionSinksAreRequired) {
  expect_required("gpt_oss", "testdata/models/gpt_oss", "model.layers.1.self_attn.sinks");
}

// gpt-oss: vLLM's QKVParallelLinear / RowParallelLinear keep bias=True whatever
// attention_bias says, so the biases stay required with attention_bias false.
TEST(ParamModelMisc, GptOssBiasesDoNotFollowAttentionBias) {
  Fixture f = load("gpt_oss", "testdata/models/gpt_oss");
  f.config["attention_bias"] = false;
  ASSERT_TRUE(clean(plan(f)));
  drop(f, "model.layers.0.self_attn.o_proj.bias");
  EXPECT_TRUE(unfilled(plan(f), "model.layers.0.self_attn.o_proj.bias"));
}

// gpt-oss never ties lm_head: with tie_word_embeddings true it skips lm_head.* and the head
// stays uninitialised, so a present head is reported as ignored.
TEST(ParamModelMisc, GptOssTiedConfigIgnoresItsHead) {
  Fixture f = load("gpt_oss", "testdata/models/gpt_oss");
  ASSERT_TRUE(clean(plan(f)));
  f.config["tie_word_embeddings"] = true;
  EXPECT_TRUE(finding(plan(f), "W-PARAM-IGNORED", "lm_head.weight"));
}

// ERNIE 4.5: the score-correction bias lives at mlp.moe_statics.e_score_correction_bias [1, E].
TEST(ParamModelMisc, ErnieMoeStaticsBiasKeepsItsLeadingDimension) {
  Fixture f = load("ernie4_5_moe", "testdata/models/ernie4_5_moe");
  ASSERT_TRUE(clean(plan(f)));
  reshape(f, "model.layers.1.mlp.moe_statics.e_score_correction_bias", {4});
  EXPECT_TRUE(finding(plan(f), "E-PARAM-SHAPE", "model.layers.1.mlp.moe_statics.e_score_correction_bias"));
}

// AfMoE: the routing bias is mlp.expert_bias, on every MoE layer.
TEST(ParamModelMisc, AfmoeExpertBiasIsRequired) {
  expect_required("afmoe", "testdata/models/afmoe", "model.layers.1.mlp.expert_bias");
}

// Bailing: mlp.gate.expert_bias exists only with moe_router_enable_expert_bias; the fused
// attention.query_key_value is (heads + 2 kv heads) x head_dim rows.
TEST(ParamModelMisc, BailingExpertBiasFollowsItsFlagAndQkvIsFused) {
  Fixture f = load("bailing_moe", "testdata/vllm_only/bailing_moe");
  ASSERT_TRUE(clean(plan(f)));
  Fixture off = f;
  off.config["moe_router_enable_expert_bias"] = false;
  EXPECT_TRUE(unexpected(plan(off), "model.layers.1.mlp.gate.expert_bias"));
  f.config["num_key_value_heads"] = 1;
  EXPECT_TRUE(finding(plan(f), "E-PARAM-SHAPE", "model.layers.0.attention.query_key_value.weight"));
}

// Laguna: the output gate is per head (gating true) or per element ('per-element'), and a
// layer's head count may come from num_attention_heads_per_layer.
TEST(ParamModelMisc, LagunaGateWidthAndPerLayerHeads) {
  Fixture f = load("laguna", "testdata/models/laguna");
  ASSERT_TRUE(clean(plan(f)));
  Fixture element = f;
  element.config["gating"] = "per-element";
  EXPECT_TRUE(finding(plan(element), "E-PARAM-SHAPE", "model.layers.0.self_attn.g_proj.weight"));
  f.config["num_attention_heads_per_layer"] = Json::array({4, 2});
  MapPlan p = plan(f);
  EXPECT_TRUE(finding(p, "E-PARAM-SHAPE", "model.layers.1.self_attn.q_proj.weight"));
  EXPECT_TRUE(finding(p, "E-PARAM-SHAPE", "model.layers.1.self_attn.g_proj.weight"));
  EXPECT_FALSE(finding(p, "E-PARAM-SHAPE", "model.layers.0.self_attn.q_proj.weight"));
}

// OpenAI Privacy Filter: the score head has one row per id2label entry.
TEST(ParamModelMisc, PrivacyFilterScoreHeadFollowsId2Label) {
  Fixture f = load("openai_privacy_filter", "testdata/vllm_only/openai_privacy_filter");
  ASSERT_TRUE(clean(plan(f)));
  f.config["id2label"].erase("32");
  MapPlan p = plan(f);
  EXPECT_TRUE(finding(p, "E-PARAM-SHAPE", "score.weight"));
  EXPECT_TRUE(finding(p, "E-PARAM-SHAPE", "score.bias"));
}

// A.X K1: post_mlp_layernorm is used (and required) on MoE layers only.
TEST(ParamModelMisc, Axk1PostMlpNormOnMoeLayers) {
  expect_required("axk1", "testdata/models/axk1", "model.layers.1.post_mlp_layernorm.weight");
}

}  // namespace
}  // namespace moeckpt
