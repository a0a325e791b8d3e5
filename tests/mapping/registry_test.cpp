#include "mapping/arch_registry.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "loader/checkpoint.h"
#include "loader/error.h"
#include "mapping/cross_checks.h"
#include "mapping/planner.h"
#include "test_util.h"

namespace moeckpt {
namespace {

TEST(Registry, EveryEmbeddedEntryLoads) {
  const ArchRegistry& reg = ArchRegistry::get();
  EXPECT_GE(reg.all().size(), 2u);
  for (const auto& a : reg.all()) {
    EXPECT_FALSE(a.title.empty()) << a.name;
    EXPECT_TRUE(a.source == "transformers" || a.source == "vllm") << a.name;
    EXPECT_FALSE(a.tensors.empty()) << a.name << " lists no tensor families";
    // The embedded registry compiles templates on first use: here every entry's must compile.
    ASSERT_NE(a.tensor_patterns, nullptr) << a.name;
    EXPECT_EQ(a.tensor_patterns->size(), a.tensors.size()) << a.name;
    EXPECT_NO_THROW(a.tensor_patterns->compile()) << a.name;
    if (a.composite && a.composite->own) {
      EXPECT_NO_THROW(a.composite->own->compile()) << a.name;
    }
  }
}

TEST(Registry, FindsByNameClassAndModelType) {
  const ArchRegistry& reg = ArchRegistry::get();
  ASSERT_NE(reg.find("mixtral"), nullptr);
  EXPECT_EQ(reg.find("MixtralForCausalLM"), reg.find("mixtral"));
  EXPECT_EQ(reg.detect(Json::parse(R"({"architectures": ["MixtralForCausalLM"]})")), reg.find("mixtral"));
  EXPECT_EQ(reg.detect(Json::parse(R"({"model_type": "qwen3_moe"})")), reg.find("qwen3_moe"));
  EXPECT_EQ(reg.detect(Json::parse(R"({"model_type": "no_such_thing"})")), nullptr);
}

TEST(Registry, MatchesTensorAgreesWithMatchTensor) {
  const Architecture* a = ArchRegistry::get().find("deepseek_v3");
  ASSERT_NE(a, nullptr);
  for (const char* n : {"model.norm.weight", "model.layers.3.self_attn.kv_a_proj_with_mqa.weight",
                        "model.layers.3.self_attn.kv_a_proj_with_mqa.weight_scale_inv", "model.layers.3.mlp.gate.weight",
                        "model.norm.weightx", "xmodel.norm.weight", "model.layers.x.input_layernorm.weight", "", "lm_head.bias"})
    EXPECT_EQ(a->matches_tensor(n), a->match_tensor(n).has_value()) << n;
  EXPECT_TRUE(a->matches_tensor("model.norm.weight"));
  EXPECT_FALSE(a->matches_tensor("model.norm.weightx"));
}

// Every entry that names a fixture maps it completely: nothing unmapped, nothing unfilled,
// experts mapped to the FusedMoE parameters.
TEST(Registry, EveryFixtureMapsCompletely) {
  int checked = 0;
  for (const auto& a : ArchRegistry::get().all()) {
    if (a.fixture.empty()) continue;
    // Wrappers: composite_test.cpp maps both their releases, with their towers and any text
    // mode still pending on another branch.
    if (a.composite) continue;
    auto path = testing::source_dir(a.fixture);
    ASSERT_TRUE(std::filesystem::exists(path)) << a.name << ": fixture " << a.fixture << " is missing";
    Checkpoint ck = Checkpoint::open(path);
    MapPlan plan = plan_mapping(a, ck.config() ? &*ck.config() : nullptr, ck.tensors());
    EXPECT_TRUE(plan.unmapped.empty()) << a.name << ": first unmapped " << plan.unmapped.front();
    EXPECT_TRUE(plan.unfilled.empty()) << a.name << ": first unfilled " << plan.unfilled.front().param << " <- "
                                       << plan.unfilled.front().expected;
    int experts = 0;
    for (const auto& e : plan.entries) {
      if (e.kind != "expert" && e.kind != "fused_expert") continue;
      ++experts;
      EXPECT_TRUE(e.param.find("w13_") != std::string::npos || e.param.find("w2_") != std::string::npos ||
                  e.param.find("w1_") != std::string::npos || e.param.find("w3_") != std::string::npos)
          << a.name << ": " << e.checkpoint << " -> " << e.param;
    }
    if (!a.experts.empty()) {
      EXPECT_GT(experts, 0) << a.name << " mapped no expert tensor";
    }
    if (ck.config() && !a.experts.empty()) {
      EXPECT_FALSE(plan.moe_layers.empty()) << a.name;
    }
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

// validate's checks of the mapping (expert counts, MoE layers, shapes) agree with map on every
// fixture: a fixture that maps completely raises no error in them.
TEST(Registry, EveryFixtureCrossChecksClean) {
  int checked = 0;
  for (const auto& a : ArchRegistry::get().all()) {
    if (a.fixture.empty()) continue;
    Checkpoint ck = Checkpoint::open(testing::source_dir(a.fixture));
    const Json* config = ck.config() ? &*ck.config() : nullptr;
    MapPlan plan = plan_mapping(a, config, ck.tensors());
    Findings f = cross_check(a, config, ck.config_file(), ck.tensors(), plan, [](const TensorInfo& t) { return t.name; });
    for (const auto& x : f)
      EXPECT_NE(x.severity, Severity::kError) << a.name << ": " << x.code << " " << x.tensor << " " << x.message;
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

TEST(Registry, MissingFamiliesAreDataAndNameNoCoveredClass) {
  const auto& missing = ArchRegistry::get().missing();
  ASSERT_FALSE(missing.empty());
  std::set<std::string> classes;
  for (const auto& m : missing) {
    EXPECT_TRUE(m.file.starts_with("vllm/")) << m.cls << ": " << m.file;
    EXPECT_FALSE(m.reason.empty()) << m.cls;
    EXPECT_EQ(ArchRegistry::get().find(m.cls), nullptr) << m.cls << " is listed as missing but an entry claims it";
    classes.insert(m.cls);
  }
  EXPECT_EQ(classes.size(), missing.size());
  auto err = [](const std::string& missing_json) {
    try {
      ArchRegistry::from_entries({{"x.json", R"({"name":"x","title":"t","source":"vllm","hf_architectures":["XForCausalLM"]})"},
                                  {"_missing.json", missing_json}});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(err(R"({"missing": [{"file": "vllm/y.py", "class": "YForCausalLM", "reason": "r"}]})"), "");
  EXPECT_NE(err(R"({"missing": [{"file": "vllm/x.py", "class": "XForCausalLM", "reason": "r"}]})").find("entry 'x' covers it"),
            std::string::npos);
  EXPECT_NE(err(R"({"missing": [{"file": "vllm/y.py", "class": "Y", "reason": "r", "bogus": 1}]})").find("unknown key 'bogus'"),
            std::string::npos);
  EXPECT_NE(err(R"({"missing": [{"file": "vllm/y.py", "class": "Y"}]})").find("needs 'file', 'class' and 'reason'"), std::string::npos);
  EXPECT_NE(err(R"({"missing": [{"file": "a", "class": "Y", "reason": "r"}, {"file": "b", "class": "Y", "reason": "r"}]})")
                .find("listed twice"),
            std::string::npos);
  EXPECT_NE(err(R"({"missing": {}})").find("'missing' must be a list"), std::string::npos);
}

TEST(Registry, EveryTransformersFixtureHasAnEntry) {
  // A family transformers can save and moeckpt ships a fixture of, but no entry for, is a gap.
  std::set<std::string> covered;
  for (const auto& a : ArchRegistry::get().all())
    for (const auto& t : a.model_types) covered.insert(t);
  std::vector<std::string> missing;
  for (const auto& d : std::filesystem::directory_iterator(testing::testdata("models"))) {
    auto cfg = d.path() / "config.json";
    if (!std::filesystem::exists(cfg)) continue;
    auto j = Json::parse(testing::read_file(cfg));
    std::string mt = j.value("model_type", "");
    // Doge: no engine implements it (vLLM has no Doge model) and its MoE variant keeps experts
    // as rows of embedding tables picked by a product-key router, which no engine layout has.
    if (mt == "doge") continue;
    if (!ArchRegistry::get().detect(j)) missing.push_back(mt);
  }
  EXPECT_TRUE(missing.empty()) << "fixtures without a registry entry: " << ::testing::PrintToString(missing);
}

TEST(Registry, MalformedEntriesAreRefusedNamingTheFile) {
  auto err = [](const std::string& text) {
    try {
      ArchRegistry::from_entries({{"x.json", text}});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("<accepted>");
  };
  EXPECT_NE(err("{").find("mapping/archs/x.json"), std::string::npos);
  EXPECT_NE(err(R"({"name":"y","title":"t","source":"vllm"})").find("does not match the file name"), std::string::npos);
  EXPECT_NE(err(R"({"name":"x","title":"t","source":"vllm","bogus":1})").find("unknown key 'bogus'"), std::string::npos);
  EXPECT_NE(err(R"({"name":"x","title":"t","source":"vllm","moe_layers":{"rule":"nope"}})").find("unknown moe_layers rule"), std::string::npos);
  for (const char* eb : {R"("enable")", "[]", "[1]"})
    EXPECT_NE(err(std::string(R"({"name":"x","title":"t","source":"vllm","moe_layers":{"rule":"all","enabled_by":)") + eb + "}}").find("'moe_layers.enabled_by' must be"), std::string::npos) << eb;
  EXPECT_NE(err(R"({"name":"x","title":"t","source":"vllm","tensors":["a.{L"]})").find("unbalanced"), std::string::npos);
  EXPECT_NE(err(R"({"name":"x","title":"t","source":"vllm","moe_layers":{"rule":"all","fallback":{"rule":"nope"}}})")
                .find("unknown moe_layers fallback rule 'nope'"),
            std::string::npos);
  EXPECT_NE(err(R"({"name":"x","title":"t","source":"vllm","moe_layers":{"rule":"all","fallback":{}}})")
                .find("unknown moe_layers fallback rule"),
            std::string::npos);
  const std::string experts = R"({"name":"x","title":"t","source":"vllm","experts":[{"layout":"per_expert","path":"m.{L}.experts","up":"u","down":"d",)";
  EXPECT_NE(err(experts + R"("convert":{"fused":{"interleave":"yes"}}}]})").find("'convert.fused.interleave' must be true or false"), std::string::npos);
  EXPECT_NE(err(experts + R"("convert":{"fused":{"interleave":true}}}]})").find("interleave' needs gated experts"), std::string::npos);
  EXPECT_NE(err(experts + R"("convert":{"renames":{"a.{L":"b"}}}]})").find("convert: "), std::string::npos);
  EXPECT_NE(err(experts + R"("convert":[]}]})").find("'convert' must be an object"), std::string::npos);
  auto lenient = ArchRegistry::from_entries({{"x.json", "{"}, {"y.json", R"({"name":"y","title":"t","source":"vllm"})"}}, true);
  EXPECT_EQ(lenient.all().size(), 1u);
  EXPECT_EQ(lenient.load_errors().size(), 1u);
}

TEST(Registry, StackedConditionsAndMtpSectionsAreChecked) {
  auto err = [](const std::string& text) {
    try {
      ArchRegistry::from_entries({{"x.json", text}});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("<accepted>");
  };
  const std::string head = R"({"name":"x","title":"t","source":"vllm",)";
  EXPECT_EQ(err(head + R"("stacked":[["qkv_proj","q_proj","q","mha"]]})"), "<accepted>");
  EXPECT_NE(err(head + R"("stacked":[["qkv_proj","q_proj","q","mha &&"]]})").find("stacked 'q_proj' condition"), std::string::npos);
  EXPECT_NE(err(head + R"("stacked":[["qkv_proj","q_proj","q",7]]})").find("[param, shard, id, when]"), std::string::npos);
  EXPECT_NE(err(head + R"("mtp":{"checkpoint_prefix":{"mtp.":"layers."},"bogus":1}})").find("unknown key 'mtp.bogus'"), std::string::npos);
  EXPECT_NE(err(head + R"("mtp":{"checkpoint_prefix":{}}})").find("one {from: to} pair"), std::string::npos);
  EXPECT_NE(err(head + R"("mtp":{"checkpoint_prefix":{"mtp.":"layers."},"renames":{"regex":{"(":"x"}}}})").find("mtp.renames"), std::string::npos);
}

}  // namespace
}  // namespace moeckpt
