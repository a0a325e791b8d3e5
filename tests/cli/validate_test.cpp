// validate through the real binary: every finding code with a checkpoint that triggers it and
// one that does not.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

#include "malformed_cases.h"
#include "st_file.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using nlohmann::json;
using testing::run_moeckpt;
using testing::TempDir;

using T = testing::StTensor;
using testing::st_file;

// A Mixtral-style checkpoint: H=8, I=4, `layers` layers, `experts` experts.
std::vector<T> mixtral(int layers, int experts, uint64_t inter = 4) {
  std::vector<T> v = {{"model.embed_tokens.weight", "BF16", {16, 8}}, {"model.norm.weight", "BF16", {8}}, {"lm_head.weight", "BF16", {16, 8}}};
  for (int l = 0; l < layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    v.push_back({p + "input_layernorm.weight", "BF16", {8}});
    v.push_back({p + "post_attention_layernorm.weight", "BF16", {8}});
    for (const char* x : {"q", "k", "v", "o"}) v.push_back({p + "self_attn." + x + "_proj.weight", "BF16", {8, 8}});
    v.push_back({p + "block_sparse_moe.gate.weight", "BF16", {static_cast<uint64_t>(experts), 8}});
    for (int e = 0; e < experts; ++e) {
      std::string q = p + "block_sparse_moe.experts." + std::to_string(e) + ".";
      v.push_back({q + "w1.weight", "BF16", {inter, 8}});
      v.push_back({q + "w3.weight", "BF16", {inter, 8}});
      v.push_back({q + "w2.weight", "BF16", {8, inter}});
    }
  }
  return v;
}

json mixtral_config() {
  return {{"architectures", {"MixtralForCausalLM"}}, {"model_type", "mixtral"}, {"hidden_size", 8}, {"intermediate_size", 4},
          {"num_hidden_layers", 2},  {"num_attention_heads", 2},         {"num_key_value_heads", 2}, {"num_local_experts", 2},
          {"num_experts_per_tok", 1}};
}

