// DeepSeek-V4 in DeepSeek's own release layout (testdata/models/deepseek_v4_original*, written
// by testdata/make_deepseek_v4_original.py from the published V4-Flash inventory): every tensor
// maps, MTP layers included, and the scale rule holds on every ".scale" in its four cases.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "loader/error.h"
#include "param_fixture.h"

namespace moeckpt {
namespace {

using testing::entry;
using testing::load_fixture;

// The parameter each ".scale" tensor becomes must end as the rule says: ".weight_scale" for a
// routed expert's scale when experts are FP4, ".weight_scale_inv" for every other.
void expect_scale_rule(const MapPlan& p, bool fp4_experts, size_t* scales, size_t* expert_scales) {
  for (const auto& e : p.entries) {
    if (!e.checkpoint.ends_with(".scale")) continue;
    ++*scales;
    bool expert = e.kind == "expert";
    if (expert) ++*expert_scales;
    const std::string want = expert && fp4_experts ? "_weight_scale" : (expert ? "_weight_scale_inv" : ".weight_scale_inv");
    EXPECT_TRUE(e.param.ends_with(want)) << e.checkpoint << " -> " << e.param << ", want ..." << want;
    if (expert && fp4_experts) {
      EXPECT_FALSE(e.param.ends_with("_inv")) << e.checkpoint << " -> " << e.param;
    }
  }
}

void expect_all_mapped(const MapPlan& p) {
  EXPECT_TRUE(p.unmapped.empty()) << p.unmapped.size() << " unmapped, first " << (p.unmapped.empty() ? "" : p.unmapped.front());
  EXPECT_TRUE(p.skipped.empty()) << p.skipped.size() << " skipped, first " << (p.skipped.empty() ? "" : p.skipped.front().first);
  for (const auto& u : p.unfilled) ADD_FAILURE() << "unfilled " << u.param << " (" << u.expected << "): " << u.reason;
}

TEST(Dsv4Original, Fp4MapsEveryTensorWithTheRule) {
  auto f = load_fixture("deepseek_v4", "testdata/models/deepseek_v4_original");
  ASSERT_EQ(f.config["expert_dtype"], "fp4");
  MapPlan p = testing::plan(f);
  expect_all_mapped(p);
  EXPECT_EQ(p.entries.size(), f.tensors.size());
  size_t scales = 0, expert_scales = 0;
  expect_scale_rule(p, true, &scales, &expert_scales);
  // 4 layers (3 decoder + MTP) x 4 experts x 3 projections; the FP8 linears' scales besides.
  EXPECT_EQ(expert_scales, 4u * 4 * 3);
  EXPECT_GT(scales, expert_scales + 20);
}

TEST(Dsv4Original, Fp8ExpertsTakeWeightScaleInvEverywhere) {
  auto f = load_fixture("deepseek_v4", "testdata/models/deepseek_v4_original_fp8");
  ASSERT_EQ(f.config["expert_dtype"], "fp8");
  MapPlan p = testing::plan(f);
  expect_all_mapped(p);
  size_t scales = 0, expert_scales = 0;
  expect_scale_rule(p, false, &scales, &expert_scales);
  EXPECT_EQ(expert_scales, 4u * 4 * 3);
}

TEST(Dsv4Original, AbsentExpertDtypeIsFp4) {
  auto f = load_fixture("deepseek_v4", "testdata/models/deepseek_v4_original");
  Json c = f.config;
  c.erase("expert_dtype");
  MapPlan p = testing::plan(f, c);
  expect_all_mapped(p);
  ASSERT_TRUE(p.expert_dtype);
  EXPECT_FALSE(p.expert_dtype->explicit_in_config);
  size_t scales = 0, expert_scales = 0;
  expect_scale_rule(p, true, &scales, &expert_scales);
  EXPECT_EQ(expert_scales, 4u * 4 * 3);
}

TEST(Dsv4Original, AnyOtherExpertDtypeIsAnError) {
  auto f = load_fixture("deepseek_v4", "testdata/models/deepseek_v4_original");
  for (Json bad : {Json("bf16"), Json("FP8"), Json(4)}) {
    Json c = f.config;
    c["expert_dtype"] = bad;
    try {
      testing::plan(f, c);
      ADD_FAILURE() << bad.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("expert_dtype"), std::string::npos) << e.what();
    }
  }
}

// The names vLLM's loaders give them (deepseek_v4.py hf_to_vllm_mapper + load_weights for the
// decoder, deepseek_v4_mtp.py for mtp.0 = layer num_hidden_layers (3) here).
TEST(Dsv4Original, EngineNamesOfTheMainModelAndTheMtpLayer) {
  auto f = load_fixture("deepseek_v4", "testdata/models/deepseek_v4_original");
  MapPlan p = testing::plan(f);
  const std::map<std::string, std::string> want = {
      {"embed.weight", "model.embed_tokens.weight"},
      {"head.weight", "lm_head.weight"},
      {"norm.weight", "model.norm.weight"},
      {"hc_head_fn", "model.hc_head_fn"},
      {"layers.1.attn.wq_a.weight", "model.layers.1.attn.fused_wqa_wkv.weight"},
      {"layers.1.attn.wkv.scale", "model.layers.1.attn.fused_wqa_wkv.weight_scale_inv"},
      {"layers.1.attn.wo_b.scale", "model.layers.1.attn.wo_b.weight_scale_inv"},
      {"layers.1.attn.compressor.wgate.weight", "model.layers.1.attn.mla_attn.compressor.fused_wkv_wgate.weight"},
      {"layers.1.attn.indexer.compressor.wkv.weight", "model.layers.1.attn.indexer.compressor.fused_wkv_wgate.weight"},
      {"layers.1.attn.indexer.wq_b.scale", "model.layers.1.attn.indexer.wq_b.weight_scale_inv"},
      {"layers.0.ffn.gate.tid2eid", "model.layers.0.ffn.norm_gate.tid2eid"},
      {"layers.2.ffn.gate.bias", "model.layers.2.ffn.norm_gate.e_score_correction_bias"},
      {"layers.2.ffn_norm.weight", "model.layers.2.ffn.norm_gate.norm.weight"},
      {"layers.2.ffn.shared_experts.w2.scale", "model.layers.2.ffn.shared_experts.down_proj.weight_scale_inv"},
      {"layers.2.ffn.shared_experts.w3.scale", "model.layers.2.ffn.shared_experts.gate_up_proj.weight_scale_inv"},
      {"layers.2.ffn.experts.3.w2.scale", "model.layers.2.ffn.experts.w2_weight_scale"},
      {"mtp.0.attn.wq_a.scale", "model.layers.3.mtp_block.attn.fused_wqa_wkv.weight_scale_inv"},
      {"mtp.0.attn_norm.weight", "model.layers.3.mtp_block.attn_norm.weight"},
      {"mtp.0.hc_attn_fn", "model.layers.3.mtp_block.hc_attn_fn"},
      {"mtp.0.ffn_norm.weight", "model.layers.3.mtp_block.ffn.norm_gate.norm.weight"},
      {"mtp.0.ffn.gate.bias", "model.layers.3.mtp_block.ffn.norm_gate.e_score_correction_bias"},
      {"mtp.0.ffn.shared_experts.w2.scale", "model.layers.3.mtp_block.ffn.shared_experts.down_proj.weight_scale_inv"},
      {"mtp.0.ffn.experts.1.w1.scale", "model.layers.3.mtp_block.ffn.experts.w13_weight_scale"},
      {"mtp.0.e_proj.scale", "model.layers.3.e_proj.weight_scale_inv"},
      {"mtp.0.enorm.weight", "model.layers.3.enorm.weight"},
      {"mtp.0.norm.weight", "model.layers.3.shared_head.norm.weight"},
      {"mtp.0.hc_head_scale", "model.layers.3.hc_head_scale"},
  };
  for (const auto& [ck, param] : want) {
    const PlanEntry* e = entry(p, ck);
    ASSERT_NE(e, nullptr) << ck;
    EXPECT_EQ(e->param, param) << ck;
    EXPECT_EQ(e->mtp, ck.starts_with("mtp.")) << ck;
  }
  const PlanEntry* x = entry(p, "mtp.0.ffn.experts.1.w1.scale");
  EXPECT_EQ(x->expert_id, 1);
  EXPECT_EQ(x->shard_id, "w1");
}

// Without a layer count the MTP layer cannot be numbered: the main model's skip applies.
TEST(Dsv4Original, WithoutConfigTheMtpLayerIsSkippedAsTheMainModelSkipsIt) {
  auto f = load_fixture("deepseek_v4", "testdata/models/deepseek_v4_original");
  MapPlan p = plan_mapping(*f.arch, nullptr, f.tensors);
  EXPECT_TRUE(p.unmapped.empty()) << p.unmapped.front();
  size_t mtp = 0;
  for (const auto& t : f.tensors) mtp += t.name.starts_with("mtp.");
  EXPECT_EQ(p.skipped.size(), mtp);
  EXPECT_GT(mtp, 0u);
}

}  // namespace
}  // namespace moeckpt

