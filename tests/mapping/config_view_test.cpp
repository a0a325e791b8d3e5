#include "mapping/config_view.h"

#include <gtest/gtest.h>

namespace moeckpt {
namespace {

Json cfg(std::string_view s) { return Json::parse(s); }

TEST(ConfigView, ResolvesEachFieldOverItsAliases) {
  struct Case { const char* json; ConfigField f; int64_t value; const char* key; };
  const Case cases[] = {
      {R"({"num_experts": 8})", ConfigField::kNumExperts, 8, "num_experts"},
      {R"({"num_local_experts": 8})", ConfigField::kNumExperts, 8, "num_local_experts"},
      {R"({"n_routed_experts": 256})", ConfigField::kNumExperts, 256, "n_routed_experts"},
      {R"({"moe_num_experts": 64})", ConfigField::kNumExperts, 64, "moe_num_experts"},
      {R"({"num_experts_per_tok": 2})", ConfigField::kTopK, 2, "num_experts_per_tok"},
      {R"({"top_k_experts": 4})", ConfigField::kTopK, 4, "top_k_experts"},
      {R"({"moe_k": 6})", ConfigField::kTopK, 6, "moe_k"},
      {R"({"moe_topk": 12})", ConfigField::kTopK, 12, "moe_topk"},
      {R"({"n_shared_experts": 1})", ConfigField::kNumSharedExperts, 1, "n_shared_experts"},
      {R"({"num_shared_experts": 2})", ConfigField::kNumSharedExperts, 2, "num_shared_experts"},
      {R"({"moe_intermediate_size": 1408})", ConfigField::kMoeIntermediateSize, 1408, "moe_intermediate_size"},
      {R"({"intermediate_size": 14336})", ConfigField::kMoeIntermediateSize, 14336, "intermediate_size"},
      {R"({"num_hidden_layers": 61})", ConfigField::kNumLayers, 61, "num_hidden_layers"},
  };
  for (const auto& c : cases) {
    Json j = cfg(c.json);
    ConfigView v(j);
    auto r = v.get(c.f);
    ASSERT_TRUE(r) << c.json;
    EXPECT_EQ(r->value, c.value) << c.json;
    EXPECT_EQ(r->key, c.key) << c.json;
  }
}

TEST(ConfigView, TopKOnlyUnderTopKExpertsPasses) {
  Json v_json = cfg(R"({"top_k_experts": 8, "num_experts": 128})");
  ConfigView v(v_json);
  ASSERT_TRUE(v.get(ConfigField::kTopK));
  EXPECT_EQ(v.get(ConfigField::kTopK)->key, "top_k_experts");
}

TEST(ConfigView, FirstAliasWinsAndMissingNamesEveryAlias) {
  Json v_json = cfg(R"({"num_experts": 8, "num_local_experts": 4})");
  ConfigView v(v_json);
  EXPECT_EQ(v.get(ConfigField::kNumExperts)->value, 8);
  Json none_json = cfg(R"({"hidden_size": 8})");
  ConfigView none(none_json);
  EXPECT_FALSE(none.get(ConfigField::kTopK));
  const auto& tried = none.aliases(ConfigField::kTopK);
  EXPECT_NE(std::find(tried.begin(), tried.end(), "num_experts_per_tok"), tried.end());
  EXPECT_NE(std::find(tried.begin(), tried.end(), "top_k_experts"), tried.end());
}

TEST(ConfigView, ArchitectureAliasesReplaceTheDefaults) {
  std::vector<std::vector<std::string>> aliases(kNumConfigFields);
  aliases[static_cast<size_t>(ConfigField::kNumExperts)] = {"num_local_experts"};
  Json v_json = cfg(R"({"num_experts": 8, "num_local_experts": 4})");
  ConfigView v(v_json, aliases);
  EXPECT_EQ(v.get(ConfigField::kNumExperts)->value, 4);
}

TEST(ConfigView, ReadsTheTextSubConfigOfCompositeConfigs) {
  Json v_json = cfg(R"({"model_type": "llama4", "architectures": ["Llama4ForConditionalGeneration"],
                       "text_config": {"num_local_experts": 16, "num_experts_per_tok": 1}})");
  ConfigView v(v_json);
  EXPECT_EQ(v.text_section(), "text_config");
  EXPECT_EQ(v.get(ConfigField::kNumExperts)->value, 16);
  EXPECT_EQ(v.get(ConfigField::kNumExperts)->key, "text_config.num_local_experts");
  EXPECT_EQ(v.model_type(), "llama4");
  EXPECT_EQ(v.architectures(), (std::vector<std::string>{"Llama4ForConditionalGeneration"}));
}

TEST(ConfigView, WrongTypesAreProblemsNotValues) {
  Json v_json = cfg(R"({"num_experts": "eight", "num_experts_per_tok": -2, "num_hidden_layers": 2.0})");
  ConfigView v(v_json);
  EXPECT_FALSE(v.get(ConfigField::kNumExperts));
  EXPECT_FALSE(v.get(ConfigField::kTopK));
  EXPECT_EQ(v.get(ConfigField::kNumLayers)->value, 2);  // integral floats are accepted
  ASSERT_EQ(v.problems().size(), 2u);
  EXPECT_EQ(v.problems()[0].key, "num_experts");
  EXPECT_NE(v.problems()[0].message.find("expected an integer"), std::string::npos);
}

TEST(ConfigView, PerModalityListsTakeTheTextValue) {
  Json v_json = cfg(R"({"moe_intermediate_size": [1536, 512], "moe_num_experts": [64, 64]})");
  ConfigView v(v_json);
  EXPECT_EQ(v.get(ConfigField::kMoeIntermediateSize)->value, 1536);
  EXPECT_EQ(v.get(ConfigField::kMoeIntermediateSize)->key, "moe_intermediate_size[0]");
}

TEST(ConfigView, LayerCountFromAPerLayerListOrPattern) {
  std::vector<std::vector<std::string>> aliases(kNumConfigFields);
  aliases[static_cast<size_t>(ConfigField::kNumLayers)] = {"num_hidden_layers", "layers_block_type", "hybrid_override_pattern"};
  Json list_json = cfg(R"({"layers_block_type": ["linear_attention", "moe", "full_attention", "mlp"]})");
  ConfigView list(list_json, aliases);
  ASSERT_TRUE(list.get(ConfigField::kNumLayers));
  EXPECT_EQ(list.get(ConfigField::kNumLayers)->value, 4);
  EXPECT_EQ(list.get(ConfigField::kNumLayers)->key, "len(layers_block_type)");
  Json pattern_json = cfg(R"({"hybrid_override_pattern": "M-M*E"})");
  ConfigView pattern(pattern_json, aliases);
  EXPECT_EQ(pattern.get(ConfigField::kNumLayers)->value, 5);
  // An explicit count still wins, and only the layer count reads lists of names this way.
  Json both_json = cfg(R"({"num_hidden_layers": 52, "layers_block_type": ["moe"], "num_experts": ["a", "b"]})");
  ConfigView both(both_json, aliases);
  EXPECT_EQ(both.get(ConfigField::kNumLayers)->value, 52);
  EXPECT_FALSE(both.get(ConfigField::kNumExperts));
  // Empty lists and strings count nothing: a problem, not zero layers.
  Json empty_json = cfg(R"({"layers_block_type": []})");
  ConfigView empty(empty_json, aliases);
  EXPECT_FALSE(empty.get(ConfigField::kNumLayers));
  EXPECT_EQ(empty.problems().size(), 1u);
}

}  // namespace
}  // namespace moeckpt
