// Composite (multimodal wrapper) entries: each wrapper fixture that transformers saved, and its
// language-model-only twin under the same names, maps every language-model tensor with the
// engine's prefixed names and reports the towers as towers; a text entry given the wrapper's
// names says which entry loads them; malformed composite entries are registry errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "loader/checkpoint.h"
#include "loader/error.h"
#include "mapping/arch_registry.h"
#include "mapping/planner.h"
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
      if (!std::filesystem::exists(testing::source_dir(dir))) continue;
      MapPlan p = plan_of(a, dir);
      EXPECT_TRUE(p.unmapped.empty()) << dir << ": first unmapped " << p.unmapped.front();
      EXPECT_TRUE(p.unfilled.empty()) << dir << ": first unfilled " << p.unfilled.front().expected;
      EXPECT_FALSE(p.entries.empty()) << dir;
      for (const auto& e : p.entries)
        EXPECT_TRUE(e.param.starts_with("language_model.") || e.param.starts_with("lm_head.")) << dir << ": " << e.checkpoint << " -> " << e.param;
      bool experts = std::any_of(p.entries.begin(), p.entries.end(), [](const PlanEntry& e) { return e.kind == "expert" || e.kind == "fused_expert"; });
      EXPECT_TRUE(experts) << dir;
      if (dir == a.fixture) EXPECT_FALSE(p.towers.empty()) << dir << ": the full release has its towers";
      else EXPECT_TRUE(p.towers.empty()) << dir;
    }
    ++checked;
  }
  EXPECT_GE(checked, 3);
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
