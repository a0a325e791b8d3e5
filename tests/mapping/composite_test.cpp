// Composite (multimodal wrapper) entries: each wrapper fixture that transformers saved, and its
// language-model-only twin under the same names, maps every language-model tensor with the
// engine's prefixed names and reports the towers as towers; a text entry given the wrapper's
// names says which entry loads them; malformed composite entries are registry errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <tuple>
#include <vector>

#include "loader/checkpoint.h"
#include "loader/error.h"
#include "mapping/arch_registry.h"
#include "mapping/planner.h"
#include "pending_modes.h"
#include "test_util.h"

namespace moeckpt {
namespace {

MapPlan plan_of(const Architecture& a, const std::string& dir) {
  Checkpoint ck = Checkpoint::open(testing::source_dir(dir));
  return plan_mapping(a, ck.config() ? &*ck.config() : nullptr, ck.tensors());
}

TEST(Composite, EveryWrapperAndItsTextOnlyReleaseMapFully) {
  int checked = 0;
  for (const auto& a : ArchRegistry::get().all()) {
    if (!a.composite) continue;
    ASSERT_FALSE(a.fixture.empty()) << a.name;
    for (const std::string& dir : {a.fixture, a.fixture + "_lm_only"}) {
      ASSERT_TRUE(std::filesystem::exists(testing::source_dir(dir))) << dir << ": every wrapper has both releases";
      MapPlan p = plan_of(a, dir);
      if (auto pending = testing::pending_text_modes().find(a.name); pending != testing::pending_text_modes().end()) {
        EXPECT_FALSE(p.unmapped.empty() && p.unfilled.empty()) << dir << ": maps fully now; drop it from tests/mapping/pending_modes.h";
        for (const auto& n : p.unmapped) EXPECT_NE(n.find(pending->second), std::string::npos) << dir << ": unmapped " << n;
        for (const auto& u : p.unfilled) EXPECT_NE(u.expected.find(pending->second), std::string::npos) << dir << ": unfilled " << u.expected;
      } else {
        EXPECT_TRUE(p.unmapped.empty()) << dir << ": first unmapped " << p.unmapped.front();
        EXPECT_TRUE(p.unfilled.empty()) << dir << ": first unfilled " << p.unfilled.front().expected;
        EXPECT_TRUE(p.unexpected.empty()) << dir << ": first unexpected " << p.unexpected.front();
      }
      EXPECT_FALSE(p.entries.empty()) << dir;
      for (const auto& e : p.entries) {
        EXPECT_TRUE(e.param.starts_with("language_model.") || e.param.starts_with("lm_head.")) << dir << ": " << e.checkpoint << " -> " << e.param;
        // vLLM's FusedMoE ids: a per-expert tensor carries its expert and w1/w2/w3.
        if (e.kind == "expert") {
          EXPECT_TRUE(e.expert_id.has_value()) << dir << ": " << e.checkpoint;
          EXPECT_TRUE(e.shard_id == "w1" || e.shard_id == "w2" || e.shard_id == "w3") << dir << ": " << e.checkpoint;
        }
      }
      bool experts = std::any_of(p.entries.begin(), p.entries.end(), [](const PlanEntry& e) { return e.kind == "expert" || e.kind == "fused_expert"; });
      EXPECT_TRUE(experts) << dir;
      EXPECT_FALSE(p.moe_layers.empty()) << dir;
      if (dir == a.fixture) EXPECT_FALSE(p.towers.empty()) << dir << ": the full release has its towers";
      else EXPECT_TRUE(p.towers.empty()) << dir;
    }
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

TEST(Composite, TheTextEntryGivenTheWrappersNamesSaysWhichEntryLoadsThem) {
  const Architecture* text = ArchRegistry::get().find("qwen3_5_moe_text");
  ASSERT_NE(text, nullptr);
  MapPlan p = plan_of(*text, "testdata/composite/qwen3_5_moe_lm_only");
  EXPECT_FALSE(p.unmapped.empty());
  bool hint = std::any_of(p.notes.begin(), p.notes.end(), [](const std::string& n) {
    return n.find("'model.language_model.'") != std::string::npos && n.find("--arch qwen3_5_moe") != std::string::npos;
  });
  EXPECT_TRUE(hint) << ::testing::PrintToString(p.notes);
  // The wrapper itself: nothing unmapped, so no such note.
  MapPlan w = plan_of(*ArchRegistry::get().find("qwen3_5_moe"), "testdata/composite/qwen3_5_moe_lm_only");
  EXPECT_TRUE(std::none_of(w.notes.begin(), w.notes.end(), [](const std::string& n) { return n.find("no tensor family") != std::string::npos; }));
}

TEST(Composite, GapsAreNamedAsTheCheckpointNamesThem) {
  // Drop one expert weight of the wrapper's release: the gap carries the wrapper's name.
  const Architecture* a = ArchRegistry::get().find("qwen3_5_moe");
  Checkpoint ck = Checkpoint::open(testing::source_dir("testdata/composite/qwen3_5_moe_lm_only"));
  std::vector<TensorInfo> ts(ck.tensors().begin(), ck.tensors().end());
  auto it = std::find_if(ts.begin(), ts.end(), [](const TensorInfo& t) { return t.name.find("experts.") != std::string::npos; });
  ASSERT_NE(it, ts.end());
  std::string gone = it->name;
  ts.erase(it);
  MapPlan p = plan_mapping(*a, &*ck.config(), ts);
  ASSERT_FALSE(p.unfilled.empty());
  EXPECT_TRUE(std::any_of(p.unfilled.begin(), p.unfilled.end(), [&](const UnfilledEntry& u) { return u.expected.starts_with("model.language_model."); }))
      << p.unfilled.front().expected << " (dropped " << gone << ")";
}

TEST(Composite, EachWrappersTextOnlyReleaseUnderItsTextEntryNamesTheWrapper) {
  // The head (lm_head.weight) is unmapped beside the prefix where the text entry has none: the
  // wrapper's prefix is still found.
  for (const auto& [text, wrapper, prefix] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"glm4v_moe_text", "glm4v_moe", "model.language_model."},
           {"deepseek_v3", "kimi_k25", "language_model.model."},
           {"qwen3_vl_moe_text", "qwen3_vl_moe", "model.language_model."}}) {
    MapPlan p = plan_of(*ArchRegistry::get().find(text), "testdata/composite/" + wrapper + "_lm_only");
    bool hint = std::any_of(p.notes.begin(), p.notes.end(), [&](const std::string& n) {
      return n.find("'" + prefix + "'") != std::string::npos && n.find("--arch " + wrapper) != std::string::npos;
    });
    EXPECT_TRUE(hint) << wrapper << ": " << ::testing::PrintToString(p.notes);
  }
}

TEST(Composite, GlmExpertsMapInEitherLayoutAndGapsAreNamedInTheCheckpointsOwn) {
  // transformers' fused save of the text model and the release's per-expert wrapper.
  const Architecture* text = ArchRegistry::get().find("glm4v_moe_text");
  ASSERT_EQ(text->experts.size(), 2u);
  MapPlan fused = plan_of(*text, "testdata/models/glm4v_moe_text");
  EXPECT_TRUE(fused.unfilled.empty()) << fused.unfilled.front().expected;
  EXPECT_TRUE(std::any_of(fused.entries.begin(), fused.entries.end(), [](const PlanEntry& e) { return e.kind == "fused_expert"; }));
  const Architecture* a = ArchRegistry::get().find("glm4v_moe");
  Checkpoint ck = Checkpoint::open(testing::source_dir("testdata/composite/glm4v_moe_lm_only"));
  std::vector<TensorInfo> ts(ck.tensors().begin(), ck.tensors().end());
  MapPlan whole = plan_mapping(*a, &*ck.config(), ts);
  int per_expert = 0;
  for (const auto& e : whole.entries)
    if (e.kind == "expert") {
      ++per_expert;
      EXPECT_TRUE(e.param.starts_with("language_model.model.layers.1.mlp.experts.w")) << e.param;
    }
  EXPECT_EQ(per_expert, 4 * 3);  // 4 experts x gate/up/down in the one MoE layer
  auto it = std::find_if(ts.begin(), ts.end(), [](const TensorInfo& t) { return t.name.ends_with("experts.2.up_proj.weight"); });
  ASSERT_NE(it, ts.end());
  ts.erase(it);
  MapPlan gap = plan_mapping(*a, &*ck.config(), ts);
  ASSERT_EQ(gap.unfilled.size(), 1u) << ::testing::PrintToString(gap.unfilled.size());
  EXPECT_EQ(gap.unfilled[0].expected, "model.language_model.layers.1.mlp.experts.2.up_proj.weight");
  EXPECT_EQ(gap.unfilled[0].shard_id, "w3");
  // No expert tensor at all: the first layout listed (fused) is what is asked for.
  std::erase_if(ts, [](const TensorInfo& t) { return t.name.find(".experts.") != std::string::npos; });
  MapPlan none = plan_mapping(*a, &*ck.config(), ts);
  EXPECT_TRUE(std::any_of(none.unfilled.begin(), none.unfilled.end(), [](const UnfilledEntry& u) { return u.expected.ends_with("experts.gate_up_proj"); }));
  EXPECT_TRUE(std::none_of(none.unfilled.begin(), none.unfilled.end(), [](const UnfilledEntry& u) { return u.expected.ends_with("_proj.weight") && u.expected.find(".experts.") != std::string::npos; }));
}

Json config_of(const std::string& dir) { return *Checkpoint::open(testing::source_dir(dir)).config(); }

TEST(Composite, DetectionSaysWhichKeyChoseTheEntryWhenTheyDisagree) {
  const ArchRegistry& r = ArchRegistry::get();
  Json c = config_of("testdata/composite/glm4v_moe");
  auto d = r.detect_explained(c);
  ASSERT_NE(d.arch, nullptr);
  EXPECT_EQ(d.arch->name, "glm4v_moe");
  EXPECT_TRUE(d.by_class);
  EXPECT_EQ(d.note, "");  // architectures and model_type agree
  c["model_type"] = "glm4v_moe_text";  // a text config's type under the wrapper's class
  d = r.detect_explained(c);
  EXPECT_EQ(d.arch->name, "glm4v_moe");
  EXPECT_EQ(d.note, "architectures Glm4vMoeForConditionalGeneration chose glm4v_moe over model_type 'glm4v_moe_text' (entry glm4v_moe_text)");
  c["model_type"] = "glm4v_moe_next";
  EXPECT_EQ(r.detect_explained(c).note, "architectures Glm4vMoeForConditionalGeneration chose glm4v_moe; model_type 'glm4v_moe_next' names no entry");
  c["architectures"] = Json::array({"Glm4vMoeForSomethingElse"});
  c["model_type"] = "glm4v_moe";
  d = r.detect_explained(c);
  EXPECT_EQ(d.arch->name, "glm4v_moe");
  EXPECT_FALSE(d.by_class);
  EXPECT_EQ(d.note, "model_type 'glm4v_moe' chose glm4v_moe; architectures Glm4vMoeForSomethingElse name no entry");
  c["model_type"] = "nothing";
  EXPECT_EQ(r.detect_explained(c).arch, nullptr);
  // DeepSeek-OCR-2's release: the class and model_type deepseek_vl_v2 both name the wrapper.
  d = r.detect_explained(config_of("testdata/composite/deepseek_ocr2"));
  ASSERT_NE(d.arch, nullptr);
  EXPECT_EQ(d.arch->name, "deepseek_ocr2");
  EXPECT_EQ(d.note, "");
  EXPECT_EQ(r.detect_explained(config_of("testdata/composite/kimi_k25")).arch->name, "kimi_k25");
}

std::string load_error(const std::string& composite) {
  std::string text = R"({"name": "t", "title": "T", "source": "vllm", "tensors": ["model.norm.weight"]})";
  std::string wrapper = R"({"name": "w", "title": "W", "source": "vllm", "composite": )" + composite + "}";
  try {
    ArchRegistry::from_entries({{"t.json", text}, {"w.json", wrapper}});
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

TEST(Composite, MalformedCompositeEntriesAreRegistryErrors) {
  EXPECT_EQ(load_error(R"({"text": "t", "checkpoint_prefix": {"model.language_model.": "model."}})"), "");
  EXPECT_NE(load_error(R"({"text": "nope"})").find("names no entry 'nope'"), std::string::npos);
  EXPECT_NE(load_error(R"({"text": "t", "colour": 1})").find("unknown key 'composite.colour'"), std::string::npos);
  EXPECT_NE(load_error(R"({"text": "t", "towers": {"model.visual.": 3}})").find("object of strings"), std::string::npos);
  EXPECT_NE(load_error(R"({"checkpoint_prefix": {}})").find("missing 'text'"), std::string::npos);
  EXPECT_NE(load_error(R"({"text": "w"})").find("itself a composite"), std::string::npos);
}

}  // namespace
}  // namespace moeckpt
