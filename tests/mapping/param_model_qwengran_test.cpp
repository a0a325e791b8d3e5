// The parameter model's layer kinds of the Qwen2/3-MoE, Granite, Jamba and Nemotron-H entries
// that the generic drop/reshape test (param_model_test.cpp) cannot reach: conditions read from
// config keys. Each test takes a clean transformers-written fixture, checks that it passes, then
// edits one config key (or drops/reshapes one tensor) and expects the finding naming the tensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <utility>
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
using testing::unfilled;

Fixture load(const std::string& name) { return testing::load_fixture(name); }

// The untouched twin: the fixture as it is passes.
Fixture load_clean(const std::string& name) {
  Fixture f = load(name);
  if (f.arch) {
    EXPECT_TRUE(clean(plan(f))) << name;
  }
  return f;
}

// The fixture with config keys set (a null value erases the key).
MapPlan edited(const Fixture& f, std::initializer_list<std::pair<const char*, Json>> keys) {
  Json c = f.config;
  for (const auto& [k, v] : keys) {
    if (v.is_null()) c.erase(k);
    else c[k] = v;
  }
  return plan(f, c);
}

// The fixture without one tensor.
MapPlan dropped(const Fixture& f, const std::string& name) {
  std::vector<TensorInfo> fewer;
  for (const auto& t : f.tensors)
    if (t.name != name) fewer.push_back(t);
  EXPECT_EQ(fewer.size() + 1, f.tensors.size()) << name;
  return plan_mapping(*f.arch, &f.config, fewer);
}

// Qwen2-MoE: the shared expert exists only with shared_expert_intermediate_size > 0, its
// sigmoid gate shared_expert_gate [1, hidden] in every MoE layer regardless.
TEST(ParamModelQwengran, SharedExpertFollowsItsWidthAndTheGateIsAlwaysThere) {
  Fixture f = load_clean("qwen2_moe");
  ASSERT_TRUE(f.arch);
  MapPlan p = edited(f, {{"shared_expert_intermediate_size", 0}});
  EXPECT_TRUE(finding(p, "E-PARAM-UNEXPECTED", "model.layers.0.mlp.shared_expert.gate_proj.weight"));
  EXPECT_TRUE(finding(p, "E-PARAM-UNEXPECTED", "model.layers.1.mlp.shared_expert.down_proj.weight"));
  EXPECT_FALSE(finding(p, "E-PARAM-UNEXPECTED", "model.layers.0.mlp.shared_expert_gate.weight"));
  EXPECT_TRUE(finding(edited(f, {{"shared_expert_intermediate_size", 48}}), "E-PARAM-SHAPE",
                      "model.layers.1.mlp.shared_expert.up_proj.weight"));
  EXPECT_TRUE(unfilled(dropped(f, "model.layers.1.mlp.shared_expert_gate.weight"), "model.layers.1.mlp.shared_expert_gate.weight"));
}

// Qwen3-Next: layer_types picks Gated DeltaNet or gated attention per layer (the expression
// layer_types[L]); without layer_types the transformers default full_attention_interval 4 holds.
TEST(ParamModelQwengran, HybridLayerTypesPickTheMixerPerLayer) {
  Fixture f = load_clean("qwen3_next");
  ASSERT_TRUE(f.arch);
  MapPlan p = edited(f, {{"layer_types", Json::array({"full_attention", "linear_attention"})}});
  EXPECT_TRUE(finding(p, "E-PARAM-UNEXPECTED", "model.layers.0.linear_attn.in_proj_qkvz.weight"));
  EXPECT_TRUE(finding(p, "E-PARAM-UNEXPECTED", "model.layers.1.self_attn.q_proj.weight"));
  EXPECT_TRUE(unfilled(p, "model.layers.0.self_attn.q_proj.weight"));
  EXPECT_TRUE(unfilled(p, "model.layers.1.linear_attn.A_log"));
  // no layer_types: layers 0..2 linear, layer 3 full; of two layers both are linear
  p = edited(f, {{"layer_types", nullptr}});
  EXPECT_TRUE(finding(p, "E-PARAM-UNEXPECTED", "model.layers.1.self_attn.k_proj.weight"));
  EXPECT_TRUE(unfilled(p, "model.layers.1.linear_attn.conv1d.weight"));
  EXPECT_FALSE(unfilled(p, "model.layers.0.linear_attn.conv1d.weight"));
}

// Qwen3-Next gated attention: q_proj carries the output gate (2 * heads * head_dim) unless
// attn_output_gate is false; layer_scale adds the two per-layer scales.
TEST(ParamModelQwengran, GatedAttentionWidthAndLayerScale) {
  Fixture f = load("qwen3_next");
  ASSERT_TRUE(f.arch);
  EXPECT_TRUE(finding(edited(f, {{"attn_output_gate", false}}), "E-PARAM-SHAPE", "model.layers.1.self_attn.q_proj.weight"));
  MapPlan p = edited(f, {{"layer_scale", true}});
  EXPECT_TRUE(unfilled(p, "model.layers.0.attn_layer_scale"));
  EXPECT_TRUE(unfilled(p, "model.layers.1.ffn_layer_scale"));
}

