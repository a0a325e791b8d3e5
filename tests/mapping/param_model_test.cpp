// The parameter model: its expression language, the registry's parsing of "params", and, for
// every fixture whose architecture has a model, that each tensor the model covers is caught
// when it goes missing or changes shape (the generic form of the engine-parameter issue's
// table; tests/cli/validate_params_test.cpp has the table itself).
#include "mapping/param_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "loader/checkpoint.h"
#include "loader/error.h"
#include "mapping/arch_registry.h"
#include "mapping/planner.h"
#include "pending_modes.h"
#include "test_util.h"

namespace moeckpt {
namespace {

ExprValue eval(const std::string& text, const Json& config = Json::object()) {
  ConfigView view(config);
  ParamModel none;
  return eval_param_expr(Expr::parse(text), none, view);
}

TEST(ParamExpr, ArithmeticPrecedenceAndIntegers) {
  EXPECT_EQ(eval("2 + 3 * 4").as_int(), 14);
  EXPECT_EQ(eval("(2 + 3) * 4").as_int(), 20);
  EXPECT_EQ(eval("7 / 2").as_int(), 3);
  EXPECT_EQ(eval("7 % 4").as_int(), 3);
  EXPECT_EQ(eval("-3 + 5").as_int(), 2);
  EXPECT_EQ(eval("10 - 4 - 3").as_int(), 3);  // left to right
  EXPECT_EQ(eval("0.5 * 8").as_int(), 4);     // an integral double is a whole number
  EXPECT_FALSE(eval("0.5 * 3").as_int());
}

TEST(ParamExpr, ConfigNamesDottedKeysAndTheTextSection) {
  Json c = Json::parse(R"({"hidden_size": 64, "rope_parameters": {"theta": 10}, "text_config": {"vocab_size": 7}})");
  EXPECT_EQ(eval("hidden_size * 2", c).as_int(), 128);
  EXPECT_EQ(eval("rope_parameters.theta", c).as_int(), 10);
  EXPECT_EQ(eval("vocab_size", c).as_int(), 7);
  EXPECT_FALSE(eval("rope_parameters.nothing", c).defined());
  EXPECT_FALSE(eval("hidden_size.x", c).defined());
}

TEST(ParamExpr, UndefinedPropagatesAndFallsBack) {
  Json c = Json::parse(R"({"a": 4, "n": null, "s": "noaux_tc", "f": false})");
  EXPECT_FALSE(eval("missing * 2", c).defined());
  EXPECT_EQ(eval("missing ?? a", c).as_int(), 4);
  EXPECT_EQ(eval("n ?? 3", c).as_int(), 3);  // null falls back too
  EXPECT_EQ(eval("f ?? true", c).to_string(), "false");  // false is a value
  EXPECT_FALSE(eval("missing == 1", c).truthy());
  EXPECT_TRUE(eval("s == 'noaux_tc'", c).truthy());
  EXPECT_TRUE(eval("s != 'greedy' && a > 3 || missing", c).truthy());
  EXPECT_TRUE(eval("!missing", c).truthy());
  EXPECT_FALSE(eval("!a", c).truthy());
}

// Per-layer lists (num_attention_heads_per_layer[L], layer_types[L]) and the size of a list or
// object (len(id2label): a classifier head's labels), which configs carry instead of a number.
TEST(ParamExpr, ListElementsAndLengths) {
  Json c = Json::parse(R"({"heads": [4, 8], "types": ["full", "sliding"], "id2label": {"0": "O", "1": "B", "2": "I"},
                          "n": 1, "text_config": {"per_layer": [2, 6]}})");
  EXPECT_EQ(eval("heads[1]", c).as_int(), 8);
  EXPECT_EQ(eval("heads[n] * 2", c).as_int(), 16);
  EXPECT_EQ(eval("heads[n - 1]", c).as_int(), 4);
  EXPECT_EQ(eval("per_layer[1]", c).as_int(), 6);  // the text section, as for plain names
  EXPECT_TRUE(eval("types[1] == 'sliding'", c).truthy());
  EXPECT_FALSE(eval("heads[2]", c).defined());
  EXPECT_FALSE(eval("heads[0 - 1]", c).defined());
  EXPECT_FALSE(eval("heads[missing]", c).defined());
  EXPECT_FALSE(eval("n[0]", c).defined());
  EXPECT_EQ(eval("len(id2label)", c).as_int(), 3);
  EXPECT_EQ(eval("len(heads) + 1", c).as_int(), 3);
  EXPECT_FALSE(eval("len(n)", c).defined());
  EXPECT_FALSE(eval("len(missing) ?? 0", c).as_int().value_or(-1) != 0);
  ConfigView view(c);
  ParamModel none;
  EXPECT_EQ(eval_param_expr(Expr::parse("heads[L]"), none, view, nullptr, 0).as_int(), 4);
  EXPECT_EQ(eval_param_expr(Expr::parse("heads[L]"), none, view, nullptr, 1).as_int(), 8);
  for (const char* bad : {"heads[1", "heads[]", "len(heads", "len()", "len(1)"}) EXPECT_THROW(Expr::parse(bad), std::invalid_argument) << bad;
}

TEST(ParamExpr, AbsurdNumbersGiveUndefinedNotGarbage) {
  Json c = Json::parse(R"({"big": 9223372036854775807, "zero": 0})");
  EXPECT_FALSE(eval("big * 2", c).defined());
  EXPECT_FALSE(eval("big + 1", c).defined());
  EXPECT_FALSE(eval("4 / zero", c).defined());
  EXPECT_FALSE(eval("4 % zero", c).defined());
  EXPECT_FALSE(eval("1.0 / zero", c).defined());
}

// Hybrid models choose a layer's mixer from a per-layer list or pattern string of the config.
TEST(ParamExpr, IndexingTakesAListEntryOrAStringCharacter) {
  Json c = Json::parse(R"({"layer_types": ["linear_attention", "full_attention"], "pattern": "M*-E", "i": 1, "n": 64})");
  EXPECT_EQ(eval("layer_types[1]", c).to_string(), "'full_attention'");
  EXPECT_TRUE(eval("layer_types[i - 1] == 'linear_attention'", c).truthy());
  EXPECT_EQ(eval("pattern[3]", c).to_string(), "'E'");
  EXPECT_EQ(eval("pattern[ 1 + 1 ]", c).to_string(), "'-'");
  EXPECT_FALSE(eval("layer_types[2]", c).defined());   // past the end
  EXPECT_FALSE(eval("pattern[4]", c).defined());
  EXPECT_FALSE(eval("layer_types[-1]", c).defined());
  EXPECT_FALSE(eval("n[0]", c).defined());             // neither a list nor a string
  EXPECT_FALSE(eval("missing[0]", c).defined());
  EXPECT_EQ(eval("missing[0] ?? 'x'", c).to_string(), "'x'");
  // a variable holding a string indexes too (the entry's param_vars)
  ParamModel m;
  m.vars.push_back({"p", Expr::parse("pattern ?? 'MMMM'")});
  ConfigView view(c);
  EXPECT_EQ(eval_param_expr(Expr::parse("p[0]"), m, view).to_string(), "'M'");
  for (const char* bad : {"a[", "a[1", "a[]", "1[0]"}) EXPECT_THROW(Expr::parse(bad), std::invalid_argument) << bad;
}

TEST(ParamExpr, ParseErrorsSayWhere) {
  for (const char* bad : {"", "1 +", "(1", "a b", "'open", "a.", "1 $ 2", "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1"}) {
    try {
      Expr::parse(bad);
      ADD_FAILURE() << "parsed: " << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(" at "), std::string::npos) << e.what();
    }
  }
}

