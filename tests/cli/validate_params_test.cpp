// The parameter model through the real binary: each failure of the engine-parameter issue's table
// rebuilt from a clean transformers-written fixture (a tensor dropped or reshaped, a config key
// edited), validate's finding and map's verdict for it, and the untouched twin passing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>

#include "st_file.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using nlohmann::json;
using testing::run_moeckpt;
using testing::TempDir;
using T = testing::StTensor;

struct Fixture {
  std::vector<T> tensors;
  json config;
};

// A fixture's tensor list (names, dtypes, shapes from its real header) and config.
Fixture load(const std::string& name) {
  fs::path dir = testing::testdata("models/" + name);
  const std::string bytes = testing::read_file(dir / "model.safetensors");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<unsigned char>(bytes[static_cast<size_t>(i)])} << (8 * i);
  Fixture f;
  const json header = json::parse(bytes.substr(8, n));
  for (const auto& item : header.items()) {
    if (item.key() == "__metadata__") continue;
    f.tensors.push_back({item.key(), item.value()["dtype"].get<std::string>(), item.value()["shape"].get<std::vector<uint64_t>>()});
  }
  f.config = json::parse(testing::read_file(dir / "config.json"));
  return f;
}

void drop(Fixture& f, const std::string& name) {
  auto it = std::remove_if(f.tensors.begin(), f.tensors.end(), [&](const T& t) { return t.name == name; });
  ASSERT_NE(it, f.tensors.end()) << name << " is not in the fixture";
  f.tensors.erase(it, f.tensors.end());
}

T& tensor(Fixture& f, const std::string& name) {
  for (auto& t : f.tensors)
    if (t.name == name) return t;
  throw std::runtime_error(name + " is not in the fixture");
}

class ValidateParams : public ::testing::Test {
 protected:
  fs::path write(const Fixture& f, bool generation_config = true) {
    fs::path d = dir_ / ("c" + std::to_string(n_++));
    fs::create_directories(d);
    testing::write_file(d / "model.safetensors", testing::st_file(f.tensors));
    testing::write_file(d / "config.json", f.config.dump(2));
    if (generation_config) testing::write_file(d / "generation_config.json", R"({"bos_token_id": 1, "eos_token_id": 2})");
    return d;
  }
  json validate(const fs::path& d) {
    auto r = run_moeckpt({"validate", d.string(), "--json"});
    rc_ = r.exit_code;
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
    return json::parse(r.out);
  }
  int map_rc(const fs::path& d) { return run_moeckpt({"map", d.string(), "--json"}).exit_code; }

  // The finding with this code naming this tensor (or file suffix), or null.
  static json find(const json& doc, const std::string& code, const std::string& tensor = {}) {
    for (const auto& f : doc["findings"])
      if (f["code"] == code && (tensor.empty() || f["tensor"] == tensor)) return f;
    return nullptr;
  }
  static std::set<std::string> error_codes(const json& doc) {
    std::set<std::string> s;
    for (const auto& f : doc["findings"])
      if (f["severity"] == "error") s.insert(f["code"].get<std::string>());
    return s;
  }
  // validate fails with exactly `code` (on `tensor`) and map agrees; the clean twin passes both.
  void expect_error(const Fixture& bad, const Fixture& clean, const std::string& code, const std::string& tensor) {
    fs::path b = write(bad);
    json doc = validate(b);
    EXPECT_EQ(rc_, 1) << doc.dump(2);
    EXPECT_FALSE(find(doc, code, tensor).is_null()) << code << " on " << tensor << ": " << doc.dump(2);
    EXPECT_EQ(error_codes(doc), std::set<std::string>{code}) << doc.dump(2);
    fs::path c = write(clean);
    json ok = validate(c);
    EXPECT_EQ(rc_, 0) << ok.dump(2);
    EXPECT_TRUE(ok["findings"].empty()) << ok.dump(2);
    EXPECT_EQ(map_rc(c), 0);
  }

  TempDir dir_;
  int n_ = 0;
  int rc_ = -1;
};

