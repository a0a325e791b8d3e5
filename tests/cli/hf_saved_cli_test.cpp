// transformers' own save_pretrained outputs (testdata/generate_composite.py, transformers 5.17.0)
// of entries whose main fixture was synthesized from release names (and ZAYA's, its only
// fixture), through the real binary:
// each is detected as its entry from config.json, `map` exits as expected, `validate` agrees,
// and the findings are the ones the entry's notes explain (towers as towers, the names the
// engine cannot load as unmapped or unexpected, nothing else).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

#include "test_util.h"

namespace moeckpt {
namespace {

using nlohmann::json;
using testing::run_moeckpt;

struct HfSaved {
  std::string dir;
  std::string arch;
  int map_exit;                     // 0: maps fully, 1: findings
  std::string tower_prefix;         // every tower tensor starts with one of these ('|'-separated); empty: no towers
  std::string unmapped_prefix;      // every unmapped tensor starts with one of these; empty: none unmapped
  std::set<std::string> codes;      // validate's finding codes, exactly
};

bool starts_with_any(const std::string& name, const std::string& prefixes) {
  size_t pos = 0;
  while (pos <= prefixes.size()) {
    size_t end = prefixes.find('|', pos);
    if (end == std::string::npos) end = prefixes.size();
    if (end > pos && name.starts_with(prefixes.substr(pos, end - pos))) return true;
    pos = end + 1;
  }
  return false;
}

const std::vector<HfSaved> kSaved = {
    {"testdata/composite/glm4v_moe_hf", "glm4v_moe", 0, "model.visual.", "", {}},
    {"testdata/composite/glm4v_moe_hf_lm_only", "glm4v_moe", 0, "", "", {}},
    // transformers writes the language model as language_model.model.blocks.N (the release and
    // vLLM: layers.N), no lm_head, and the projector norm under model.mm_projector.
    {"testdata/composite/kimi_k25_hf", "kimi_k25", 1, "vision_tower.|mm_projector.proj.",
     "language_model.model.blocks.|model.mm_projector.pre_norm.", {"E-MAP-UNFILLED", "E-MAP-UNMAPPED"}},
    {"testdata/composite/kimi_k25_hf_lm_only", "kimi_k25", 1, "", "language_model.model.blocks.",
     {"E-MAP-UNFILLED", "E-MAP-UNMAPPED"}},
    // A dense Gemma 4 (enable_moe_block false): no MoE layer, nothing expected of one.
    {"testdata/models_hf/gemma4_text", "gemma4_text", 0, "", "", {}},
    // tie_word_embeddings false and a separate lm_head, which vLLM ties to embed_tokens anyway.
    {"testdata/models_hf/lfm2_moe", "lfm2_moe", 0, "", "", {"W-PARAM-IGNORED"}},
    // num_hidden_layers = 2 * num_layers and the zero experts' gate/up rows, as longcat_flash's notes say.
    {"testdata/models_hf/longcat_flash", "longcat_flash", 1, "", "", {"E-MAP-UNFILLED", "E-MOE-LAYERS", "E-PARAM-UNEXPECTED"}},
    // Qwen3-Omni: the thinker's language model, audio tower and vision tower under thinker.; the
    // talker and code2wav were not built (enable_audio_output false).
    {"testdata/composite/qwen3_omni_moe_hf", "qwen3_omni_moe", 0, "thinker.audio_tower.|thinker.visual.", "", {}},
    {"testdata/composite/qwen3_omni_moe_hf_lm_only", "qwen3_omni_moe", 0, "", "", {}},
    // ERNIE-4.5-VL: the language model under the release's names (per-expert, text experts first);
    // the vision tower as model.vision_model.*, which vLLM's mapper sends to
    // language_model.model.vision_model.* (not its vision_model module); text_config's
    // tie_word_embeddings false with no lm_head saved (transformers tied by the top-level true).
    {"testdata/composite/ernie4_5_vl_moe_hf", "ernie4_5_vl_moe", 1, "model.resampler_model.", "model.vision_model.",
     {"E-MAP-UNFILLED", "E-MAP-UNMAPPED"}},
    {"testdata/composite/ernie4_5_vl_moe_hf_lm_only", "ernie4_5_vl_moe", 1, "", "", {"E-MAP-UNFILLED"}},
    // ZAYA: vLLM reads the names transformers saves (fused experts; qk_norm.temp is renamed to qkv_proj.temp).
    {"testdata/models_hf/zaya", "zaya", 0, "", "", {}},
    // DBRX: vLLM reads the names transformers saves (the 2-D expert stacks ffn.experts.mlp.w1/v1/w2
    // into ffn.experts.w13_weight / w2_weight; sizes under attn_config / ffn_config).
    {"testdata/models_hf/dbrx", "dbrx", 0, "", "", {}},
};

TEST(HfSavedCli, EachSaveMapsAsItsEntryExplains) {
  for (const auto& s : kSaved) {
    auto map = run_moeckpt({"map", s.dir, "--json"});
    auto val = run_moeckpt({"validate", s.dir, "--json"});
    ASSERT_EQ(map.exit_code, s.map_exit) << s.dir << ": " << map.err << map.out.substr(0, 800);
    EXPECT_EQ(val.exit_code, s.map_exit) << s.dir;
    json m = json::parse(map.out), v = json::parse(val.out);
    EXPECT_EQ(m["architecture"], s.arch) << s.dir;
    EXPECT_EQ(m["detected_from"], "config.json architectures") << s.dir;
    EXPECT_EQ(v["summary"]["architecture"], s.arch) << s.dir;
    EXPECT_EQ(v["ok"].get<bool>(), s.map_exit == 0) << s.dir;
    EXPECT_EQ(m["towers"].empty(), s.tower_prefix.empty()) << s.dir;
    for (const auto& t : m["towers"]) EXPECT_TRUE(starts_with_any(t["checkpoint"], s.tower_prefix)) << s.dir << ": " << t.dump();
    EXPECT_EQ(m["unmapped"].empty(), s.unmapped_prefix.empty()) << s.dir;
    for (const auto& u : m["unmapped"]) EXPECT_TRUE(starts_with_any(u.get<std::string>(), s.unmapped_prefix)) << s.dir << ": " << u;
    std::set<std::string> codes;
    for (const auto& f : v["findings"]) codes.insert(f["code"]);
    EXPECT_EQ(codes, s.codes) << s.dir << "\n" << v["findings"].dump(1).substr(0, 1500);
    if (s.map_exit == 0) {
      EXPECT_EQ(m["summary"]["unfilled"], 0) << s.dir;
      EXPECT_EQ(m["summary"]["unexpected"], 0) << s.dir;
    }
  }
}

TEST(HfSavedCli, TheFindingsNameTheTensorsTheEngineCannotLoad) {
  // Gemma 4 dense: no MoE layers, and map says why.
  json g = json::parse(run_moeckpt({"map", "testdata/models_hf/gemma4_text", "--json"}).out);
  EXPECT_TRUE(g["moe_layers"].empty()) << g["moe_layers"];
  auto gh = run_moeckpt({"map", "testdata/models_hf/gemma4_text"});
  EXPECT_NE(gh.out.find("enable_moe_block/use_second_mlp_block not set"), std::string::npos) << gh.out.substr(0, 400);
  // LFM2-MoE: the warning is for lm_head.weight alone.
  json l = json::parse(run_moeckpt({"validate", "testdata/models_hf/lfm2_moe", "--json"}).out);
  ASSERT_EQ(l["findings"].size(), 1u) << l["findings"];
  EXPECT_EQ(l["findings"][0]["tensor"], "lm_head.weight") << l["findings"][0];
  // The release layout (no lm_head) has no such warning.
  json r = json::parse(run_moeckpt({"validate", "testdata/vllm_only/lfm2_moe", "--json"}).out);
  EXPECT_TRUE(r["findings"].empty()) << r["findings"];
  // LongCat-Flash: exactly the zero experts' gate/up are unexpected, and layer 1 (of the doubled
  // num_hidden_layers) is the one without experts.
  json c = json::parse(run_moeckpt({"validate", "testdata/models_hf/longcat_flash", "--json"}).out);
  std::set<std::string> unexpected;
  bool layer1 = false;
  for (const auto& f : c["findings"]) {
    if (f["code"] == "E-PARAM-UNEXPECTED") unexpected.insert(f["tensor"]);
    if (f["code"] == "E-MOE-LAYERS") layer1 = f["message"].get<std::string>().find("layer(s) 1 ") != std::string::npos;
  }
  EXPECT_EQ(unexpected, (std::set<std::string>{"model.layers.0.mlp.experts.4.gate_proj.weight", "model.layers.0.mlp.experts.4.up_proj.weight",
                                               "model.layers.0.mlp.experts.5.gate_proj.weight", "model.layers.0.mlp.experts.5.up_proj.weight"}));
  EXPECT_TRUE(layer1) << c["findings"].dump(1).substr(0, 1500);
  // Kimi-K2.5: every language-model layer tensor is unmapped (38 of the 40 lm-only tensors).
  json k = json::parse(run_moeckpt({"map", "testdata/composite/kimi_k25_hf_lm_only", "--json"}).out);
  EXPECT_EQ(k["summary"]["unmapped"], 38) << k["summary"];
  EXPECT_EQ(k["summary"]["entries"], 2) << k["summary"];
}

TEST(HfSavedCli, ZayaRefusesAnUntiedHeadUnderVllmsTiedDefault) {
  // The same save with tie_word_embeddings left out: vLLM's ZayaConfig defaults it to true, so
  // lm_head shares embed_tokens' parameter and load_weights raises on lm_head.weight.
  testing::TempDir tmp;
  const auto src = testing::source_dir("testdata/models_hf/zaya");
  for (const char* f : {"model.safetensors", "generation_config.json"})
    std::filesystem::copy_file(src / f, tmp.path() / f);
  json cfg = json::parse(testing::read_file(src / "config.json"));
  ASSERT_EQ(cfg.erase("tie_word_embeddings"), 1u);
  testing::write_file(tmp.path() / "config.json", cfg.dump(2));
  auto map = run_moeckpt({"map", tmp.path().string(), "--json"});
  auto val = run_moeckpt({"validate", tmp.path().string(), "--json"});
  EXPECT_EQ(map.exit_code, 1) << map.out.substr(0, 800);
  EXPECT_EQ(val.exit_code, 1) << val.out.substr(0, 800);
  json v = json::parse(val.out);
  ASSERT_EQ(v["findings"].size(), 1u) << v["findings"];
  EXPECT_EQ(v["findings"][0]["code"], "E-PARAM-UNEXPECTED");
  EXPECT_EQ(v["findings"][0]["tensor"], "lm_head.weight");
  // Layer 0 has no router_states_scale (vLLM: use_eda = layer_idx != 0); every later layer has one.
  json m = json::parse(run_moeckpt({"map", "testdata/models_hf/zaya", "--json"}).out);
  std::set<std::string> eda;
  for (const auto& e : m["entries"])
    if (e["checkpoint"].get<std::string>().ends_with(".mlp.gate.router_states_scale")) eda.insert(e["checkpoint"]);
  EXPECT_EQ(eda, (std::set<std::string>{"model.layers.1.mlp.gate.router_states_scale"}));
}

}  // namespace
}  // namespace moeckpt