// Qwen3.5-MoE Gated DeltaNet keeps in_proj_qkv / in_proj_z / in_proj_b / in_proj_a apart;
// their widths follow the linear_* head counts.
TEST(ParamModelQwengran, SeparateDeltaNetProjectionsFollowTheHeadCounts) {
  Fixture f = load_clean("qwen3_5_moe_text");
  ASSERT_TRUE(f.arch);
  MapPlan p = edited(f, {{"linear_num_value_heads", 8}});
  for (const char* t : {"model.layers.0.linear_attn.in_proj_b.weight", "model.layers.0.linear_attn.in_proj_z.weight",
                        "model.layers.0.linear_attn.A_log", "model.layers.0.linear_attn.conv1d.weight"})
    EXPECT_TRUE(finding(p, "E-PARAM-SHAPE", t)) << t;
}

// Granite MoE hybrid: Mamba2 mixers (mamba.*) on 'mamba' / 'linear_attention' layers, their
// biases per mamba_conv_bias / mamba_proj_bias, in_proj width from heads, groups and state.
TEST(ParamModelQwengran, Mamba2MixerBiasesAndWidths) {
  Fixture f = load_clean("granitemoehybrid");
  ASSERT_TRUE(f.arch);
  MapPlan p = edited(f, {{"mamba_conv_bias", false}, {"mamba_proj_bias", true}});
  EXPECT_TRUE(finding(p, "E-PARAM-UNEXPECTED", "model.layers.0.mamba.conv1d.bias"));
  EXPECT_TRUE(unfilled(p, "model.layers.1.mamba.in_proj.bias"));
  EXPECT_TRUE(unfilled(p, "model.layers.1.mamba.out_proj.bias"));
  p = edited(f, {{"mamba_d_state", 16}});
  EXPECT_TRUE(finding(p, "E-PARAM-SHAPE", "model.layers.0.mamba.in_proj.weight"));
  EXPECT_TRUE(finding(p, "E-PARAM-SHAPE", "model.layers.0.mamba.conv1d.weight"));
  p = edited(f, {{"layer_types", Json::array({"mamba", "attention"})}});
  EXPECT_FALSE(finding(p, "E-PARAM-UNEXPECTED", "model.layers.0.mamba.A_log"));
  EXPECT_TRUE(finding(p, "E-PARAM-UNEXPECTED", "model.layers.1.mamba.A_log"));
  EXPECT_TRUE(unfilled(p, "model.layers.1.self_attn.o_proj.weight"));
  EXPECT_TRUE(finding(edited(f, {{"shared_intermediate_size", 512}}), "E-PARAM-SHAPE", "model.layers.0.shared_mlp.input_linear.weight"));
}

// Jamba: attention where L % attn_layer_period == attn_layer_offset, a Mamba-1 mixer elsewhere.
TEST(ParamModelQwengran, JambaAttentionPeriodAndMambaMixer) {
  Fixture f = load_clean("jamba");
  ASSERT_TRUE(f.arch);
  MapPlan p = edited(f, {{"attn_layer_offset", 0}});
  EXPECT_TRUE(finding(p, "E-PARAM-UNEXPECTED", "model.layers.0.mamba.x_proj.weight"));
  EXPECT_TRUE(unfilled(p, "model.layers.0.self_attn.q_proj.weight"));
  EXPECT_TRUE(finding(p, "E-PARAM-UNEXPECTED", "model.layers.1.self_attn.o_proj.weight"));
  EXPECT_TRUE(unfilled(p, "model.layers.1.mamba.dt_proj.weight"));
  p = edited(f, {{"mamba_dt_rank", 4}});
  EXPECT_TRUE(finding(p, "E-PARAM-SHAPE", "model.layers.0.mamba.x_proj.weight"));
  EXPECT_TRUE(finding(p, "E-PARAM-SHAPE", "model.layers.0.mamba.dt_layernorm.weight"));
}

// Nemotron-H: hybrid_override_pattern (one character a layer) wins over transformers 5's
// layers_block_type; '-' layers are a non-gated up/down MLP, 'E' layers carry the router bias.
TEST(ParamModelQwengran, NemotronPatternPicksTheMixer) {
  Fixture f = load_clean("nemotron_h");
  ASSERT_TRUE(f.arch);
  MapPlan p = edited(f, {{"hybrid_override_pattern", "ME-*"}});
  EXPECT_TRUE(finding(p, "E-PARAM-UNEXPECTED", "backbone.layers.2.mixer.q_proj.weight"));
  EXPECT_TRUE(unfilled(p, "backbone.layers.2.mixer.up_proj.weight"));
  EXPECT_TRUE(finding(p, "E-PARAM-UNEXPECTED", "backbone.layers.3.mixer.down_proj.weight"));
  EXPECT_TRUE(unfilled(p, "backbone.layers.3.mixer.k_proj.weight"));
  EXPECT_TRUE(unfilled(dropped(f, "backbone.layers.1.mixer.gate.e_score_correction_bias"),
                       "backbone.layers.1.mixer.gate.e_score_correction_bias"));
}

// GraniteMoeSWA: a learnable sink per attention head on every layer.
TEST(ParamModelQwengran, AttentionSinksPerHead) {
  Fixture f = load_clean("granitemoe_swa");
  ASSERT_TRUE(f.arch);
  EXPECT_TRUE(finding(edited(f, {{"num_attention_heads", 8}, {"head_dim", 16}}), "E-PARAM-SHAPE", "model.layers.0.self_attn.sinks"));
  EXPECT_TRUE(unfilled(dropped(f, "model.layers.1.self_attn.sinks"), "model.layers.1.self_attn.sinks"));
}

}  // namespace
}  // namespace moeckpt