TEST_F(ValidateParams, TheCleanFixturesPassAndMapEveryParameter) {
  for (const char* name : {"deepseek_v3", "qwen3_moe"}) {
    fs::path d = testing::testdata(std::string("models/") + name);
    json doc = validate(d);
    EXPECT_EQ(rc_, 0) << name << ": " << doc.dump(2);
    auto r = run_moeckpt({"map", d.string(), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    json m = json::parse(r.out);
    EXPECT_TRUE(m["parameter_model"]);
    EXPECT_TRUE(m["unfilled"].empty());
    // Every parameter has a filler; every filler is a checkpoint tensor.
    for (const auto& p : m["parameters"]) EXPECT_FALSE(p["filled_by"].empty()) << p;
  }
}

TEST_F(ValidateParams, MissingUntiedLmHead) {
  for (const char* name : {"deepseek_v3", "qwen3_moe"}) {
    Fixture clean = load(name), bad = clean;
    ASSERT_EQ(clean.config["tie_word_embeddings"], false);
    drop(bad, "lm_head.weight");
    expect_error(bad, clean, "E-MAP-UNFILLED", "lm_head.weight");
    EXPECT_EQ(map_rc(write(bad)), 1);
  }
}

TEST_F(ValidateParams, TiedLmHeadThatTheEngineIgnoresIsAWarning) {
  Fixture f = load("qwen3_moe");
  f.config["tie_word_embeddings"] = true;
  json doc = validate(write(f));
  EXPECT_EQ(rc_, 0) << doc.dump(2);
  json w = find(doc, "W-PARAM-IGNORED", "lm_head.weight");
  ASSERT_FALSE(w.is_null()) << doc.dump(2);
  EXPECT_EQ(w["severity"], "warning");
  EXPECT_NE(w["message"].get<std::string>().find("tie_word_embeddings"), std::string::npos);
  // Tied and absent: nothing to say. DeepSeek's class never ties: its lm_head stays required.
  drop(f, "lm_head.weight");
  EXPECT_TRUE(validate(write(f))["findings"].empty());
  Fixture ds = load("deepseek_v3");
  ds.config["tie_word_embeddings"] = true;
  drop(ds, "lm_head.weight");
  EXPECT_FALSE(find(validate(write(ds)), "E-MAP-UNFILLED", "lm_head.weight").is_null());
}

TEST_F(ValidateParams, NoauxRouterWithoutItsCorrectionBias) {
  Fixture clean = load("deepseek_v3"), bad = clean;
  drop(bad, "model.layers.1.mlp.gate.e_score_correction_bias");
  expect_error(bad, clean, "E-MAP-UNFILLED", "model.layers.1.mlp.gate.e_score_correction_bias");
  // A greedy router has no bias: the same tensors are then complete.
  bad.config["topk_method"] = "greedy";
  EXPECT_TRUE(find(validate(write(bad)), "E-MAP-UNFILLED").is_null());
}

TEST_F(ValidateParams, MtpTensorsUnderZeroNextnLayers) {
  // The fixture's MTP layer (layer 2, as DeepSeek-V3 releases carry one): a full decoder layer
  // plus enorm/hnorm/eh_proj/shared_head, shapes as the main layers have them.
  Fixture f = load("deepseek_v3");
  std::vector<T> mtp;
  for (const auto& t : f.tensors)
    if (t.name.starts_with("model.layers.1.") && t.name.find(".experts.") == std::string::npos)
      mtp.push_back({"model.layers.2." + t.name.substr(15), t.dtype, t.shape});
  for (const char* n : {"enorm", "hnorm", "shared_head.norm"}) mtp.push_back({std::string("model.layers.2.") + n + ".weight", "BF16", {64}});
  mtp.push_back({"model.layers.2.eh_proj.weight", "BF16", {64, 128}});
  Fixture clean = f;
  clean.tensors.insert(clean.tensors.end(), mtp.begin(), mtp.end());
  ASSERT_EQ(clean.config["num_nextn_predict_layers"], 1);
  Fixture bad = clean;
  bad.config["num_nextn_predict_layers"] = 0;
  expect_error(bad, clean, "E-PARAM-UNEXPECTED", "model.layers.2.eh_proj.weight");
  EXPECT_EQ(map_rc(write(bad)), 1);
  // With the MTP layer incomplete, what it lacks is named.
  drop(clean, "model.layers.2.hnorm.weight");
  EXPECT_FALSE(find(validate(write(clean)), "E-MAP-UNFILLED", "model.layers.2.hnorm.weight").is_null());
}

TEST_F(ValidateParams, NormOfHalfTheHiddenSize) {
  Fixture clean = load("qwen3_moe"), bad = clean;
  tensor(bad, "model.layers.1.post_attention_layernorm.weight").shape = {32};
  expect_error(bad, clean, "E-PARAM-SHAPE", "model.layers.1.post_attention_layernorm.weight");
  std::string m = find(validate(write(bad)), "E-PARAM-SHAPE")["message"];
  EXPECT_NE(m.find("[64] = [hidden_size]"), std::string::npos) << m;
  // MLA: kv_b_proj's rows are heads x (qk_nope_head_dim + v_head_dim).
  Fixture ds = load("deepseek_v3"), dsbad = ds;
  ds.config["v_head_dim"] = 8;
  EXPECT_FALSE(find(validate(write(ds)), "E-PARAM-SHAPE", "model.layers.0.self_attn.kv_b_proj.weight").is_null());
  EXPECT_TRUE(find(validate(write(dsbad)), "E-PARAM-SHAPE").is_null());
}

TEST_F(ValidateParams, NormStoredAsFp8) {
  Fixture clean = load("qwen3_moe"), bad = clean;
  tensor(bad, "model.norm.weight").dtype = "F8_E4M3";
  fs::path d = write(bad);
  json doc = validate(d);
  EXPECT_EQ(rc_, 1);
  EXPECT_FALSE(find(doc, "E-PARAM-DTYPE", "model.norm.weight").is_null()) << doc.dump(2);
  EXPECT_TRUE(find(validate(write(clean)), "E-PARAM-DTYPE").is_null());
}

TEST_F(ValidateParams, LeftoverFp8QuantizationConfigOverBf16Weights) {
  Fixture clean = load("qwen3_moe"), bad = clean;
  bad.config["quantization_config"] = {{"quant_method", "fp8"}, {"activation_scheme", "dynamic"}, {"weight_block_size", {128, 128}}};
  fs::path d = write(bad);
  json doc = validate(d);
  EXPECT_EQ(rc_, 1);
  EXPECT_FALSE(find(doc, "E-QUANT-CONFIG-UNUSED").is_null()) << doc.dump(2);
  EXPECT_TRUE(find(validate(write(clean)), "E-QUANT-CONFIG-UNUSED").is_null());
}

TEST_F(ValidateParams, GenerationConfigMissingIsAWarning) {
  Fixture f = load("qwen3_moe");
  json doc = validate(write(f, /*generation_config=*/false));
  EXPECT_EQ(rc_, 0);
  json w = find(doc, "W-GENCONFIG-MISSING");
  ASSERT_FALSE(w.is_null()) << doc.dump(2);
  EXPECT_EQ(w["severity"], "warning");
  EXPECT_TRUE(find(validate(write(f)), "W-GENCONFIG-MISSING").is_null());
}

TEST_F(ValidateParams, TokenIdsOutsideTheVocabulary) {
  Fixture f = load("qwen3_moe");  // vocab 128, embedding [128, 64]
  fs::path d = write(f);
  testing::write_file(d / "generation_config.json", R"({"eos_token_id": [2, 128]})");
  json doc = validate(d);
  EXPECT_EQ(rc_, 1);
  json e = find(doc, "E-TOKEN-ID-RANGE");
  ASSERT_FALSE(e.is_null()) << doc.dump(2);
  EXPECT_TRUE(e["file"].get<std::string>().ends_with("generation_config.json")) << e;
  EXPECT_NE(e["message"].get<std::string>().find("128 rows of model.embed_tokens.weight"), std::string::npos) << e;
  testing::write_file(d / "generation_config.json", R"({"eos_token_id": [2, 127]})");
  EXPECT_TRUE(find(validate(d), "E-TOKEN-ID-RANGE").is_null());
  Fixture g = f;
  g.config["bos_token_id"] = 500;
  EXPECT_FALSE(find(validate(write(g)), "E-TOKEN-ID-RANGE").is_null());
  testing::write_file(d / "generation_config.json", "{\"eos_token_id\": ");
  EXPECT_FALSE(find(validate(d), "E-GENCONFIG-INVALID").is_null());
}

TEST_F(ValidateParams, TokenizerFiles) {
  Fixture f = load("qwen3_moe");
  fs::path d = write(f);
  // A BPE vocabulary of 3 tokens and an added token at id 127: inside the 128 rows.
  auto tokenizer = [](int added) {
    return R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2}}, "added_tokens": [{"id": )" + std::to_string(added) +
           R"(, "content": "<eos>"}]})";
  };
  testing::write_file(d / "tokenizer.json", tokenizer(127));
  testing::write_file(d / "tokenizer_config.json", R"({"chat_template": "{{ messages }}"})");
  json ok = validate(d);
  EXPECT_TRUE(ok["findings"].empty()) << ok.dump(2);
  testing::write_file(d / "tokenizer.json", tokenizer(200));
  json big = validate(d);
  EXPECT_EQ(rc_, 1);
  EXPECT_FALSE(find(big, "E-TOKENIZER-VOCAB").is_null()) << big.dump(2);
  testing::write_file(d / "tokenizer.json", "[1, 2");
  EXPECT_FALSE(find(validate(d), "E-TOKENIZER-INVALID").is_null());
  testing::write_file(d / "tokenizer.json", tokenizer(127));
  testing::write_file(d / "tokenizer_config.json", R"({"model_max_length": 4096})");
  json w = validate(d);
  EXPECT_EQ(rc_, 0);
  EXPECT_FALSE(find(w, "W-CHAT-TEMPLATE-MISSING").is_null()) << w.dump(2);
  testing::write_file(d / "chat_template.jinja", "{{ messages }}");
  EXPECT_TRUE(find(validate(d), "W-CHAT-TEMPLATE-MISSING").is_null());
}

TEST_F(ValidateParams, UnknownArchitectureIsAnErrorAsMapRefusesIt) {
  Fixture f = load("qwen3_moe");
  f.config["architectures"] = {"SomeFutureMoeForConditionalGeneration"};  // (GLM-4.5V was this example before it had an entry)
  f.config["model_type"] = "some_future_moe";
  fs::path d = write(f);
  json doc = validate(d);
  EXPECT_EQ(rc_, 1);
  EXPECT_FALSE(find(doc, "E-ARCH-UNKNOWN").is_null()) << doc.dump(2);
  EXPECT_EQ(map_rc(d), 3);
}

}  // namespace
}  // namespace moeckpt
