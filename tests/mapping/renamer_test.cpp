// The one renaming chain (user rules -> mapper -> scale rule -> load-time renames), the
// scale rule in its four cases, convert's renaming of planned tensors, and the name filter.
#include "mapping/renamer.h"

#include <gtest/gtest.h>

#include "loader/error.h"
#include "mapping/tensor_filter.h"

namespace moeckpt {
namespace {

const char* kMapped = R"({
  "name": "mapped", "title": "Mapped", "source": "vllm",
  "mapper": {"prefix": {"language_model.": "", "vision_tower.": null}},
  "renames": {"suffix": {".old_gate.weight": ".gate.weight", ".ignored.weight": null}},
  "tensors": ["model.layers.{L}.mlp.gate.weight"]
})";
const char* kDsv4 = R"({
  "name": "dsv4", "title": "DSV4", "source": "vllm", "scale_rule": "deepseek_v4",
  "experts": [{"layout": "per_expert", "path": "layers.{L}.ffn.experts", "gate": "w1", "up": "w3", "down": "w2"}],
  "tensors": ["layers.{L}.attn.wq_a.weight"]
})";

const ArchRegistry& reg() {
  static ArchRegistry r = ArchRegistry::from_entries({{"mapped.json", kMapped}, {"dsv4.json", kDsv4}});
  return r;
}

RuleSet user_rules() { return RuleSet::parse(R"({"prefix": {"base.": "", "drop.": null}})", "rules.json"); }

// All four steps, as convert applies them; "(dropped)" when a step drops the name.
std::string full(const Renamer& r, std::string_view name) {
  std::string a, b;
  auto u = r.user(name, a);
  auto e = u ? r.engine(*u, b) : std::nullopt;
  auto l = e ? r.load_time(*e) : std::nullopt;
  return l ? *l : "(dropped)";
}

TEST(Renamer, StepsApplyInOrderAndEachMayDrop) {
  RuleSet user = user_rules();
  Renamer r(reg().find("mapped"), &user, nullptr, "config.json");
  EXPECT_EQ(full(r, "base.language_model.model.layers.0.mlp.old_gate.weight"), "model.layers.0.mlp.gate.weight");
  EXPECT_EQ(full(r, "drop.x"), "(dropped)");                       // user rule
  EXPECT_EQ(full(r, "vision_tower.blocks.0.weight"), "(dropped)");  // mapper
  EXPECT_EQ(full(r, "model.layers.0.ignored.weight"), "(dropped)"); // load-time renames
  EXPECT_EQ(full(r, "untouched.weight"), "untouched.weight");
  EXPECT_FALSE(r.expert_dtype());
}

TEST(Renamer, AnUnchangedNameIsAViewOfTheInput) {
  Renamer r(nullptr, nullptr, nullptr, "config.json");
  std::string buf;
  const std::string name = "model.norm.weight";
  auto u = r.user(name, buf);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->data(), name.data());
  auto e = r.engine(*u, buf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->data(), name.data());
}

TEST(Renamer, WithoutAnArchitectureOnlyTheUsersRulesApply) {
  RuleSet user = user_rules();
  Renamer r(nullptr, &user, nullptr, "config.json");
  EXPECT_EQ(full(r, "base.language_model.x.scale"), "language_model.x.scale");
  EXPECT_EQ(full(r, "drop.y"), "(dropped)");
}

