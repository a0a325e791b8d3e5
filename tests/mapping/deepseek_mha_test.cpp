// DeepSeek-V2/V3 in MHA mode (vLLM's deepseek_v2.py use_mha: model_type deepseek, or
// qk_nope_head_dim and qk_rope_head_dim both 0, as DeepSeek-OCR's language model is): q/k/v
// stack into self_attn.qkv_proj, the MLA pair into fused_qkv_a_proj only otherwise, and the
// parameter model expects plain attention (testdata/make_deepseek_v2_mha.py).
#include <gtest/gtest.h>

#include <string>

#include "param_fixture.h"

namespace moeckpt {
namespace {

using testing::entry;
using testing::load_fixture;

TEST(DeepseekMha, QkvStackIntoQkvProjAndTheModelIsClean) {
  auto f = load_fixture("deepseek_v2", "testdata/models/deepseek_v2_mha");
  MapPlan p = testing::plan(f);
  EXPECT_TRUE(p.unmapped.empty()) << p.unmapped.front();
  EXPECT_TRUE(testing::clean(p)) << (p.unfilled.empty() ? "" : p.unfilled.front().expected + ": " + p.unfilled.front().reason)
                                 << (p.unexpected.empty() ? "" : " unexpected " + p.unexpected.front());
  for (const char* proj : {"q", "k", "v"}) {
    const PlanEntry* e = entry(p, std::string("model.layers.1.self_attn.") + proj + "_proj.weight");
    ASSERT_NE(e, nullptr) << proj;
    EXPECT_EQ(e->param, "model.layers.1.self_attn.qkv_proj.weight");
    EXPECT_EQ(e->packed, proj);
    EXPECT_EQ(e->kind, "stacked");
  }
  EXPECT_EQ(entry(p, "model.layers.1.self_attn.o_proj.weight")->kind, "direct");
}

TEST(DeepseekMha, AMissingShardOfQkvProjIsUnfilled) {
  auto f = load_fixture("deepseek_v2", "testdata/models/deepseek_v2_mha");
  std::erase_if(f.tensors, [](const TensorInfo& t) { return t.name == "model.layers.2.self_attn.v_proj.weight"; });
  MapPlan p = testing::plan(f);
  EXPECT_TRUE(testing::unfilled(p, "model.layers.2.self_attn.v_proj.weight"));
}

TEST(DeepseekMha, TheSameTensorsUnderAnMlaConfigAreNotStacked) {
  // qk head dims set: vLLM builds MLA attention, so q/k/v_proj are no engine parameter.
  auto f = load_fixture("deepseek_v2", "testdata/models/deepseek_v2_mha");
  Json c = f.config;
  c["qk_nope_head_dim"] = 16;
  c["qk_rope_head_dim"] = 8;
  c["kv_lora_rank"] = 16;
  c["v_head_dim"] = 16;
  MapPlan p = testing::plan(f, c);
  EXPECT_EQ(entry(p, "model.layers.1.self_attn.k_proj.weight")->kind, "direct");
  EXPECT_TRUE(testing::unexpected(p, "model.layers.1.self_attn.k_proj.weight"));
  EXPECT_TRUE(testing::unfilled(p, "model.layers.1.self_attn.kv_a_proj_with_mqa.weight"));
}

TEST(DeepseekMha, ModelTypeDeepseekIsMhaToo) {
  auto f = load_fixture("deepseek_v2", "testdata/models/deepseek_v2_mha");
  Json c = f.config;
  c["model_type"] = "deepseek";
  c["qk_nope_head_dim"] = 16;
  c["qk_rope_head_dim"] = 8;
  MapPlan p = testing::plan(f, c);
  EXPECT_EQ(entry(p, "model.layers.1.self_attn.k_proj.weight")->param, "model.layers.1.self_attn.qkv_proj.weight");
}

TEST(DeepseekMha, MlaFixturesStillFuseQkvA) {
  for (const char* name : {"deepseek_v2", "deepseek_v3"}) {
    auto f = load_fixture(name);
    MapPlan p = testing::plan(f);
    EXPECT_TRUE(testing::clean(p)) << name;
    const PlanEntry* e = entry(p, "model.layers.1.self_attn.kv_a_proj_with_mqa.weight");
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->param, "model.layers.1.self_attn.fused_qkv_a_proj.weight") << name;
  }
  // Without a config the MLA mapping (the default) applies.
  auto f = load_fixture("deepseek_v3");
  MapPlan p = plan_mapping(*f.arch, nullptr, f.tensors);
  EXPECT_EQ(entry(p, "model.layers.1.self_attn.kv_a_proj_with_mqa.weight")->param, "model.layers.1.self_attn.fused_qkv_a_proj.weight");
}

}  // namespace
}  // namespace moeckpt