class Validate : public ::testing::Test {
 protected:
  // Writes a checkpoint and returns validate's JSON; exit code in last_rc_.
  json check(const std::vector<T>& ts, const json& config, const std::vector<std::string>& extra = {}) {
    fs::path d = dir_ / ("c" + std::to_string(n_++));
    fs::create_directories(d);
    testing::write_file(d / "model.safetensors", st_file(ts));
    if (!config.is_null()) {
      testing::write_file(d / "config.json", config.dump());
      testing::write_file(d / "generation_config.json", "{}");  // as every released checkpoint has
    }
    return run(d, extra);
  }
  json run(const fs::path& d, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"validate", d.string(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_moeckpt(args);
    last_rc_ = r.exit_code;
    last_err_ = r.err;
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
    return json::parse(r.out);
  }
  static std::set<std::string> codes(const json& doc) {
    std::set<std::string> s;
    for (const auto& f : doc["findings"]) s.insert(f["code"]);
    return s;
  }
  static json finding(const json& doc, const std::string& code) {
    for (const auto& f : doc["findings"])
      if (f["code"] == code) return f;
    return nullptr;
  }
  TempDir dir_;
  int n_ = 0;
  int last_rc_ = -1;
  std::string last_err_;
};

TEST_F(Validate, ACleanCheckpointPasses) {
  json doc = check(mixtral(2, 2), mixtral_config());
  EXPECT_TRUE(doc["ok"]);
  EXPECT_EQ(doc["findings"].size(), 0u) << doc.dump(2);
  EXPECT_EQ(last_rc_, 0);
  EXPECT_EQ(doc["summary"]["architecture"], "mixtral");
}

TEST_F(Validate, TopKMissingNamesEveryAliasTried) {
  json c = mixtral_config();
  c.erase("num_experts_per_tok");
  json doc = check(mixtral(2, 2), c);
  ASSERT_FALSE(finding(doc, "E-TOPK-MISSING").is_null()) << doc.dump(2);
  EXPECT_NE(finding(doc, "E-TOPK-MISSING")["message"].get<std::string>().find("num_experts_per_tok"), std::string::npos);
  EXPECT_EQ(last_rc_, 1);
  // Another family's spelling that this engine class does not read is named as the cause.
  c["top_k_experts"] = 1;
  std::string unread = finding(check(mixtral(2, 2), c), "E-TOPK-MISSING")["message"];
  EXPECT_NE(unread.find("the config has 'top_k_experts', which MixtralForCausalLM does not read"), std::string::npos) << unread;
  // An architecture moeckpt does not know uses every alias: top_k_experts alone (Gemma 4's
  // spelling) resolves, a config with no alias names both.
  json g = mixtral_config();
  g["architectures"] = {"SomeNewMoeForCausalLM"};
  g["model_type"] = "some_new_moe";
  g.erase("num_experts_per_tok");
  g["top_k_experts"] = 1;
  json ok = check(mixtral(2, 2), g);
  EXPECT_FALSE(codes(ok).count("E-TOPK-MISSING")) << ok.dump(2);
  EXPECT_TRUE(codes(ok).count("E-ARCH-UNKNOWN"));
  g.erase("top_k_experts");
  json bad = check(mixtral(2, 2), g);
  std::string m = finding(bad, "E-TOPK-MISSING")["message"];
  EXPECT_NE(m.find("num_experts_per_tok"), std::string::npos) << m;
  EXPECT_NE(m.find("top_k_experts"), std::string::npos) << m;
}

TEST_F(Validate, ExpertCountAndRangeChecks) {
  json c = mixtral_config();
  c.erase("num_local_experts");
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-EXPERTS-MISSING"));
  c["num_local_experts"] = 0;
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-EXPERTS-ZERO"));
  c["num_local_experts"] = 2;
  c["num_experts_per_tok"] = 3;
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-TOPK-RANGE"));
  c["num_experts_per_tok"] = 1;
  c["hidden_size"] = 0;
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-SIZE-INVALID"));
  c["hidden_size"] = "eight";
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-CONFIG-TYPE"));
  EXPECT_FALSE(codes(check(mixtral(2, 2), mixtral_config())).count("E-CONFIG-TYPE"));
}

TEST_F(Validate, ConfigExpertsDifferFromTensorExperts) {
  json c = mixtral_config();
  c["num_local_experts"] = 4;
  json doc = check(mixtral(2, 2), c);
  json f = finding(doc, "E-EXPERT-COUNT");
  ASSERT_FALSE(f.is_null()) << doc.dump(2);
  EXPECT_NE(f["message"].get<std::string>().find("2 experts in the tensors, but 'num_local_experts' is 4"), std::string::npos) << f;
  EXPECT_TRUE(codes(doc).count("E-MAP-UNFILLED"));  // experts 2 and 3 of each layer
}

TEST_F(Validate, ExpertShapesAndConsistency) {
  json c = mixtral_config();
  c["intermediate_size"] = 6;
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-EXPERT-SHAPE"));
  auto ts = mixtral(2, 2);
  for (auto& t : ts)
    if (t.name == "model.layers.1.block_sparse_moe.experts.1.w1.weight") t.dtype = "F16";
  EXPECT_TRUE(codes(check(ts, mixtral_config())).count("E-EXPERT-INCONSISTENT"));
}

TEST_F(Validate, MoeLayersWhereTheConfigPutsThem) {
  // Qwen3-MoE: mlp_only_layers [0] makes layer 0 dense, but it holds experts.
  std::vector<T> ts = testing::qwen3_moe_tensors(2, 2);
  json c = testing::qwen3_moe_config(2, 2);
  c["mlp_only_layers"] = {0};
  json doc = check(ts, c);
  json f = finding(doc, "E-MOE-LAYERS");
  ASSERT_FALSE(f.is_null()) << doc.dump(2);
  EXPECT_NE(f["message"].get<std::string>().find("layer(s) 0"), std::string::npos) << f;
  c["mlp_only_layers"] = json::array();
  EXPECT_FALSE(codes(check(ts, c)).count("E-MOE-LAYERS"));
}

TEST_F(Validate, UnmappedAndUnfilledTensors) {
  auto ts = mixtral(2, 2);
  ts.push_back({"model.layers.0.self_attn.q_proj.lora_A.weight", "BF16", {2, 8}});
  ts.erase(std::remove_if(ts.begin(), ts.end(), [](const T& t) { return t.name == "model.layers.1.block_sparse_moe.experts.0.w3.weight"; }), ts.end());
  json doc = check(ts, mixtral_config());
  EXPECT_EQ(finding(doc, "E-MAP-UNMAPPED")["tensor"], "model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(finding(doc, "E-MAP-UNFILLED")["tensor"], "model.layers.1.block_sparse_moe.experts.0.w3.weight");
}

TEST_F(Validate, QuantizationConfigShape) {
  json c = mixtral_config();
  c["quantization_config"] = {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"}, {"weight_block_size", {128, 128}}};
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-QUANT-BLOCK") == 0);
  c["quantization_config"]["weight_block_size"] = {128};
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-QUANT-BLOCK"));
  c["quantization_config"]["weight_block_size"] = {128, 0};
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-QUANT-BLOCK"));
  c["quantization_config"]["weight_block_size"] = {128, 128};
  c["quantization_config"]["fmt"] = "e3m4";
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-QUANT-FMT"));
  c["quantization_config"]["fmt"] = "e4m3";
  c["quantization_config"]["activation_scheme"] = "sometimes";
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-QUANT-ACTIVATION"));
  c["quantization_config"] = {{"bits", 4}};
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-QUANT-METHOD"));
  c["quantization_config"] = {{"quant_method", "modelopt"}};
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("E-QUANT-CONFIG"));
  c["quantization_config"] = {{"quant_method", "compressed-tensors"}, {"config_groups", json::object()}};
  EXPECT_FALSE(codes(check(mixtral(2, 2), c)).count("E-QUANT-CONFIG"));
  c["quantization_config"] = {{"quant_method", "awq2000"}};
  EXPECT_TRUE(codes(check(mixtral(2, 2), c)).count("W-QUANT-METHOD-UNKNOWN"));
}

TEST_F(Validate, ParallelDivisibility) {
  json doc = check(mixtral(2, 2), mixtral_config(), {"--ep", "3"});
  json f = finding(doc, "E-PARALLEL-DIVISIBILITY");
  ASSERT_FALSE(f.is_null());
  EXPECT_NE(f["message"].get<std::string>().find("not divisible by --ep 3"), std::string::npos);
  EXPECT_FALSE(codes(check(mixtral(2, 2), mixtral_config(), {"--ep", "2", "--tp", "2"})).count("E-PARALLEL-DIVISIBILITY"));
}

TEST_F(Validate, ConfigProblemsAreFindingsNotCrashes) {
  fs::path d = dir_ / "badcfg";
  fs::create_directories(d);
  testing::write_file(d / "model.safetensors", st_file(mixtral(1, 2)));
  testing::write_file(d / "config.json", "{\"a\": ");
  json doc = run(d);
  EXPECT_TRUE(codes(doc).count("E-CONFIG-JSON")) << doc.dump(2);
  EXPECT_EQ(last_rc_, 1);
  json none = check(mixtral(1, 2), nullptr);
  EXPECT_TRUE(codes(none).count("W-CONFIG-MISSING"));
  EXPECT_TRUE(none["ok"]);
  EXPECT_FALSE(check(mixtral(1, 2), nullptr, {"--strict"})["ok"]);
  EXPECT_EQ(last_rc_, 1);
}

TEST_F(Validate, EveryMalformedFileIsAFindingAndTheOtherShardsAreStillChecked) {
  for (const auto& c : testing::malformed_safetensors_cases()) {
    fs::path d = dir_ / ("m_" + c.name);
    fs::create_directories(d);
    testing::write_file(d / "a.safetensors", c.bytes);
    testing::write_file(d / "b.safetensors", st_file({{"w", "BF16", {2}}, {"x", "F8_E4M3", {2, 2}}}));
    json doc = run(d);
    EXPECT_EQ(last_rc_, 1) << c.name;
    bool found = false;
    for (const auto& f : doc["findings"])
      if (f["file"].is_string() && f["file"].get<std::string>().ends_with("a.safetensors") && f["severity"] == "error") found = true;
    EXPECT_TRUE(found) << c.name << ": " << doc.dump(2);
    EXPECT_EQ(doc["summary"]["tensors"], 2) << c.name << ": b.safetensors must still be read";
  }
}

TEST_F(Validate, IndexConsistency) {
  fs::path d = dir_ / "idx";
  fs::create_directories(d);
  testing::write_file(d / "s1.safetensors", st_file({{"a", "BF16", {2}}}));
  testing::write_file(d / "s2.safetensors", st_file({{"b", "BF16", {2}}, {"c", "BF16", {2}}}));
  testing::write_file(d / "old.safetensors", st_file({{"z", "BF16", {2}}}));
  testing::write_file(d / "model.safetensors.index.json",
                      R"({"metadata":{"total_size":100},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}})");
  json doc = run(d);
  auto cs = codes(doc);
  EXPECT_TRUE(cs.count("W-INDEX-TOTAL-SIZE")) << doc.dump(2);
  EXPECT_TRUE(cs.count("W-INDEX-ORPHAN-SHARD"));
  EXPECT_TRUE(cs.count("W-INDEX-UNLISTED"));
  EXPECT_EQ(finding(doc, "W-INDEX-UNLISTED")["tensor"], "c");
  testing::write_file(d / "model.safetensors.index.json",
                      R"({"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors","q":"gone.safetensors","r":"s1.safetensors"}})");
  doc = run(d);
  cs = codes(doc);
  EXPECT_TRUE(cs.count("E-INDEX-SHARD-MISSING")) << doc.dump(2);
  EXPECT_TRUE(cs.count("E-INDEX-TENSOR-MISSING"));
}

TEST_F(Validate, OutputIsDeterministicAndSorted) {
  auto ts = mixtral(2, 2);
  ts.push_back({"zzz.extra", "BF16", {2}});
  ts.push_back({"aaa.extra", "BF16", {2}});
  json c = mixtral_config();
  c["num_experts_per_tok"] = 5;
  json a = check(ts, c);
  json b = check(ts, c);
  for (auto* doc : {&a, &b})
    for (auto& f : (*doc)["findings"]) f.erase("file");  // the two checkpoints live in different directories
  EXPECT_EQ(a["findings"], b["findings"]);
  std::string prev;
  for (const auto& f : a["findings"]) {
    std::string key = std::string(f["severity"] == "error" ? "0" : "1") + f["code"].get<std::string>();
    EXPECT_LE(prev, key);
    prev = key;
  }
}

TEST(ValidateInput, UnreadableInputIsExit3) {
  auto r = run_moeckpt({"validate", "testdata/nope"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

}  // namespace
}  // namespace moeckpt