TEST(ParamModel, AlternativesExpandInOrder) {
  EXPECT_EQ(expand_alternatives("a.{q,k}_proj.{weight,bias}"),
            (std::vector<std::string>{"a.q_proj.weight", "a.q_proj.bias", "a.k_proj.weight", "a.k_proj.bias"}));
  EXPECT_EQ(expand_alternatives("model.layers.{L}.x"), std::vector<std::string>{"model.layers.{L}.x"});
}

// A registry of one hand-made entry with these params (and blocks), or the load error.
std::string load_error(const std::string& params, const std::string& blocks = R"({"blocks": {}})") {
  std::string entry = R"({"name": "t", "title": "T", "source": "vllm", "params": )" + params + "}";
  try {
    ArchRegistry::from_entries({{"_blocks.json", blocks}, {"t.json", entry}});
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

TEST(ParamModel, MalformedParamsAreRegistryErrors) {
  EXPECT_EQ(load_error(R"([{"name": "model.norm.weight", "shape": ["hidden_size"]}])"), "");
  EXPECT_NE(load_error(R"([{"name": "model.layers.{L}.x"}])").find("{L} needs 'layers'"), std::string::npos);
  EXPECT_NE(load_error(R"([{"name": "x", "layers": "decoder"}])").find("'layers' needs {L}"), std::string::npos);
  EXPECT_NE(load_error(R"([{"name": "x", "shape": ["1 +"]}])").find("expression"), std::string::npos);
  EXPECT_NE(load_error(R"([{"name": "x", "colour": 1}])").find("unknown key 'colour'"), std::string::npos);
  EXPECT_NE(load_error(R"([{"use": "nope"}])").find("unknown block 'nope'"), std::string::npos);
  EXPECT_NE(load_error(R"([{"name": "m.{E}.x"}])").find("{E}"), std::string::npos);
  EXPECT_NE(load_error(R"([{"name": "x", "layers": "mtp_and_more"}])").find("unknown layer set"), std::string::npos);
  EXPECT_NE(load_error(R"([{"name": "x", "ignored": "tie"}])").find("'ignored' needs a 'why'"), std::string::npos);
  // A broken block fails the load even unused.
  EXPECT_NE(load_error("[]", R"({"blocks": {"b": [{"name": "{P}.x", "shape": ["("]}]}})").find("_blocks.json"), std::string::npos);
  EXPECT_NE(load_error("[]", R"({"blocks": {}, "colour": 1})").find("unknown key"), std::string::npos);
}

TEST(ParamModel, BlocksTakeAPrefixLayersConditionsAndVariables) {
  const std::string blocks = R"({"vars": {"w": "hidden_size * 2"},
    "blocks": {"mlp": [{"name": "{P}.up.weight", "shape": ["I", "hidden_size"], "kind": "linear"}]}})";
  const std::string entry = R"({"name": "t", "title": "T", "source": "vllm", "params": [
    {"use": "mlp", "P": "model.layers.{L}.mlp", "layers": "dense", "vars": {"I": "w + 1"}},
    {"name": "model.layers.{L}.gate.weight", "layers": "moe", "shape": ["num_experts", "hidden_size"], "when": "num_experts > 1"}]})";
  ArchRegistry reg = ArchRegistry::from_entries({{"_blocks.json", blocks}, {"t.json", entry}});
  const Architecture& a = reg.all().front();
  Json c = Json::parse(R"({"hidden_size": 8, "num_experts": 4})");
  ConfigView view(c);
  ExpectedSet ex = expand_params(a.params, view, LayerPlan{3, {1}});
  ASSERT_EQ(ex.tensors.size(), 3u);
  EXPECT_EQ(ex.tensors[0].name, "model.layers.0.mlp.up.weight");
  EXPECT_EQ(ex.tensors[0].shape, (std::vector<std::optional<int64_t>>{17, 8}));
  EXPECT_EQ(ex.tensors[1].name, "model.layers.2.mlp.up.weight");
  EXPECT_EQ(ex.tensors[2].name, "model.layers.1.gate.weight");
  c["num_experts"] = 1;
  ConfigView one(c);
  EXPECT_EQ(expand_params(a.params, one, LayerPlan{3, {1}}).tensors.size(), 2u);
}