TEST(Renamer, DeepseekV4ScaleRuleInItsFourCases) {
  const Architecture* a = reg().find("dsv4");
  const std::string expert = "layers.3.ffn.experts.7.w1.scale", shared = "layers.3.ffn.shared_experts.w1.scale",
                    attn = "layers.3.attn.wq_a.scale", mtp = "mtp.0.ffn.experts.1.w2.scale";
  Json fp4 = {{"expert_dtype", "fp4"}}, fp8 = {{"expert_dtype", "fp8"}}, absent = Json::object();
  for (const Json* c : std::initializer_list<const Json*>{&fp4, &absent, nullptr}) {
    Renamer r(a, nullptr, c, "config.json");
    ASSERT_TRUE(r.expert_dtype());
    EXPECT_EQ(r.expert_dtype()->value, ExpertDtype::kFp4);
    EXPECT_EQ(full(r, expert), "layers.3.ffn.experts.7.w1.weight_scale");
    EXPECT_EQ(full(r, mtp), "mtp.0.ffn.experts.1.w2.weight_scale");
    EXPECT_EQ(full(r, shared), "layers.3.ffn.shared_experts.w1.weight_scale_inv");
    EXPECT_EQ(full(r, attn), "layers.3.attn.wq_a.weight_scale_inv");
    EXPECT_EQ(r.scale_name(expert), "layers.3.ffn.experts.7.w1.weight_scale");
  }
  Renamer r8(a, nullptr, &fp8, "config.json");
  EXPECT_EQ(full(r8, expert), "layers.3.ffn.experts.7.w1.weight_scale_inv");
  EXPECT_EQ(full(r8, mtp), "mtp.0.ffn.experts.1.w2.weight_scale_inv");
  EXPECT_EQ(full(r8, attn), "layers.3.attn.wq_a.weight_scale_inv");
  Json bad = {{"expert_dtype", "int4"}};
  try {
    Renamer rb(a, nullptr, &bad, "ckpt/config.json");
    FAIL() << "accepted expert_dtype int4";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConfigInvalid);
    EXPECT_EQ(e.file(), "ckpt/config.json");
  }
  // Other architectures have no scale rule: ".scale" stays.
  Renamer plain(reg().find("mapped"), nullptr, &fp8, "config.json");
  EXPECT_EQ(full(plain, attn), attn);
  EXPECT_EQ(plain.scale_name(attn), attn);
}

std::vector<PlannedTensor> planned(std::initializer_list<const char*> names) {
  std::vector<PlannedTensor> v;
  for (const char* n : names) v.push_back({WriterTensor{n, DType::kU8, {1}, 1}, n, nullptr});
  return v;
}

std::vector<std::string> names(const std::vector<PlannedTensor>& v) {
  std::vector<std::string> out;
  for (const auto& t : v) out.push_back(t.out.name + "<-" + t.source);
  return out;
}

TEST(RenamePlanned, RenamesDropsAndSortsByTheNewName) {
  RuleSet user = user_rules();
  Renamer r(reg().find("mapped"), &user, nullptr, "config.json");
  auto v = planned({"base.z.weight", "drop.a", "language_model.b.weight", "vision_tower.c"});
  std::vector<std::string> dropped = {"earlier"};
  rename_planned(v, r, dropped);
  EXPECT_EQ(names(v), (std::vector<std::string>{"b.weight<-language_model.b.weight", "z.weight<-base.z.weight"}));
  EXPECT_EQ(dropped, (std::vector<std::string>{"earlier", "drop.a", "vision_tower.c"}));
}

TEST(RenamePlanned, TwoTensorsOnOneNameOrAnEmptyNameAreRefused) {
  RuleSet user = user_rules();
  Renamer r(reg().find("mapped"), &user, nullptr, "config.json");
  auto clash = planned({"base.x.weight", "language_model.x.weight"});
  std::vector<std::string> dropped;
  try {
    rename_planned(clash, r, dropped);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    EXPECT_EQ(e.file(), "x.weight");
  }
  auto empty = planned({"base."});
  EXPECT_THROW(rename_planned(empty, r, dropped), Error);
}

TEST(TensorFilter, OnlyAndExcludeMatchAnywhere) {
  TensorFilter f("layers\\.[01]\\.", "experts");
  EXPECT_TRUE(f.keep("model.layers.0.attn.q_proj.weight"));
  EXPECT_FALSE(f.keep("model.layers.2.attn.q_proj.weight"));
  EXPECT_FALSE(f.keep("model.layers.1.mlp.experts.0.w1.weight"));
  TensorFilter all("", "");
  EXPECT_TRUE(all.keep("anything"));
  auto v = planned({"model.layers.0.a", "model.layers.5.a", "model.layers.1.experts.b"});
  std::vector<std::string> dropped;
  f.apply(v, dropped);
  EXPECT_EQ(names(v), (std::vector<std::string>{"model.layers.0.a<-model.layers.0.a"}));
  EXPECT_EQ(dropped, (std::vector<std::string>{"model.layers.5.a", "model.layers.1.experts.b"}));
}

TEST(TensorFilter, ABadPatternIsAUsageErrorNamingItsOption) {
  try {
    TensorFilter f("(", "");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    EXPECT_EQ(e.file(), "--only");
  }
  try {
    TensorFilter f("", "[z-a]");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "--exclude");
  }
}

}  // namespace
}  // namespace moeckpt
