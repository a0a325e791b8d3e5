// The multimodal-wrapper fixtures through the real binary: `validate` passes exactly the
// releases `map` maps fully (same exit status), and when config.json's architectures and
// model_type disagree, map, validate and inspect say which of them chose the entry, in their
// human and JSON output.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "loader/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using nlohmann::json;
using testing::run_moeckpt;

const std::vector<std::string> kWrappers = {"qwen3_vl_moe", "qwen3_5_moe", "aria", "glm4v_moe", "kimi_k25", "kimi_vl", "gemma4", "deepseek_ocr2",
                                            "ernie4_5_vl_moe", "qwen3_omni_moe"};

TEST(CompositeCli, ValidateAndMapAgreeOnEveryWrapperFixture) {
  for (const auto& w : kWrappers) {
    for (const std::string& dir : {"testdata/composite/" + w, "testdata/composite/" + w + "_lm_only"}) {
      auto map = run_moeckpt({"map", dir, "--json"});
      auto val = run_moeckpt({"validate", dir, "--json"});
      ASSERT_TRUE(map.exit_code == 0 || map.exit_code == 1) << dir << ": " << map.err;
      json m = json::parse(map.out), v = json::parse(val.out);
      EXPECT_EQ(m["architecture"], w) << dir;
      EXPECT_EQ(v["summary"]["architecture"], w) << dir;
      bool full = m["summary"]["unmapped"] == 0 && m["summary"]["unfilled"] == 0 && m["summary"]["unexpected"] == 0;
      EXPECT_EQ(full, v["ok"].get<bool>()) << dir << "\n" << v.dump(1).substr(0, 2000);
      EXPECT_EQ(map.exit_code, val.exit_code) << dir;
      EXPECT_FALSE(m["towers"].empty() && dir == "testdata/composite/" + w) << dir;
    }
  }
}

// The entry of one checkpoint tensor in map --json.
json entry(const json& m, const std::string& checkpoint) {
  for (const auto& e : m["entries"])
    if (e["checkpoint"] == checkpoint) return e;
  return json();
}

std::map<std::string, int> towers_by_prefix(const json& m, const std::vector<std::string>& prefixes) {
  std::map<std::string, int> n;
  for (const auto& t : m["towers"])
    for (const auto& p : prefixes)
      if (t["checkpoint"].get<std::string>().starts_with(p)) ++n[p];
  return n;
}

