// Expert layout plans on the real fixtures: the names and shapes transformers 5 holds in memory
// (testdata/generate_report.json's state_dict_keys; the fused Mixtral .bin is such a state
// dict), the per-expert names the registry's loader reads, and every refusal.
#include "mapping/expert_layout.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "loader/error.h"
#include "mapping/layout_fix.h"
#include "test_util.h"

namespace moeckpt {
namespace {

const Architecture& arch(const char* name) {
  const Architecture* a = ArchRegistry::get().find(name);
  if (!a) throw std::runtime_error(std::string("no entry ") + name);
  return *a;
}

TensorInfo tensor(std::string name, std::vector<uint64_t> shape, DType dtype = DType::kBF16) {
  TensorInfo t;
  t.name = testing::kept_name(std::move(name));
  t.shape = std::move(shape);
  t.dtype = dtype;
  t.nbytes = *checked_nbytes(t.shape, dtype);
  return t;
}

const LayoutTensor* find(const ExpertLayoutPlan& p, const std::string& name) {
  for (const auto& t : p.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

TEST(ExpertLayout, MixtralFusesIntoTransformersNames) {
  Checkpoint ck = Checkpoint::open(std::string(MOECKPT_TESTDATA) + "/models/mixtral");
  auto plan = plan_expert_layout(arch("mixtral"), &*ck.config(), ck.tensors(), ExpertTarget::kFused, "mixtral");
  EXPECT_EQ(plan.fused, 4u);    // 2 layers x (gate_up, down)
  EXPECT_EQ(plan.renamed, 2u);  // the routers
  const LayoutTensor* gu = find(plan, "model.layers.0.mlp.experts.gate_up_proj");
  ASSERT_NE(gu, nullptr);
  EXPECT_EQ(gu->shape, (std::vector<uint64_t>{4, 64, 64}));  // [E, 2I, H], I = 32
  EXPECT_EQ(gu->kind, LayoutTensor::Kind::kFuse);
  ASSERT_EQ(gu->inputs.size(), 2u);
  EXPECT_EQ(gu->inputs[0][3]->name, "model.layers.0.block_sparse_moe.experts.3.w1.weight");  // gate rows first
  EXPECT_EQ(gu->inputs[1][0]->name, "model.layers.0.block_sparse_moe.experts.0.w3.weight");
  const LayoutTensor* down = find(plan, "model.layers.1.mlp.experts.down_proj");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->shape, (std::vector<uint64_t>{4, 64, 32}));  // [E, H, I]
  EXPECT_NE(find(plan, "model.layers.1.mlp.gate.weight"), nullptr);
  for (const auto& t : plan.tensors) EXPECT_EQ(t.name.find("block_sparse_moe"), std::string::npos) << t.name;
}

// transformers' own names, independently: every tensor the fused layout writes (the fused
// experts and the renamed router) is a key of the family's in-memory state dict as the
// reference environment recorded it (testdata/generate_report.json, transformers 5.17).
TEST(ExpertLayout, FusedNamesAreTransformersStateDictKeys) {
  const Json report = Json::parse(testing::read_file(std::string(MOECKPT_TESTDATA) + "/generate_report.json"));
  size_t families = 0;
  for (const auto& [fam, built] : report["parts"]["models"]["built"].items()) {
    const std::string dir = std::string(MOECKPT_TESTDATA) + "/models/" + fam;
    const Architecture* a = ArchRegistry::get().find(fam);
    if (!a || !std::filesystem::exists(dir)) continue;
    Checkpoint ck = Checkpoint::open(dir);
    auto plan = plan_expert_layout(*a, &*ck.config(), ck.tensors(), ExpertTarget::kFused, fam);
    if (!plan.fused) continue;
    std::set<std::string> keys;
    for (const auto& k : built["state_dict_keys"]) keys.insert(k.get<std::string>());
    for (const auto& t : plan.tensors)
      if (t.kind == LayoutTensor::Kind::kFuse || t.kind == LayoutTensor::Kind::kRename) {
        EXPECT_TRUE(keys.count(t.name)) << fam << ": " << t.name << " is not a name transformers holds";
      }
    ++families;
  }
  EXPECT_GE(families, 30u);
}

TEST(ExpertLayout, FusedMixtralBinSplitsIntoWhatTheEngineReads) {
  Checkpoint ck = Checkpoint::open(std::string(MOECKPT_TESTDATA) + "/torchbin/mixtral_bin");
  auto plan = plan_expert_layout(arch("mixtral"), &*ck.config(), ck.tensors(), ExpertTarget::kEngine, "mixtral_bin");
  EXPECT_EQ(plan.split, 4u);
  const LayoutTensor* w3 = find(plan, "model.layers.0.block_sparse_moe.experts.2.w3.weight");
  ASSERT_NE(w3, nullptr);
  EXPECT_EQ(w3->shape, (std::vector<uint64_t>{32, 64}));
  EXPECT_EQ(w3->parts[0].offset, 32u);  // the up half
  EXPECT_EQ(w3->expert, 2u);
  EXPECT_NE(find(plan, "model.layers.1.block_sparse_moe.gate.weight"), nullptr);
  EXPECT_TRUE(expert_layout_fixes(arch("mixtral"), &*ck.config(), ck.tensors(), {}));
  // What map sees after the split: nothing unmapped or unfilled.
  const auto after = layout_tensor_infos(plan);
  const MapPlan m = plan_mapping(arch("mixtral"), &*ck.config(), after);
  EXPECT_TRUE(m.unmapped.empty() && m.unfilled.empty());
}

TEST(ExpertLayout, EngineLayoutPassesThrough) {
  for (const char* fam : {"qwen3_moe", "mixtral", "deepseek_v3"}) {
    Checkpoint ck = Checkpoint::open(std::string(MOECKPT_TESTDATA) + "/models/" + fam);
    auto plan = plan_expert_layout(arch(fam), &*ck.config(), ck.tensors(), ExpertTarget::kEngine, fam);
    EXPECT_FALSE(plan.changed()) << fam;
    EXPECT_EQ(plan.tensors.size(), ck.tensors().size()) << fam;
    EXPECT_FALSE(expert_layout_fixes(arch(fam), &*ck.config(), ck.tensors(), {})) << fam;
  }
  // gpt-oss's engine reads fused experts: fused and engine keep them, per-expert refuses.
  Checkpoint ck = Checkpoint::open(std::string(MOECKPT_TESTDATA) + "/models/gpt_oss");
  EXPECT_FALSE(plan_expert_layout(arch("gpt_oss"), &*ck.config(), ck.tensors(), ExpertTarget::kEngine, "g").changed());
  EXPECT_FALSE(plan_expert_layout(arch("gpt_oss"), &*ck.config(), ck.tensors(), ExpertTarget::kFused, "g").changed());
  EXPECT_EQ(testing::code_of([&] { plan_expert_layout(arch("gpt_oss"), &*ck.config(), ck.tensors(), ExpertTarget::kPerExpert, "g"); }),
            Errc::kUnsupported);
}

TEST(ExpertLayout, NonGatedExpertsStackUpAlone) {
  Checkpoint ck = Checkpoint::open(std::string(MOECKPT_TESTDATA) + "/models/nemotron_h");
  auto plan = plan_expert_layout(arch("nemotron_h"), &*ck.config(), ck.tensors(), ExpertTarget::kFused, "n");
  ASSERT_GT(plan.fused, 0u);
  for (const auto& t : plan.tensors)
    if (t.kind == LayoutTensor::Kind::kFuse) {
      EXPECT_EQ(t.inputs.size(), 1u) << t.name;
      EXPECT_TRUE(t.name.ends_with(".mixer.experts.up_proj") || t.name.ends_with(".mixer.experts.down_proj")) << t.name;
      EXPECT_TRUE(t.name.starts_with("model.layers.")) << t.name;  // transformers' in-memory prefix
    }
}

// A Qwen3-MoE fused layer of 4 experts, I = 32, H = 64, with the config to match.
struct Fused {
  Json config = Json::parse(R"({"model_type": "qwen3_moe", "num_experts": 4, "num_hidden_layers": 1})");
  std::vector<TensorInfo> tensors{tensor("model.layers.0.mlp.experts.gate_up_proj", {4, 64, 64}),
                                  tensor("model.layers.0.mlp.experts.down_proj", {4, 64, 32})};
  ExpertLayoutPlan plan() const { return plan_expert_layout(arch("qwen3_moe"), &config, tensors, ExpertTarget::kPerExpert, "t"); }
};

TEST(ExpertLayout, SplitNamesAndHalves) {
  Fused f;
  auto p = f.plan();
  EXPECT_EQ(p.tensors.size(), 12u);
  const LayoutTensor* g = find(p, "model.layers.0.mlp.experts.1.gate_proj.weight");
  const LayoutTensor* u = find(p, "model.layers.0.mlp.experts.1.up_proj.weight");
  const LayoutTensor* d = find(p, "model.layers.0.mlp.experts.3.down_proj.weight");
  ASSERT_TRUE(g && u && d);
  EXPECT_EQ(g->parts[0].offset, 0u);
  EXPECT_EQ(u->parts[0].offset, 32u);
  EXPECT_EQ(u->shape, (std::vector<uint64_t>{32, 64}));
  EXPECT_EQ(d->shape, (std::vector<uint64_t>{64, 32}));
}

TEST(ExpertLayout, BadFusedTensorsAreRefused) {
  {
    Fused f;
    f.config["num_experts"] = 8;  // the expert dim disagrees with the config
    EXPECT_EQ(testing::code_of([&] { f.plan(); }), Errc::kShapeInvalid);
  }
  {
    Fused f;
    f.tensors[0].shape = {4, 63, 64};  // odd gate_up
    EXPECT_EQ(testing::code_of([&] { f.plan(); }), Errc::kShapeInvalid);
  }
  {
    Fused f;
    f.tensors[1].shape = {4 * 64, 32};  // rank 2
    EXPECT_EQ(testing::code_of([&] { f.plan(); }), Errc::kShapeInvalid);
  }
  {
    Fused f;
    f.tensors[0] = tensor("model.layers.0.mlp.experts.gate_up_proj", {4, 64, 64}, DType::kF8_E4M3);  // quantized
    f.tensors.push_back(tensor("model.layers.0.mlp.experts.gate_up_proj_scale_inv", {4, 1, 1}, DType::kF32));
    EXPECT_EQ(testing::code_of([&] { f.plan(); }), Errc::kUnsupported);
  }
  {
    Fused f;  // a scale beside a BF16 tensor would be lost: refused, not dropped
    f.tensors.push_back(tensor("model.layers.0.mlp.experts.down_proj_scale", {4, 1}, DType::kF32));
    EXPECT_EQ(testing::code_of([&] { f.plan(); }), Errc::kUnsupported);
  }
  {
    Fused f;  // both layouts at once: the split would write a name twice
    f.tensors.push_back(tensor("model.layers.0.mlp.experts.0.gate_proj.weight", {32, 64}));
    EXPECT_EQ(testing::code_of([&] { f.plan(); }), Errc::kDuplicateName);
  }
}

TEST(ExpertLayout, BadPerExpertTensorsAreRefused) {
  Checkpoint ck = Checkpoint::open(std::string(MOECKPT_TESTDATA) + "/models/qwen3_moe");
  std::vector<TensorInfo> all(ck.tensors().begin(), ck.tensors().end());
  auto without = [&](const std::string& name) {
    std::vector<TensorInfo> v;
    for (const auto& t : all)
      if (t.name != name) v.push_back(t);
    return v;
  };
  const Json& cfg = *ck.config();
  auto fuse = [&](std::vector<TensorInfo> v) { plan_expert_layout(arch("qwen3_moe"), &cfg, v, ExpertTarget::kFused, "q"); };
  EXPECT_EQ(testing::code_of([&] { fuse(without("model.layers.1.mlp.experts.2.up_proj.weight")); }), Errc::kUnsupported);  // an expert missing
  auto reshaped = all;
  for (auto& t : reshaped)
    if (t.name == "model.layers.0.mlp.experts.3.down_proj.weight") t.shape = {64, 16};
  EXPECT_EQ(testing::code_of([&] { fuse(reshaped); }), Errc::kShapeInvalid);
  auto extra = all;
  extra.push_back(tensor("model.layers.0.mlp.experts.9.down_proj.weight", {64, 32}));  // past num_experts
  EXPECT_EQ(testing::code_of([&] { fuse(extra); }), Errc::kShapeInvalid);
}

TEST(ExpertLayout, TargetNames) {
  EXPECT_EQ(parse_expert_target("per-expert"), ExpertTarget::kPerExpert);
  EXPECT_EQ(parse_expert_target("fused"), ExpertTarget::kFused);
  EXPECT_EQ(parse_expert_target("engine"), ExpertTarget::kEngine);
  EXPECT_FALSE(parse_expert_target("per_expert"));
}

}  // namespace
}  // namespace moeckpt
