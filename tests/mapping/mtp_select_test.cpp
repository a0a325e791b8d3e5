// --drop-mtp / --only-mtp on the MTP fixtures (testdata/mtp, testdata/make_mtp.py): dropped, the
// model maps cleanly with no MTP tensor and a config that counts none; kept alone, the draft is
// what vLLM's MTP class reads (DeepSeekMTP / Glm4MoeMTP: model.layers.N+i.* only, every
// parameter the registry's MTP layer model lists; Qwen3NextMTP: mtp.* plus the main
// embed_tokens and lm_head).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>

#include "loader/checkpoint.h"
#include "loader/error.h"
#include "mapping/config_view.h"
#include "mapping/mtp_select.h"
#include "mapping/param_model.h"
#include "mapping/planner.h"
#include "test_util.h"

namespace moeckpt {
namespace {

const Architecture& arch(const std::string& n) { return *ArchRegistry::get().find(n); }

struct Selected {
  Extraction x;
  std::vector<TensorInfo> out;  // viewing ck's names and the kept ones
  std::set<std::string> names;
  std::shared_ptr<const Checkpoint> ck;
};

Selected select(MtpMode mode, const std::string& family) {
  auto kept = std::make_shared<const Checkpoint>(Checkpoint::open(testing::source_dir("testdata/mtp/" + family)));
  const Checkpoint& ck = *kept;
  std::vector<std::string> names;
  for (const auto& t : ck.tensors()) names.push_back(t.name);
  Selected s{select_mtp(mode, arch(family), &*ck.config(), names, "config.json"), {}, {}, kept};
  for (const auto& t : ck.tensors()) {
    auto it = s.x.names.find(t.name);
    if (it != s.x.names.end() && !it->second.to) continue;
    s.out.push_back(t);
    if (it != s.x.names.end()) s.out.back().name = testing::kept_name(*it->second.to);
    s.names.insert(s.out.back().name);
  }
  return s;
}

TEST(MtpSelect, NamesByPrefixModuleOrLayerNumber) {
  EXPECT_TRUE(is_mtp_name("mtp.fc.weight", 2));
  EXPECT_TRUE(is_mtp_name("model.mtp.layers.0.ffn.w1.weight", 2));
  EXPECT_TRUE(is_mtp_name("model.mtp_block.0.self_attn.q_proj.weight", 2));
  EXPECT_TRUE(is_mtp_name("model.layers.2.eh_proj.weight", 2));
  EXPECT_FALSE(is_mtp_name("model.layers.1.eh_proj.weight", 2));
  EXPECT_FALSE(is_mtp_name("model.layers.2.mlp.gate.weight", std::nullopt));
  EXPECT_FALSE(is_mtp_name("model.embed_tokens.weight", 2));
}

TEST(MtpSelect, DroppedTheModelMapsCleanWithNoMtpTensorAndCountsNone) {
  for (const std::string family : {"deepseek_v3", "glm4_moe", "qwen3_next"}) {
    Selected s = select(MtpMode::kDrop, family);
    for (const auto& n : s.names) EXPECT_FALSE(is_mtp_name(n, 2)) << family << ": " << n;
    for (const auto& k : mtp_count_keys()) {
      if (s.x.config.contains(k)) {
        EXPECT_EQ(s.x.config[k], 0) << family << " " << k;
      }
    }
    MapPlan p = plan_mapping(arch(family), &s.x.config, s.out);
    EXPECT_TRUE(p.unmapped.empty() && p.unfilled.empty() && p.unexpected.empty()) << family;
    EXPECT_TRUE(std::none_of(p.entries.begin(), p.entries.end(), [](const PlanEntry& e) { return e.mtp; })) << family;
    EXPECT_TRUE(p.notes.empty()) << family << ": " << ::testing::PrintToString(p.notes);
    EXPECT_TRUE(s.names.count("model.embed_tokens.weight") && s.names.count("lm_head.weight")) << family;
  }
}

TEST(MtpSelect, KeptAloneTheDeepSeekDraftIsEveryMtpParameterOfTheLayerAndNothingElse) {
  for (const std::string family : {"deepseek_v3", "glm4_moe"}) {
    Selected s = select(MtpMode::kOnly, family);
    // DeepSeekMTP.load_weights skips every name outside model.layers.{num_hidden_layers + i}.
    for (const auto& n : s.names) EXPECT_TRUE(n.starts_with("model.layers.2.")) << family << ": " << n;
    // Every parameter the registry's parameter model puts in the MTP layer (decoder parts and the
    // deepseek_mtp block, optional embed/head included: the draft must be self-contained).
    Checkpoint ck = Checkpoint::open(testing::source_dir("testdata/mtp/" + family));
    const Architecture& a = arch(family);
    std::vector<std::vector<std::string>> aliases(a.aliases.begin(), a.aliases.end());
    ConfigView view(s.x.config, aliases, a.config_section);
    MapPlan full = plan_mapping(a, &s.x.config, ck.tensors());
    ExpectedSet ex = expand_params(a.params, view, {*full.num_layers, full.moe_layers});
    ASSERT_EQ(ex.mtp_layers, 1);
    int checked = 0;
    for (const auto& t : ex.tensors) {
      if (!t.mtp) continue;
      EXPECT_TRUE(s.names.count(t.name)) << family << ": the draft lacks " << t.name;
      ++checked;
    }
    EXPECT_GE(checked, 10) << family;
    for (int e = 0; e < 4; ++e) EXPECT_TRUE(s.names.count("model.layers.2.mlp.experts." + std::to_string(e) + ".down_proj.weight"));
    EXPECT_EQ(s.x.config, *ck.config()) << "the MTP class finds its layer from num_hidden_layers: config unchanged";
  }
}

TEST(MtpSelect, KeptAloneTheQwen3NextDraftIsMtpPlusTheSharedEmbeddingAndHead) {
  Selected s = select(MtpMode::kOnly, "qwen3_next");
  // Qwen3NextMTP.load_weights: mtp.* (as model.*) and any name with embed_tokens or lm_head.
  for (const auto& n : s.names)
    EXPECT_TRUE(n.starts_with("mtp.") || n == "model.embed_tokens.weight" || n == "lm_head.weight") << n;
  for (const char* n : {"mtp.fc.weight", "mtp.norm.weight", "mtp.pre_fc_norm_embedding.weight", "mtp.pre_fc_norm_hidden.weight",
                        "mtp.layers.0.self_attn.q_proj.weight", "mtp.layers.0.mlp.gate.weight", "mtp.layers.0.mlp.experts.3.up_proj.weight",
                        "mtp.layers.0.mlp.shared_expert_gate.weight", "model.embed_tokens.weight", "lm_head.weight"})
    EXPECT_TRUE(s.names.count(n)) << n;
  Selected d = select(MtpMode::kDrop, "qwen3_next");
  EXPECT_EQ(d.x.config["mtp_num_hidden_layers"], 0);
}

TEST(MtpSelect, ADraftWhoseLayerLacksItsEmbeddingAndHeadTakesTheMainOnes) {
  const std::vector<std::string> names = {"lm_head.weight", "model.embed_tokens.weight", "model.norm.weight",
                                          "model.layers.0.mlp.gate.weight", "model.layers.1.enorm.weight",
                                          "model.layers.1.eh_proj.weight", "model.layers.1.shared_head.norm.weight"};
  Json config = {{"num_hidden_layers", 1}, {"num_nextn_predict_layers", 1}};
  Extraction x = select_mtp(MtpMode::kOnly, arch("deepseek_v3"), &config, names, "c");
  EXPECT_EQ(*x.names.at("model.embed_tokens.weight").to, "model.layers.1.embed_tokens.weight");
  EXPECT_EQ(*x.names.at("lm_head.weight").to, "model.layers.1.shared_head.head.weight");
  EXPECT_FALSE(x.names.at("model.norm.weight").to);
  EXPECT_FALSE(x.names.count("model.layers.1.enorm.weight")) << "kept as it is";
}

TEST(MtpSelect, RefusesACheckpointWithoutMtpLayers) {
  // The transformers fixture says num_nextn_predict_layers 1 but transformers saved no MTP layer.
  Checkpoint ck = Checkpoint::open(testing::source_dir("testdata/models/deepseek_v3"));
  std::vector<std::string> names;
  for (const auto& t : ck.tensors()) names.push_back(t.name);
  for (MtpMode m : {MtpMode::kDrop, MtpMode::kOnly}) {
    try {
      select_mtp(m, arch("deepseek_v3"), &*ck.config(), names, "config.json");
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kUsage);
      EXPECT_NE(std::string(e.what()).find("MTP"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace moeckpt