namespace moeckpt {
namespace {

// The parameter model covers the original layout: a dropped tensor is unfilled under its
// checkpoint name (the MTP layer's as mtp.0.*), and which router tensor a layer carries follows
// num_hash_layers.
TEST(Dsv4Original, TheParameterModelNamesWhatIsMissing) {
  auto f = load_fixture("deepseek_v4", "testdata/models/deepseek_v4_original");
  ASSERT_TRUE(testing::clean(testing::plan(f)));
  for (const char* drop : {"mtp.0.hnorm.weight", "layers.1.attn.indexer.weights_proj.weight", "layers.2.attn.compressor.ape",
                           "layers.0.ffn.gate.tid2eid", "mtp.0.attn.wq_b.weight", "hc_head_base"}) {
    auto tensors = f.tensors;
    std::erase_if(tensors, [&](const TensorInfo& t) { return t.name == drop; });
    ASSERT_EQ(tensors.size() + 1, f.tensors.size()) << drop;
    EXPECT_TRUE(testing::unfilled(testing::plan(f, f.config, tensors), drop)) << drop;
  }
  Json c = f.config;
  c["num_hash_layers"] = 2;  // layer 1 would route by token id: its bias is unexpected, its table missing
  MapPlan p = testing::plan(f, c);
  EXPECT_TRUE(testing::unexpected(p, "layers.1.ffn.gate.bias"));
  EXPECT_TRUE(testing::unfilled(p, "layers.1.ffn.gate.tid2eid"));
  c = f.config;
  c["compress_ratios"] = Json::array({0, 128, 128, 0});  // layer 1 would have no indexer
  p = testing::plan(f, c);
  EXPECT_TRUE(testing::unexpected(p, "layers.1.attn.indexer.weights_proj.weight"));
}

}  // namespace
}  // namespace moeckpt
