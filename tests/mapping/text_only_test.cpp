// --text-only's selection on every composite fixture and its language-model-only twin: the
// result maps cleanly under the text entry, holds no tower tensor and carries the text class's
// config; relabelled releases, a missing or malformed text_config, a text checkpoint, the
// quantization_config's module lists, and map's suggested fix.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "loader/checkpoint.h"
#include "loader/error.h"
#include "mapping/extract.h"
#include "mapping/planner.h"
#include "mapping/text_only.h"
#include "mapping/wrapper_fix.h"
#include "test_util.h"

namespace moeckpt {
namespace {

const ArchRegistry& reg() { return ArchRegistry::get(); }

std::vector<std::string> names_of(const Checkpoint& ck) {
  std::vector<std::string> n;
  for (const auto& t : ck.tensors()) n.push_back(t.name);
  return n;
}

// The input's tensors as the extraction names them (left-out ones gone).
std::vector<TensorInfo> renamed(const Checkpoint& ck, const Extraction& x) {
  std::vector<TensorInfo> out;
  for (const auto& t : ck.tensors()) {
    auto it = x.names.find(t.name);
    if (it != x.names.end() && !it->second.to) continue;
    out.push_back(t);
    if (it != x.names.end()) out.back().name = *it->second.to;
  }
  return out;
}

TEST(TextOnly, EveryCompositeFixtureBecomesACleanTextCheckpointWithoutTowers) {
  int checked = 0;
  for (const auto& a : reg().all()) {
    if (!a.composite) continue;
    // ERNIE-4.5-VL's language model has no class of its own: --text-only refuses it
    // (tests/cli/composite_cli_test.cpp).
    if (reg().find(a.composite->text)->hf_architectures.empty()) continue;
    for (const std::string& dir : {a.fixture, a.fixture + "_lm_only"}) {
      if (!std::filesystem::exists(testing::source_dir(dir))) continue;
      Checkpoint ck = Checkpoint::open(testing::source_dir(dir));
      ExtractRequest req;
      req.text_only = true;
      ExtractResult r = extract(req, a, reg(), *ck.config(), names_of(ck), "config.json");
      const Architecture* text = reg().find(a.composite->text);
      ASSERT_EQ(r.arch, text) << dir;
      std::vector<TensorInfo> out = renamed(ck, r.x);
      for (const auto& t : out)
        for (const auto& [prefix, what] : a.composite->towers) EXPECT_FALSE(t.name.starts_with(prefix)) << dir << ": " << t.name;
      MapPlan p = plan_mapping(*text, &r.x.config, out);
      EXPECT_TRUE(p.unmapped.empty()) << dir << ": " << p.unmapped.front();
      EXPECT_TRUE(p.unfilled.empty()) << dir << ": " << p.unfilled.front().expected;
      EXPECT_TRUE(p.unexpected.empty()) << dir;
      EXPECT_TRUE(p.towers.empty()) << dir;
      EXPECT_EQ(r.x.config["architectures"], Json::array({text->hf_architectures.front()})) << dir;
      EXPECT_EQ(r.x.config["model_type"], text->model_types.front()) << dir;
      EXPECT_FALSE(r.x.config.contains("text_config")) << dir;
      EXPECT_FALSE(r.x.config.contains("vision_config")) << dir;
      // The text model's section is the entry's config_section (DeepSeek-OCR-2's language_config).
      const Json& wrapper = *ck.config();
      std::string pointer = "/" + (a.config_section.empty() ? std::string("text_config") : a.config_section);
      std::replace(pointer.begin(), pointer.end(), '.', '/');  // Qwen3-Omni's thinker_config.text_config
      const Json& section = wrapper.at(Json::json_pointer(pointer));
      EXPECT_FALSE(r.x.config.contains(a.config_section.empty() ? "text_config" : a.config_section)) << dir;
      EXPECT_EQ(r.x.config["hidden_size"], section["hidden_size"]) << dir;
      // The wrapper's tie_word_embeddings wins over the section's; absent in both stays absent.
      const Json* tie = wrapper.contains("tie_word_embeddings") ? &wrapper["tie_word_embeddings"]
                        : section.contains("tie_word_embeddings") ? &section["tie_word_embeddings"] : nullptr;
      if (tie) EXPECT_EQ(r.x.config["tie_word_embeddings"], *tie) << dir;
      else EXPECT_FALSE(r.x.config.contains("tie_word_embeddings")) << dir;
      EXPECT_GT(out.size(), 10u) << dir;
    }
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

TEST(TextOnly, RenamesAsTheTextClassNamesItsTensors) {
  Checkpoint aria = Checkpoint::open(testing::source_dir("testdata/composite/aria"));
  Extraction x = text_only(find_wrapper(*reg().find("aria"), reg(), names_of(aria), "c"), *aria.config(), names_of(aria), "c");
  EXPECT_EQ(*x.names.at("language_model.lm_head.weight").to, "lm_head.weight");
  EXPECT_EQ(*x.names.at("language_model.model.norm.weight").to, "model.norm.weight");
  EXPECT_FALSE(x.names.at("vision_tower.embeddings.patch_embedding.weight").to);
  EXPECT_FALSE(x.names.at("multi_modal_projector.query").to);
  // Qwen3-VL-MoE's language model is the bare Qwen3VLMoeTextModel: no model. prefix, no head.
  Checkpoint vl = Checkpoint::open(testing::source_dir("testdata/composite/qwen3_vl_moe"));
  Extraction y = text_only(find_wrapper(*reg().find("qwen3_vl_moe"), reg(), names_of(vl), "c"), *vl.config(), names_of(vl), "c");
  EXPECT_EQ(*y.names.at("model.language_model.layers.0.mlp.gate.weight").to, "layers.0.mlp.gate.weight");
  EXPECT_FALSE(y.names.at("lm_head.weight").to);
  EXPECT_TRUE(std::any_of(y.notes.begin(), y.notes.end(), [](const std::string& n) {
    return n.find("lm_head.weight") != std::string::npos && n.find("Qwen3VLMoeTextModel") != std::string::npos;
  })) << ::testing::PrintToString(y.notes);
}

TEST(TextOnly, AReleaseRelabelledAsTheTextClassUnderTheWrappersNames) {
  // Qwen3.5-MoE text-only releases that kept model.language_model.* but say Qwen3_5MoeForCausalLM.
  Checkpoint ck = Checkpoint::open(testing::source_dir("testdata/composite/qwen3_5_moe_lm_only"));
  Json config = (*ck.config())["text_config"];
  config["architectures"] = Json::array({"Qwen3_5MoeForCausalLM"});
  const Architecture* text = reg().find("qwen3_5_moe_text");
  WrapperChoice w = find_wrapper(*text, reg(), names_of(ck), "c");
  EXPECT_EQ(w.wrapper->name, "qwen3_5_moe");
  EXPECT_TRUE(w.config_is_text);
  Extraction x = text_only(w, config, names_of(ck), "c");
  EXPECT_EQ(x.config["hidden_size"], config["hidden_size"]);
  MapPlan p = plan_mapping(*text, &x.config, renamed(ck, x));
  EXPECT_TRUE(p.unmapped.empty() && p.unfilled.empty()) << ::testing::PrintToString(p.unmapped);
}

TEST(TextOnly, RefusesATextCheckpointAndAMissingOrMalformedTextConfig) {
  Checkpoint text = Checkpoint::open(testing::source_dir("testdata/models/qwen3_5_moe_text"));
  EXPECT_EQ(testing::code_of([&] { find_wrapper(*reg().find("qwen3_5_moe_text"), reg(), names_of(text), "c"); }), Errc::kUsage);
  EXPECT_EQ(testing::code_of([&] { find_wrapper(*reg().find("qwen3_moe"), reg(), {"model.layers.0.mlp.gate.weight"}, "c"); }), Errc::kUsage);
  Checkpoint ck = Checkpoint::open(testing::source_dir("testdata/composite/qwen3_5_moe"));
  WrapperChoice w = find_wrapper(*reg().find("qwen3_5_moe"), reg(), names_of(ck), "c");
  Json missing = *ck.config();
  missing.erase("text_config");
  EXPECT_EQ(testing::code_of([&] { text_only(w, missing, names_of(ck), "c"); }), Errc::kConfigInvalid);
  for (Json bad : {Json("qwen"), Json::array(), Json(nullptr), Json(3)}) {
    Json c = *ck.config();
    c["text_config"] = bad;
    EXPECT_EQ(testing::code_of([&] { text_only(w, c, names_of(ck), "c"); }), Errc::kConfigInvalid) << bad.dump();
  }
}

TEST(TextOnly, QuantizationConfigComesAlongWithItsModuleListsRenamed) {
  Checkpoint ck = Checkpoint::open(testing::source_dir("testdata/composite/qwen3_5_moe"));
  Json config = *ck.config();
  config["quantization_config"] = {
      {"quant_method", "compressed-tensors"},
      {"ignore", {"lm_head", "model.visual.blocks.0.attn.qkv", "re:model\\.visual\\..*", "model.language_model.layers.0.mlp.gate",
                  "re:^model\\.language_model\\.layers\\.1\\.mlp\\.gate$", "re:.*shared_expert_gate"}}};
  config["tie_word_embeddings"] = true;
  config["text_config"]["tie_word_embeddings"] = false;
  WrapperChoice w = find_wrapper(*reg().find("qwen3_5_moe"), reg(), names_of(ck), "c");
  Extraction x = text_only(w, config, names_of(ck), "c");
  EXPECT_EQ(x.config["quantization_config"]["ignore"],
            Json({"lm_head", "model.layers.0.mlp.gate", "re:^model\\.layers\\.1\\.mlp\\.gate$", "re:.*shared_expert_gate"}));
  EXPECT_EQ(x.config["quantization_config"]["quant_method"], "compressed-tensors");
  EXPECT_EQ(x.config["tie_word_embeddings"], true) << "the wrapper's tying is the one its head was saved under";
  EXPECT_EQ(x.config["dtype"], "bfloat16");
}

TEST(WrapperFix, SuggestedOnlyWhenTheWrapperIsAllThatStandsInTheWay) {
  auto fix_for = [](const std::string& arch, const std::string& dir) {
    Checkpoint ck = Checkpoint::open(testing::source_dir(dir));
    MapPlan p = plan_mapping(*reg().find(arch), &*ck.config(), ck.tensors());
    return wrapper_fix(p, &*ck.config(), ck.tensors(), reg());
  };
  auto f = fix_for("qwen3_5_moe_text", "testdata/composite/qwen3_5_moe_lm_only");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->wrapper, "qwen3_5_moe");
  EXPECT_EQ(f->text_class, "Qwen3_5MoeForCausalLM");
  EXPECT_TRUE(fix_for("qwen3_5_moe_text", "testdata/composite/qwen3_5_moe").has_value());
  EXPECT_FALSE(fix_for("qwen3_5_moe", "testdata/composite/qwen3_5_moe").has_value()) << "maps clean: nothing to fix";
  EXPECT_FALSE(fix_for("qwen3_moe", "testdata/composite/qwen3_5_moe").has_value()) << "not the wrapper of this family";
  EXPECT_FALSE(fix_for("qwen3_moe", "testdata/models/qwen3_5_moe_text").has_value());
}

}  // namespace
}  // namespace moeckpt