// Every fixture of an architecture with a parameter model: each non-expert tensor, dropped, is
// named unfilled; each, with its first dimension changed, gets E-PARAM-SHAPE. So the model
// covers every tensor the fixture has, with a shape.
TEST(ParamModel, EveryModelledFixtureCatchesEachMissingOrMisshapenTensor) {
  int checked = 0;
  for (const auto& a : ArchRegistry::get().all()) {
    if (a.params.empty() || a.fixture.empty() || testing::pending_text_modes().count(a.name)) continue;
    Checkpoint ck = Checkpoint::open(testing::source_dir(a.fixture));
    ASSERT_TRUE(ck.config()) << a.name;
    const Json* config = &*ck.config();
    std::vector<TensorInfo> all(ck.tensors().begin(), ck.tensors().end());
    MapPlan clean = plan_mapping(a, config, all);
    ASSERT_TRUE(clean.param_model) << a.name;
    EXPECT_TRUE(clean.unfilled.empty() && clean.unexpected.empty() && clean.param_findings.empty()) << a.name;
    for (size_t i = 0; i < all.size(); ++i) {
      auto e = std::find_if(clean.entries.begin(), clean.entries.end(), [&](const PlanEntry& x) { return x.checkpoint == all[i].name; });
      if (e == clean.entries.end() || e->kind == "expert" || e->kind == "fused_expert") continue;
      std::vector<TensorInfo> fewer = all;
      fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(i));
      MapPlan p = plan_mapping(a, config, fewer);
      EXPECT_TRUE(std::any_of(p.unfilled.begin(), p.unfilled.end(), [&](const UnfilledEntry& u) { return u.expected == all[i].name; }))
          << a.name << ": dropping " << all[i].name << " goes unnoticed";
      std::vector<TensorInfo> reshaped = all;
      reshaped[i].shape[0] += 1;
      MapPlan q = plan_mapping(a, config, reshaped);
      EXPECT_TRUE(std::any_of(q.param_findings.begin(), q.param_findings.end(),
                              [&](const ParamFinding& f) { return f.code == "E-PARAM-SHAPE" && f.tensor == all[i].name; }))
          << a.name << ": " << all[i].name << " with another first dimension goes unnoticed";
    }
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

}  // namespace
}  // namespace moeckpt
