#include "mapping/planner.h"

#include <gtest/gtest.h>

#include "loader/error.h"
#include "test_util.h"

namespace moeckpt {
namespace {

// A small family described by hand: per-expert w1/w2/w3, stacked q/k/v, a DeepSeek V4 variant.
const char* kArch = R"({
  "name": "toy", "title": "Toy", "source": "vllm",
  "aliases": {"num_experts": ["n_experts"], "num_layers": ["layers"]},
  "moe_layers": {"rule": "first_k_dense", "first_k": "dense"},
  "experts": [{"layout": "per_expert", "path": "model.layers.{L}.moe.experts", "gate": "w1", "up": "w3", "down": "w2"}],
  "stacked": [["qkv_proj", "q_proj", "q"], ["qkv_proj", "k_proj", "k"], ["qkv_proj", "v_proj", "v"]],
  "skip": ["rotary_emb.inv_freq"],
  "tensors": ["model.layers.{L}.attn.{q,k,v,o}_proj.weight", "model.layers.{L}.mlp.weight", "model.norm.weight"]
})";

const char* kDsv4 = R"({
  "name": "dsv4", "title": "DSV4", "source": "vllm", "scale_rule": "deepseek_v4",
  "experts": [{"layout": "per_expert", "path": "layers.{L}.ffn.experts", "gate": "w1", "up": "w3", "down": "w2"}],
  "tensors": ["layers.{L}.attn.wq_a.weight", "layers.{L}.ffn.shared_experts.{w1,w2,w3}.weight"]
})";

TensorInfo t(const std::string& name, DType d = DType::kBF16) {
  TensorInfo x;
  x.name = testing::kept_name(name);
  x.dtype = d;
  x.shape = {2, 2};
  x.nbytes = 8;
  return x;
}

