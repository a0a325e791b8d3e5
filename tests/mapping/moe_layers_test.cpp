#include "mapping/moe_layers.h"

#include <gtest/gtest.h>

#include "loader/error.h"

namespace moeckpt {
namespace {

std::vector<int64_t> layers(const char* rule_json, const char* config, int64_t n) {
  Json c = Json::parse(config);
  ConfigView v(c);
  MoeLayerRule r;
  r.args = Json::parse(rule_json);
  r.rule = r.args["rule"];
  return resolve_moe_layers(r, v, n, "config.json").layers;
}

TEST(MoeLayers, EachRuleAsItsFamilyDefinesIt) {
  using V = std::vector<int64_t>;
  EXPECT_EQ(layers(R"({"rule":"all"})", "{}", 3), (V{0, 1, 2}));
  // DeepSeek V3: first 3 dense.
  EXPECT_EQ(layers(R"({"rule":"first_k_dense"})", R"({"first_k_dense_replace": 3, "moe_layer_freq": 1})", 5), (V{3, 4}));
  EXPECT_EQ(layers(R"({"rule":"first_k_dense"})", R"({"first_k_dense_replace": 1, "moe_layer_freq": 2})", 6), (V{2, 4}));
  // Qwen2-MoE: mlp_only_layers and decoder_sparse_step.
  EXPECT_EQ(layers(R"({"rule":"sparse_step"})", R"({"decoder_sparse_step": 2, "mlp_only_layers": [3]})", 6), (V{1, 5}));
  // Jamba: experts every 2 layers from 1.
  EXPECT_EQ(layers(R"({"rule":"period"})", R"({"expert_layer_period": 2, "expert_layer_offset": 1})", 6), (V{1, 3, 5}));
  // Llama 4: interleave step, or an explicit list.
  EXPECT_EQ(layers(R"({"rule":"interleave"})", R"({"interleave_moe_layer_step": 2})", 6), (V{1, 3, 5}));
  EXPECT_EQ(layers(R"({"rule":"interleave"})", R"({"moe_layers": [0, 4]})", 6), (V{0, 4}));
  // Nemotron-H pattern.
  EXPECT_EQ(layers(R"({"rule":"pattern"})", R"({"hybrid_override_pattern": "M-E*E"})", 5), (V{2, 4}));
  EXPECT_EQ(layers(R"({"rule":"layer_types","key":"mlp_layer_types","values":["sparse"]})",
                   R"({"mlp_layer_types": ["dense", "sparse", "sparse"]})", 3), (V{1, 2}));
  // MiMo-V2-Flash: a per-layer 0/1 list.
  EXPECT_EQ(layers(R"({"rule":"layer_types","key":"moe_layer_freq","values":[1, true]})",
                   R"({"moe_layer_freq": [0, 1, true, 0, 2]})", 5), (V{1, 2}));
  EXPECT_EQ(layers(R"({"rule":"dense_prefix"})", R"({"num_dense_layers": 2})", 4), (V{2, 3}));
  EXPECT_EQ(layers(R"({"rule":"list","key":"moe_layer_ids"})", R"({"moe_layer_ids": [1]})", 4), (V{1}));
  // ERNIE 4.5: a window of layers with an interval; the end defaults to the last layer.
  EXPECT_EQ(layers(R"({"rule":"window"})",
                   R"({"moe_layer_start_index": 1, "moe_layer_end_index": 4, "moe_layer_interval": 2})", 6), (V{1, 3}));
  EXPECT_EQ(layers(R"({"rule":"window"})", R"({"moe_layer_start_index": 2})", 4), (V{2, 3}));
  // Step3: the MoE layers as one comma-separated string; without it one dense layer (a fixed count).
  EXPECT_EQ(layers(R"({"rule":"list","key":"moe_layers_enum"})", R"({"moe_layers_enum": "1, 3,4"})", 5), (V{1, 3, 4}));
  EXPECT_EQ(layers(R"({"rule":"list","key":"moe_layers_enum","fallback":{"rule":"dense_prefix","count":1}})", "{}", 3),
            (V{1, 2}));
  EXPECT_EQ(layers(R"({"rule":"dense_prefix","count":2})", R"({"num_dense_layers": 0})", 3), (V{2}));
  // Key overrides.
  EXPECT_EQ(layers(R"({"rule":"first_k_dense","first_k":"num_dense"})", R"({"num_dense": 2})", 3), (V{2}));
}

// The fallback decides only when the config has none of the primary rule's keys.
TEST(MoeLayers, EnabledByFlagsGateEveryRule) {
  using V = std::vector<int64_t>;
  // Gemma 4: the MoE block exists only with enable_moe_block (or use_second_mlp_block) true;
  // an absent flag is false, as vLLM's getattr(config, ..., False) reads it.
  const char* rule = R"({"rule":"all","enabled_by":["enable_moe_block","use_second_mlp_block"]})";
  EXPECT_EQ(layers(rule, R"({"enable_moe_block": true})", 3), (V{0, 1, 2}));
  EXPECT_EQ(layers(rule, R"({"enable_moe_block": false, "use_second_mlp_block": true})", 2), (V{0, 1}));
  EXPECT_EQ(layers(rule, R"({"enable_moe_block": false})", 3), V{});
  EXPECT_EQ(layers(rule, "{}", 3), V{});
  // Only a JSON true enables it ("true" as a string does not).
  EXPECT_EQ(layers(rule, R"({"enable_moe_block": "true"})", 3), V{});
  // The flag gates the rule, it does not replace it.
  EXPECT_EQ(layers(R"({"rule":"dense_prefix","enabled_by":["moe"]})", R"({"moe": true, "num_dense_layers": 1})", 3), (V{1, 2}));
  Json c = Json::parse(R"({"enable_moe_block": false})");
  ConfigView v(c);
  MoeLayerRule r;
  r.args = Json::parse(rule);
  r.rule = "all";
  EXPECT_EQ(resolve_moe_layers(r, v, 2, "config.json").explanation, "enable_moe_block/use_second_mlp_block not set: no MoE block");
}

TEST(MoeLayers, FallbackAppliesWhenThePrimaryKeysAreAbsent) {
  using V = std::vector<int64_t>;
  const char* rule = R"({"rule":"first_k_dense",
                         "fallback":{"rule":"layer_types","key":"mlp_layer_types","values":["sparse"]}})";
  // transformers 5 config: only the per-layer list.
  EXPECT_EQ(layers(rule, R"({"mlp_layer_types": ["dense", "sparse", "dense"]})", 3), (V{1}));
  // Hub config: the engine's key wins even when a (contradicting) list is present.
  EXPECT_EQ(layers(rule, R"({"first_k_dense_replace": 2, "mlp_layer_types": ["dense", "sparse", "dense"]})", 3), (V{2}));
  EXPECT_EQ(layers(rule, R"({"moe_layer_freq": 1})", 2), (V{0, 1}));
  // Neither: the fallback's own error names its key.
  try {
    layers(rule, "{}", 3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mlp_layer_types"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no first_k_dense_replace/moe_layer_freq"), std::string::npos) << e.what();
  }
  Json c = Json::parse(R"({"mlp_layer_types": ["sparse", "dense"]})");
  ConfigView v(c);
  MoeLayerRule r;
  r.args = Json::parse(rule);
  r.rule = "first_k_dense";
  auto got = resolve_moe_layers(r, v, 2, "config.json");
  EXPECT_NE(got.explanation.find("first_k_dense_replace"), std::string::npos) << got.explanation;
  EXPECT_NE(got.explanation.find("layer_types"), std::string::npos) << got.explanation;
}