// vLLM's Ernie4_5_VLMoeForCausalLM.load_weights (vllm/model_executor/models/ernie45_vl_moe.py):
// checkpoint expert e < moe_num_experts[0] goes to mlp.text_experts as expert e, the others to
// mlp.vision_experts as expert e - moe_num_experts[0]; mlp.gate.weight -> text_experts_gate,
// mlp.gate.weight_1 -> vision_experts_gate, .moe_statics. dropped from the correction bias;
// Ernie4_5_VLMoeForConditionalGeneration's mapper (ernie45_vl.py) puts the model under
// language_model.
TEST(CompositeCli, ErnieVlSplitsOneExpertListIntoVllmsTextAndVisionExperts) {
  auto r = run_moeckpt({"map", "testdata/composite/ernie4_5_vl_moe", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json m = json::parse(r.out);
  EXPECT_EQ(m["engine_class"], "Ernie4_5_VLMoeForConditionalGeneration");
  struct Want {
    const char* checkpoint;
    const char* param;
    json expert;
    json shard;
  };
  const std::vector<Want> want = {
      {"model.layers.1.mlp.experts.0.gate_proj.weight", "language_model.model.layers.1.mlp.text_experts.w13_weight", 0, "w1"},
      {"model.layers.2.mlp.experts.3.down_proj.weight", "language_model.model.layers.2.mlp.text_experts.w2_weight", 3, "w2"},
      {"model.layers.1.mlp.experts.4.up_proj.weight", "language_model.model.layers.1.mlp.vision_experts.w13_weight", 0, "w3"},
      {"model.layers.2.mlp.experts.7.gate_proj.weight", "language_model.model.layers.2.mlp.vision_experts.w13_weight", 3, "w1"},
      {"model.layers.1.mlp.gate.weight", "language_model.model.layers.1.mlp.text_experts_gate.weight", nullptr, nullptr},
      {"model.layers.1.mlp.gate.weight_1", "language_model.model.layers.1.mlp.vision_experts_gate.weight", nullptr, nullptr},
      {"model.layers.2.mlp.moe_statics.e_score_correction_bias", "language_model.model.layers.2.mlp.e_score_correction_bias", nullptr, nullptr},
      {"model.layers.0.mlp.gate_proj.weight", "language_model.model.layers.0.mlp.gate_up_proj.weight", nullptr, nullptr},
      {"model.embed_tokens.weight", "language_model.model.embed_tokens.weight", nullptr, nullptr}};
  for (const auto& w : want) {
    json e = entry(m, w.checkpoint);
    ASSERT_FALSE(e.is_null()) << w.checkpoint;
    EXPECT_EQ(e["param"], w.param) << w.checkpoint;
    EXPECT_EQ(e["expert_id"], w.expert) << w.checkpoint;
    EXPECT_EQ(e["shard_id"], w.shard) << w.checkpoint;
  }
  EXPECT_EQ(entry(m, "model.layers.1.mlp.shared_experts.up_proj.weight")["packed"], "1");
  // 3 layers x 6 attention/norm + layer 0's MLP + per MoE layer 8 experts x 3, 2 routers, the
  // bias, 3 shared-expert projections; embed and norm (tied: no lm_head).
  EXPECT_EQ(m["summary"]["entries"], 3 * 6 + 3 + 2 * (24 + 3 + 3) + 2);
  auto towers = towers_by_prefix(m, {"vision_model.", "model.resampler_model."});
  EXPECT_EQ(towers["vision_model."], 15);
  EXPECT_EQ(towers["model.resampler_model."], 15);
  EXPECT_EQ(m["summary"]["towers"], 30);

  // The language model alone maps fully; a missing vision expert is named as vLLM would miss it.
  json lm = json::parse(run_moeckpt({"map", "testdata/composite/ernie4_5_vl_moe_lm_only", "--json"}).out);
  EXPECT_EQ(lm["summary"]["unfilled"], 0);
  EXPECT_TRUE(lm["towers"].empty());
  testing::TempDir t;
  json c = json::parse(testing::read_file(testing::source_dir("testdata/composite/ernie4_5_vl_moe_lm_only/config.json")));
  c["moe_num_experts"] = json::array({4, 5});  // one more vision expert than the checkpoint has
  testing::write_file(t / "config.json", c.dump(2));
  fs::copy_file(testing::source_dir("testdata/composite/ernie4_5_vl_moe_lm_only/model.safetensors"), t / "model.safetensors");
  auto gap = run_moeckpt({"map", t.path().string(), "--json"});
  EXPECT_EQ(gap.exit_code, 1) << gap.out;
  bool named = false;
  const json gm = json::parse(gap.out);
  for (const auto& u : gm["unfilled"])
    named = named || (u["param"].get<std::string>().ends_with("model.layers.1.mlp.vision_experts.w13_weight") && u["expert_id"] == 4 &&
                      u["expected"] == "model.layers.1.mlp.experts.8.gate_proj.weight");
  EXPECT_TRUE(named) << gm["unfilled"].dump(1);

  // transformers 5's config of the same model: text_config, one moe_num_experts for both groups,
  // mlp_layer_types instead of the window keys (Ernie4_5_VLMoeTextConfig).
  testing::TempDir hf;
  json tc = c;
  for (const char* k : {"architectures", "model_type", "vision_config", "tie_word_embeddings"}) tc.erase(k);
  for (const char* k : {"moe_layer_start_index", "moe_layer_end_index", "moe_layer_interval"}) tc.erase(k);
  tc["model_type"] = "ernie4_5_vl_moe_text";
  tc["moe_num_experts"] = 4;
  tc["mlp_layer_types"] = json::array({"dense", "sparse", "sparse"});
  json hc = {{"architectures", c["architectures"]}, {"model_type", "ernie4_5_vl_moe"}, {"tie_word_embeddings", true},
             {"vision_config", c["vision_config"]}, {"text_config", tc}};
  testing::write_file(hf / "config.json", hc.dump(2));
  fs::copy_file(testing::source_dir("testdata/composite/ernie4_5_vl_moe_lm_only/model.safetensors"), hf / "model.safetensors");
  auto h = run_moeckpt({"map", hf.path().string(), "--json"});
  EXPECT_EQ(h.exit_code, 0) << h.out.substr(0, 2000);
  EXPECT_EQ(json::parse(h.out)["moe_layers"], json::array({1, 2}));

  // No class loads the language model alone, so --text-only refuses in one line.
  testing::TempDir out;
  auto x = run_moeckpt({"convert", "testdata/composite/ernie4_5_vl_moe", (out / "t").string(), "--text-only", "-q"});
  EXPECT_NE(x.exit_code, 0);
  EXPECT_NE(x.err.find("has no class of its own"), std::string::npos) << x.err;
}

// vLLM's Qwen3OmniMoeThinkerForConditionalGeneration (qwen3_omni_moe_thinker.py):
// hf_to_vllm_mapper thinker.lm_head. -> language_model.lm_head., thinker.model. ->
// language_model.model., thinker. -> ''; load_weights skips talker. and code2wav.; the text
// model is Qwen3MoeLLMForCausalLM (q/k/v -> qkv_proj, per-expert experts -> w13/w2).
TEST(CompositeCli, QwenOmniThinkerMapsItsLanguageModelAndListsWhatTheThinkerSkips) {
  auto r = run_moeckpt({"map", "testdata/composite/qwen3_omni_moe", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json m = json::parse(r.out);
  EXPECT_EQ(m["engine_class"], "Qwen3OmniMoeThinkerForConditionalGeneration");
  EXPECT_EQ(entry(m, "thinker.lm_head.weight")["param"], "language_model.lm_head.weight");
  EXPECT_EQ(entry(m, "thinker.model.embed_tokens.weight")["param"], "language_model.model.embed_tokens.weight");
  json k = entry(m, "thinker.model.layers.0.self_attn.k_proj.weight");
  EXPECT_EQ(k["param"], "language_model.model.layers.0.self_attn.qkv_proj.weight");
  EXPECT_EQ(k["packed"], "k");
  json up = entry(m, "thinker.model.layers.1.mlp.experts.3.up_proj.weight");
  EXPECT_EQ(up["param"], "language_model.model.layers.1.mlp.experts.w13_weight");
  EXPECT_EQ(up["expert_id"], 3);
  EXPECT_EQ(up["shard_id"], "w3");
  EXPECT_EQ(entry(m, "thinker.model.layers.1.mlp.gate.weight")["param"], "language_model.model.layers.1.mlp.gate.weight");
  EXPECT_EQ(m["summary"]["entries"], 45);  // the transformers-saved qwen3_moe fixture's 45 tensors
  auto towers = towers_by_prefix(m, {"thinker.audio_tower.", "thinker.visual.", "talker.", "code2wav."});
  EXPECT_EQ(towers["thinker.audio_tower."], 17);
  EXPECT_EQ(towers["thinker.visual."], 14);
  EXPECT_EQ(towers["talker."], 23);
  EXPECT_EQ(towers["code2wav."], 6);
  for (const auto& t : m["towers"]) {
    if (t["checkpoint"].get<std::string>().starts_with("talker.")) {
      EXPECT_NE(t["tower"].get<std::string>().find("skip_prefixes talker."), std::string::npos) << t;
    }
  }
  auto human = run_moeckpt({"map", "testdata/composite/qwen3_omni_moe"});
  EXPECT_NE(human.out.find("23 tensor(s) of the talker (speech generator): not loaded by the thinker class (AutoWeightsLoader "
                           "skip_prefixes talker.): not checked here\n"),
            std::string::npos)
      << human.out.substr(0, 800);

  // --text-only: the thinker's language model as a Qwen3MoeForCausalLM that maps cleanly.
  testing::TempDir tmp;
  for (const std::string suffix : {"", "_lm_only"}) {
    const std::string in = "testdata/composite/qwen3_omni_moe" + suffix;
    const fs::path out = tmp / ("t" + suffix);
    ASSERT_EQ(run_moeckpt({"convert", in, out.string(), "--text-only", "-q"}).exit_code, 0) << in;
    auto t = run_moeckpt({"map", out.string(), "--json"});
    EXPECT_EQ(t.exit_code, 0) << in << t.out;
    json tm = json::parse(t.out);
    EXPECT_EQ(tm["architecture"], "qwen3_moe") << in;
    EXPECT_TRUE(tm["towers"].empty()) << in;
    EXPECT_EQ(entry(tm, "model.layers.1.mlp.experts.3.up_proj.weight")["param"], "model.layers.1.mlp.experts.w13_weight") << in;
    Checkpoint ck = Checkpoint::open(out);
    EXPECT_EQ(ck.tensors().size(), 45u) << in;
    for (const auto& x : ck.tensors())
      EXPECT_TRUE(x.name.starts_with("model.") || x.name == "lm_head.weight") << in << ": " << x.name;
    json config = json::parse(testing::read_file(out / "config.json"));
    EXPECT_EQ(config["architectures"][0], "Qwen3MoeForCausalLM") << in;
    EXPECT_EQ(config["num_experts"], 4) << in;
    EXPECT_FALSE(config.contains("thinker_config")) << in;
  }
}

TEST(CompositeCli, DisagreeingArchitecturesAndModelTypeAreExplainedEverywhere) {
  testing::TempDir t;
  for (const auto& e : fs::directory_iterator(testing::source_dir("testdata/composite/glm4v_moe_lm_only")))
    fs::copy_file(e.path(), t / e.path().filename().string());
  json c = json::parse(testing::read_file(t / "config.json"));
  c["model_type"] = "glm4v_moe_text";
  testing::write_file(t / "config.json", c.dump(2));
  const std::string dir = t.path().string();
  const std::string note = "architectures Glm4vMoeForConditionalGeneration chose glm4v_moe over model_type 'glm4v_moe_text' (entry glm4v_moe_text)";
  auto map = run_moeckpt({"map", dir});
  EXPECT_EQ(map.exit_code, 0) << map.err;
  EXPECT_NE(map.out.find("detection " + note + "\n"), std::string::npos) << map.out.substr(0, 600);
  EXPECT_EQ(json::parse(run_moeckpt({"map", dir, "--json"}).out)["detection_note"], note);
  auto val = run_moeckpt({"validate", dir});
  EXPECT_NE(val.out.find("detection " + note + "\n"), std::string::npos) << val.out;
  EXPECT_EQ(json::parse(run_moeckpt({"validate", dir, "--json"}).out)["summary"]["detection_note"], note);
  auto ins = run_moeckpt({"inspect", dir});
  EXPECT_NE(ins.out.find(note), std::string::npos) << ins.out;
  EXPECT_EQ(json::parse(run_moeckpt({"inspect", dir, "--json"}).out)["config"]["detection_note"], note);
  // Agreeing keys: no such line, no such field.
  auto plain = run_moeckpt({"map", "testdata/composite/glm4v_moe_lm_only", "--json"});
  EXPECT_FALSE(json::parse(plain.out).contains("detection_note"));
  EXPECT_EQ(run_moeckpt({"validate", "testdata/composite/glm4v_moe_lm_only"}).out.find("detection"), std::string::npos);
}

}  // namespace
}  // namespace moeckpt