std::vector<TensorInfo> toy_tensors(bool complete) {
  std::vector<TensorInfo> v = {t("model.norm.weight"), t("model.layers.0.mlp.weight"),
                               t("model.layers.0.attn.q_proj.weight"), t("model.layers.0.attn.k_proj.weight"),
                               t("model.layers.0.attn.v_proj.weight"), t("model.layers.0.attn.o_proj.weight"),
                               t("model.layers.0.rotary_emb.inv_freq")};
  for (int e = 0; e < 2; ++e)
    for (const char* p : {"w1", "w2", "w3"})
      v.push_back(t("model.layers.1.moe.experts." + std::to_string(e) + "." + p + ".weight"));
  if (!complete) {
    v.erase(v.begin() + 3);  // k_proj
    v.pop_back();            // experts.1.w3
  }
  std::sort(v.begin(), v.end(), [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  return v;
}

const Architecture& toy() {
  static ArchRegistry r = ArchRegistry::from_entries({{"toy.json", kArch}, {"dsv4.json", kDsv4}});
  return *r.find("toy");
}
const Architecture& dsv4() {
  static ArchRegistry r = ArchRegistry::from_entries({{"toy.json", kArch}, {"dsv4.json", kDsv4}});
  return *r.find("dsv4");
}

const PlanEntry* entry(const MapPlan& p, const std::string& name) {
  for (const auto& e : p.entries)
    if (e.checkpoint == name) return &e;
  return nullptr;
}

TEST(Planner, MapsExpertsStackedAndDirectTensors) {
  Json cfg = Json::parse(R"({"n_experts": 2, "layers": 2, "dense": 1})");
  auto v = toy_tensors(true);
  MapPlan p = plan_mapping(toy(), &cfg, v);
  EXPECT_TRUE(p.unmapped.empty());
  EXPECT_TRUE(p.unfilled.empty());
  EXPECT_EQ(p.moe_layers, std::vector<int64_t>{1});
  const PlanEntry* e = entry(p, "model.layers.1.moe.experts.1.w3.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->param, "model.layers.1.moe.experts.w13_weight");
  EXPECT_EQ(*e->expert_id, 1);
  EXPECT_EQ(e->shard_id, "w3");
  e = entry(p, "model.layers.1.moe.experts.0.w2.weight");
  EXPECT_EQ(e->param, "model.layers.1.moe.experts.w2_weight");
  EXPECT_EQ(e->shard_id, "w2");
  e = entry(p, "model.layers.0.attn.k_proj.weight");
  EXPECT_EQ(e->param, "model.layers.0.attn.qkv_proj.weight");
  EXPECT_EQ(e->packed, "k");
  EXPECT_FALSE(e->expert_id);
  EXPECT_EQ(entry(p, "model.norm.weight")->param, "model.norm.weight");
  ASSERT_EQ(p.skipped.size(), 1u);
  EXPECT_EQ(p.skipped[0].first, "model.layers.0.rotary_emb.inv_freq");
}

TEST(Planner, ListsWhatTheConfigImpliesButNoTensorFills) {
  Json cfg = Json::parse(R"({"n_experts": 2, "layers": 2, "dense": 1})");
  auto v = toy_tensors(false);
  MapPlan p = plan_mapping(toy(), &cfg, v);
  ASSERT_EQ(p.unfilled.size(), 2u);
  EXPECT_EQ(p.unfilled[0].param, "model.layers.0.attn.qkv_proj.weight");
  EXPECT_EQ(p.unfilled[0].packed, "k");
  EXPECT_EQ(p.unfilled[0].expected, "model.layers.0.attn.k_proj.weight");
  EXPECT_EQ(p.unfilled[1].param, "model.layers.1.moe.experts.w13_weight");
  EXPECT_EQ(*p.unfilled[1].expert_id, 1);
  EXPECT_EQ(p.unfilled[1].shard_id, "w3");
  // A config with more experts than the tensors: every missing one is listed.
  Json more = Json::parse(R"({"n_experts": 3, "layers": 2, "dense": 1})");
  auto full = toy_tensors(true);
  EXPECT_EQ(plan_mapping(toy(), &more, full).unfilled.size(), 3u);
}

TEST(Planner, ForeignTensorsAreUnmapped) {
  auto v = toy_tensors(true);
  v.push_back(t("model.layers.0.attn.q_proj.lora_A.weight"));
  v.push_back(t("vision_tower.patch_embed.weight"));
  MapPlan p = plan_mapping(toy(), nullptr, v);
  EXPECT_EQ(p.unmapped, (std::vector<std::string>{"model.layers.0.attn.q_proj.lora_A.weight", "vision_tower.patch_embed.weight"}));
}

TEST(Planner, QuantizedWeightsNeedTheirScales) {
  Json cfg = Json::parse(R"({"n_experts": 2, "layers": 2, "dense": 1,
      "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}})");
  auto v = toy_tensors(true);
  for (auto& x : v)
    if (x.name.find("experts.0.w1") != std::string::npos || x.name.find("o_proj") != std::string::npos) x.dtype = DType::kF8_E4M3;
  v.push_back(t("model.layers.0.attn.o_proj.weight_scale_inv", DType::kF32));
  MapPlan p = plan_mapping(toy(), &cfg, v);
  ASSERT_EQ(p.unfilled.size(), 1u);
  EXPECT_EQ(p.unfilled[0].param, "model.layers.1.moe.experts.w13_weight_scale_inv");
  EXPECT_EQ(p.unfilled[0].expected, "model.layers.1.moe.experts.0.w1.weight_scale_inv");
  // The scale tensor itself maps like its weight, and is not unmapped.
  EXPECT_EQ(entry(p, "model.layers.0.attn.o_proj.weight_scale_inv")->param, "model.layers.0.attn.o_proj.weight_scale_inv");
}

TEST(Planner, UserRulesApplyFirstAndCanDrop) {
  auto v = toy_tensors(true);
  for (auto& x : v) x.name = testing::kept_name("base_model." + x.name);
  RuleSet r = RuleSet::parse(R"({"prefix": {"base_model.": ""}, "substr": {"rotary_emb": null}})", "r");
  PlanOptions o;
  o.user_rules = &r;
  MapPlan p = plan_mapping(toy(), nullptr, v, o);
  EXPECT_TRUE(p.unmapped.empty());
  EXPECT_EQ(p.dropped, std::vector<std::string>{"base_model.model.layers.0.rotary_emb.inv_freq"});
  EXPECT_EQ(entry(p, "base_model.model.norm.weight")->param, "model.norm.weight");
}

TEST(Planner, DeepSeekV4ScaleRuleInAllFourCases) {
  std::vector<TensorInfo> v = {t("layers.0.attn.wq_a.scale", DType::kF32), t("layers.0.attn.wq_a.weight", DType::kF8_E4M3),
                               t("layers.0.ffn.experts.0.w1.scale", DType::kF8_E8M0), t("layers.0.ffn.experts.0.w1.weight", DType::kI8),
                               t("layers.0.ffn.shared_experts.w1.scale", DType::kF32),
                               t("layers.0.ffn.shared_experts.w1.weight", DType::kF8_E4M3)};
  auto param = [&](const MapPlan& p, const char* n) { return entry(p, n)->param; };
  Json fp4 = Json::parse(R"({"expert_dtype": "fp4"})");
  MapPlan a = plan_mapping(dsv4(), &fp4, v);
  EXPECT_EQ(param(a, "layers.0.ffn.experts.0.w1.scale"), "layers.0.ffn.experts.w13_weight_scale");
  EXPECT_EQ(param(a, "layers.0.ffn.shared_experts.w1.scale"), "layers.0.ffn.shared_experts.w1.weight_scale_inv");
  EXPECT_EQ(param(a, "layers.0.attn.wq_a.scale"), "layers.0.attn.wq_a.weight_scale_inv");
  Json fp8 = Json::parse(R"({"expert_dtype": "fp8"})");
  MapPlan b = plan_mapping(dsv4(), &fp8, v);
  EXPECT_EQ(param(b, "layers.0.ffn.experts.0.w1.scale"), "layers.0.ffn.experts.w13_weight_scale_inv");
  Json absent = Json::parse(R"({})");
  MapPlan c = plan_mapping(dsv4(), &absent, v);
  EXPECT_EQ(param(c, "layers.0.ffn.experts.0.w1.scale"), "layers.0.ffn.experts.w13_weight_scale");
  EXPECT_FALSE(c.expert_dtype->explicit_in_config);
  Json bad = Json::parse(R"({"expert_dtype": "int4"})");
  try {
    plan_mapping(dsv4(), &bad, v);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), kExitInput);
    EXPECT_NE(std::string(e.what()).find("expert_dtype"), std::string::npos);
  }
}

TEST(Planner, FlagsMtpLayersBeyondTheLayerCount) {
  Json cfg = Json::parse(R"({"n_experts": 2, "layers": 1, "dense": 1})");
  std::vector<TensorInfo> v = {t("model.layers.0.mlp.weight"), t("model.layers.1.attn.o_proj.weight")};
  MapPlan p = plan_mapping(toy(), &cfg, v);
  EXPECT_FALSE(entry(p, "model.layers.0.mlp.weight")->mtp);
  EXPECT_TRUE(entry(p, "model.layers.1.attn.o_proj.weight")->mtp);
}

}  // namespace
}  // namespace moeckpt