TEST(MoeLayers, BadValuesAreConfigErrorsNamingTheKey) {
  try {
    layers(R"({"rule":"first_k_dense"})", R"({"first_k_dense_replace": "three"})", 4);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'first_k_dense_replace' is string"), std::string::npos) << e.what();
  }
  EXPECT_THROW(layers(R"({"rule":"sparse_step"})", R"({"decoder_sparse_step": 0})", 4), Error);
  EXPECT_THROW(layers(R"({"rule":"pattern"})", R"({})", 4), Error);
  EXPECT_THROW(layers(R"({"rule":"sparse_step"})", R"({"mlp_only_layers": 3})", 4), Error);
  EXPECT_THROW(layers(R"({"rule":"window"})", R"({"moe_layer_interval": 0})", 4), Error);
  EXPECT_THROW(layers(R"({"rule":"list","key":"moe_layers_enum"})", R"({"moe_layers_enum": "1,,2"})", 4), Error);
  EXPECT_THROW(layers(R"({"rule":"list","key":"moe_layers_enum"})", R"({"moe_layers_enum": "1,-2"})", 4), Error);
  EXPECT_THROW(layers(R"({"rule":"list","key":"moe_layers_enum"})", R"({"moe_layers_enum": "1,x"})", 4), Error);
  EXPECT_THROW(layers(R"({"rule":"list","key":"moe_layers_enum"})", R"({"moe_layers_enum": "99999999999999999999"})", 4), Error);
  EXPECT_THROW(layers(R"({"rule":"window"})", R"({"moe_layer_start_index": [1, "x"]})", 4), Error);
}

// ERNIE-4.5-VL gives the window's bounds per modality, [text, vision]: a layer holds experts when
// it is in either, min(start) .. max(end), as vLLM's Ernie4_5_VLMoeDecoderLayer decides.
TEST(MoeLayers, WindowBoundsGivenAsListsTakeTheWidest) {
  EXPECT_EQ(layers(R"({"rule":"window"})", R"({"moe_layer_start_index": [2, 1], "moe_layer_end_index": [2, 3]})", 5),
            (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(layers(R"({"rule":"window"})", R"({"moe_layer_start_index": [1, 1], "moe_layer_end_index": [29, 28]})", 3),
            (std::vector<int64_t>{1, 2}));
}

}  // namespace
}  // namespace moeckpt
