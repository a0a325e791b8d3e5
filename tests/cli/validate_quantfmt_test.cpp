// The released quantized formats (testdata/quantfmt, made by testdata/generate_quant.py)
// through the real binary, each finding with a trigger and its clean twin: the fixture copied,
// one tensor dropped, reshaped or rewritten (or one config field changed), validated; the
// unchanged copy validates clean. Then what convert does with such input: one line, exit 3,
// no shard left in OUT.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using nlohmann::json;
using testing::run_moeckpt;
using testing::TempDir;

struct Stored {
  std::string dtype;
  std::vector<uint64_t> shape;
  std::string bytes;
};
using Tensors = std::map<std::string, Stored>;

Tensors read_st(const fs::path& p) {
  const std::string f = testing::read_file(p);
  uint64_t n;
  std::memcpy(&n, f.data(), 8);
  json h = json::parse(f.substr(8, n));
  Tensors t;
  for (auto& [k, v] : h.items()) {
    if (k == "__metadata__") continue;
    const uint64_t b = v["data_offsets"][0], e = v["data_offsets"][1];
    t[k] = {v["dtype"], v["shape"].get<std::vector<uint64_t>>(), f.substr(8 + n + b, e - b)};
  }
  return t;
}

std::string write_st(const Tensors& ts) {
  json h = json::object();
  std::string data;
  for (const auto& [k, t] : ts) {
    h[k] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  return testing::safetensors_bytes(h.dump(), data);
}

// The same bytes per element, another shape: data cut or zero-padded to fit.
void reshape(Stored& t, std::vector<uint64_t> shape) {
  uint64_t old_n = 1, new_n = 1;
  for (auto d : t.shape) old_n *= d;
  for (auto d : shape) new_n *= d;
  const uint64_t per = old_n ? t.bytes.size() / old_n : 1;
  t.bytes.resize(new_n * per, '\0');
  t.shape = std::move(shape);
}

class QuantFmt : public ::testing::Test {
 protected:
  // A copy of testdata/quantfmt/<fixture> with `edit` applied to its tensors and `cfg` to its
  // config.json.
  fs::path copy(const std::string& fixture, const std::function<void(Tensors&)>& edit = {},
                const std::function<void(json&)>& cfg = {}) {
    fs::path src = testing::testdata("quantfmt/" + fixture), d = dir_ / (fixture + std::to_string(n_++));
    fs::create_directories(d);
    for (const auto& e : fs::directory_iterator(src)) fs::copy_file(e.path(), d / e.path().filename());
    Tensors ts = read_st(d / "model.safetensors");
    if (edit) edit(ts);
    testing::write_file(d / "model.safetensors", write_st(ts));
    if (cfg) {
      json c = json::parse(testing::read_file(d / "config.json"));
      cfg(c);
      testing::write_file(d / "config.json", c.dump(2));
    }
    return d;
  }
  json validate(const fs::path& d) {
    auto r = run_moeckpt({"validate", d.string(), "--json"});
    last_rc_ = r.exit_code;
    return json::parse(r.out);
  }
  static std::set<std::string> error_codes(const json& doc) {
    std::set<std::string> s;
    for (const auto& f : doc["findings"])
      if (f["severity"] == "error") s.insert(f["code"]);
    return s;
  }
  // The trigger: `code` on `tensor` (the only error code besides the mapping's E-MAP-UNFILLED,
  // which a missing FP8 scale also is: the engine parameter it fills stays empty), exit 1. The
  // twin: the unchanged fixture, no error at all, exit 0.
  void expect(const std::string& fixture, const fs::path& edited, const std::string& code, const std::string& tensor) {
    json doc = validate(edited);
    EXPECT_EQ(last_rc_, 1) << doc.dump(2);
    auto errors = error_codes(doc);
    errors.erase("E-MAP-UNFILLED");
    EXPECT_EQ(errors, std::set<std::string>{code}) << doc.dump(2);
    bool named = false;
    for (const auto& f : doc["findings"]) named = named || (f["code"] == code && f["tensor"] == tensor);
    EXPECT_TRUE(named) << code << " on " << tensor << ": " << doc.dump(2);
    json twin = validate(copy(fixture));
    EXPECT_EQ(last_rc_, 0) << twin.dump(2);
    EXPECT_TRUE(error_codes(twin).empty()) << twin.dump(2);
  }
  void missing(const std::string& fixture, const std::string& drop, const std::string& tensor, const std::string& code = "E-SCALE-MISSING") {
    expect(fixture, copy(fixture, [&](Tensors& ts) { ASSERT_EQ(ts.erase(drop), 1u) << drop; }), code, tensor);
  }
  void misshapen(const std::string& fixture, const std::string& name, const std::string& code = "E-SCALE-SHAPE") {
    expect(fixture, copy(fixture, [&](Tensors& ts) {
             Stored& t = ts.at(name);
             auto s = t.shape;
             s.back() += 1;
             reshape(t, s);
           }),
           code, name);
  }

  TempDir dir_;
  int n_ = 0;
  int last_rc_ = -1;
};

const std::string kQ = "model.layers.1.mlp.experts.0.gate_proj.";
const std::string kD = "model.layers.1.mlp.experts.0.down_proj.";

TEST_F(QuantFmt, CompressedTensorsFp8MissingAndMisshapenScale) {
  missing("ct_fp8_qwen3", kQ + "weight_scale", kQ + "weight");
  misshapen("ct_fp8_qwen3", kQ + "weight_scale");
}

TEST_F(QuantFmt, CompressedTensorsNvfp4MissingAndMisshapenScales) {
  missing("ct_nvfp4_qwen3", kQ + "weight_scale", kQ + "weight_packed");
  missing("ct_nvfp4_qwen3", kQ + "weight_global_scale", kQ + "weight_packed");
  misshapen("ct_nvfp4_qwen3", kQ + "weight_scale");
}

TEST_F(QuantFmt, PackQuantizedMissingAndMisshapenScalesZerosGidx) {
  missing("ct_w4a16_qwen3", kQ + "weight_scale", kQ + "weight_packed");
  misshapen("ct_w4a16_qwen3", kQ + "weight_scale");
  missing("ct_w4a16_asym_dsv3", kQ + "weight_zero_point", kQ + "weight_packed");
  misshapen("ct_w4a16_asym_dsv3", kQ + "weight_zero_point");
  misshapen("ct_w4a16_asym_dsv3", kQ + "weight_g_idx");
  misshapen("ct_w8a16_dsv3", kD + "weight_scale");
}

TEST_F(QuantFmt, ModeloptMissingAndMisshapenScales) {
  missing("modelopt_nvfp4_dsv3", kQ + "weight_scale_2", kQ + "weight");
  misshapen("modelopt_nvfp4_dsv3", kQ + "weight_scale");
  missing("modelopt_fp8_qwen3", kQ + "weight_scale", kQ + "weight");
  // Static activations: ModelOpt exports an input_scale for every quantized linear.
  missing("modelopt_fp8_qwen3", kQ + "input_scale", kQ + "weight", "E-QUANT-INPUT-SCALE-MISSING");
}

TEST_F(QuantFmt, GptqAndAwqMissingAndMisshapenScalesAndZeros) {
  missing("gptq_qwen3", kQ + "scales", kQ + "qweight");
  misshapen("gptq_qwen3", kQ + "qzeros");
  missing("gptq_actorder_dsv3", kQ + "g_idx", kQ + "qweight");  // desc_act: g_idx required
  missing("awq_qwen3", kQ + "qzeros", kQ + "qweight");
  misshapen("awq_qwen3", kQ + "scales");
}

TEST_F(QuantFmt, StaticInputScalesOfCompressedTensors) {
  missing("ct_fp8_static_dsv3", kQ + "input_scale", kQ + "weight", "E-QUANT-INPUT-SCALE-MISSING");
  missing("ct_nvfp4_qwen3", kQ + "input_global_scale", kQ + "weight_packed", "E-QUANT-INPUT-SCALE-MISSING");
}

TEST_F(QuantFmt, IgnoredModuleWithQuantizedTensors) {
  auto d = copy("ct_w4a16_qwen3", {}, [](json& c) { c["quantization_config"]["ignore"].push_back("model.layers.1.mlp.experts.0.gate_proj"); });
  expect("ct_w4a16_qwen3", d, "E-QUANT-IGNORED", kQ + "weight_packed");
  // ModelOpt's exclude_modules are wildcards.
  auto m = copy("modelopt_nvfp4_dsv3", {}, [](json& c) { c["quantization_config"]["exclude_modules"].push_back("*.experts.0.gate_proj"); });
  expect("modelopt_nvfp4_dsv3", m, "E-QUANT-IGNORED", kQ + "weight");
}

TEST_F(QuantFmt, QuantizedModuleNoGroupTargets) {
  auto d = copy("ct_w4a16_qwen3", {}, [](json& c) {
    c["quantization_config"]["config_groups"]["group_0"]["targets"] = json::array({"re:.*self_attn.*", "re:.*layers\\.0\\..*"});
  });
  expect("ct_w4a16_qwen3", d, "E-QUANT-UNCOVERED", kQ + "weight_packed");
}

TEST_F(QuantFmt, GroupSizeThatDoesNotDivideTheInputs) {
  auto d = copy("gptq_qwen3", {}, [](json& c) { c["quantization_config"]["group_size"] = 24; });
  json doc = validate(d);
  EXPECT_EQ(last_rc_, 1);
  EXPECT_TRUE(error_codes(doc).count("E-QUANT-GROUP")) << doc.dump(2);
}

TEST_F(QuantFmt, BitsMoeckptCannotRead) {
  auto d = copy("ct_w4a16_qwen3", {}, [](json& c) { c["quantization_config"]["config_groups"]["group_0"]["weights"]["num_bits"] = 3; });
  json doc = validate(d);
  EXPECT_EQ(error_codes(doc), std::set<std::string>{"E-QUANT-BITS"}) << doc.dump(2);
}

TEST_F(QuantFmt, ConfigFieldOfTheWrongType) {
  auto d = copy("ct_w4a16_qwen3", {}, [](json& c) { c["quantization_config"]["config_groups"]["group_0"]["weights"]["group_size"] = "32"; });
  json doc = validate(d);
  EXPECT_TRUE(error_codes(doc).count("E-QUANT-CONFIG")) << doc.dump(2);
}

TEST_F(QuantFmt, ModeloptConfigFromHfQuantConfigAlone) {
  auto d = copy("modelopt_nvfp4_dsv3", {}, [](json& c) { c.erase("quantization_config"); });
  json doc = validate(d);
  EXPECT_EQ(last_rc_, 0) << doc.dump(2);
  EXPECT_TRUE(error_codes(doc).empty()) << doc.dump(2);
  auto r = run_moeckpt({"inspect", d.string(), "--json"});
  json q = json::parse(r.out)["quantization"];
  EXPECT_EQ(q["method"], "modelopt");
  EXPECT_TRUE(q["config_file"].get<std::string>().ends_with("hf_quant_config.json")) << q;
  EXPECT_EQ(q["schemes"][0]["scheme"], "nvfp4");
}

// ---- convert on bad input: one line, exit 3, nothing in OUT --------------------------------

class QuantFmtConvert : public QuantFmt {
 protected:
  void refused(const fs::path& in, const std::string& needle) {
    fs::path out = dir_ / ("out" + std::to_string(n_++));
    auto r = run_moeckpt({"convert", in.string(), out.string(), "--dequant", "bf16"});
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    bool shard = false;
    if (fs::exists(out))
      for (const auto& e : fs::directory_iterator(out)) shard = shard || e.path().extension() == ".safetensors";
    EXPECT_FALSE(shard) << r.err;
  }
};

TEST_F(QuantFmtConvert, PackedIntegersWithoutScalesAreNeverCopiedThrough) {
  refused(copy("gptq_qwen3", [](Tensors& ts) { ts.erase(kQ + "scales"); }), kQ + "qweight");
  refused(copy("ct_w4a16_qwen3", [](Tensors& ts) { ts.erase(kQ + "weight_scale"); }), kQ + "weight_packed");
}

TEST_F(QuantFmtConvert, WeightShapeThatDisagreesWithThePacking) {
  refused(copy("ct_w4a16_qwen3", [](Tensors& ts) {
            Stored& t = ts.at(kQ + "weight_shape");
            int64_t v[2] = {32, 72};
            std::memcpy(t.bytes.data(), v, 16);
          }),
          kQ + "weight_shape");
}

TEST_F(QuantFmtConvert, GroupIndexOutsideTheScales) {
  refused(copy("ct_w4a16_asym_dsv3", [](Tensors& ts) {
            Stored& t = ts.at(kQ + "weight_g_idx");
            int32_t v = 1000;
            std::memcpy(t.bytes.data() + 4, &v, 4);
          }),
          kQ + "weight_g_idx");
}

TEST_F(QuantFmtConvert, EveryFixtureDequantizesToItsReference) {
  // The whole output checkpoint, tensor for tensor, against the reference file's bf16 tensors.
  for (const char* f : {"ct_fp8_qwen3", "ct_fp8_static_dsv3", "ct_nvfp4_qwen3", "ct_w4a16_qwen3", "ct_w4a16_asym_dsv3", "ct_w8a16_dsv3",
                        "modelopt_fp8_qwen3", "modelopt_nvfp4_dsv3", "gptq_qwen3", "gptq_actorder_dsv3", "awq_qwen3"}) {
    fs::path out = dir_ / (std::string("ok_") + f);
    auto r = run_moeckpt({"convert", testing::testdata(std::string("quantfmt/") + f).string(), out.string(), "--dequant", "bf16"});
    ASSERT_EQ(r.exit_code, 0) << f << ": " << r.err;
    Tensors got = read_st(out / "model.safetensors"), ref = read_st(testing::testdata(std::string("quantfmt/") + f + ".ref.safetensors"));
    size_t compared = 0;
    for (const auto& [name, t] : ref) {
      if (name.find('@') != std::string::npos) continue;
      ASSERT_TRUE(got.count(name)) << f << " lacks " << name;
      EXPECT_EQ(got[name].dtype, t.dtype) << f << " " << name;
      EXPECT_EQ(got[name].shape, t.shape) << f << " " << name;
      EXPECT_TRUE(got[name].bytes == t.bytes) << f << " " << name;
      ++compared;
    }
    EXPECT_EQ(compared, got.size()) << f << ": the output holds tensors the reference does not";
    json cfg = json::parse(testing::read_file(out / "config.json"));
    EXPECT_FALSE(cfg.contains("quantization_config")) << f;
  }
}

// ---- validate --moe-backend megamoe ----------------------------------------------------------

class MegaMoe : public QuantFmt {
 protected:
  // A DeepSeek V4 layer of two routed experts, hidden and moe_intermediate_size 128, experts in
  // the given weight/scale layout (zero bytes: the check reads names, dtypes and shapes).
  fs::path dsv4(const std::string& wdtype, std::vector<uint64_t> wshape, const std::string& sdtype, std::vector<uint64_t> sshape,
                const std::string& expert_dtype) {
    fs::path d = dir_ / ("dsv4_" + std::to_string(n_++));
    fs::create_directories(d);
    Tensors ts;
    auto add = [&](const std::string& name, const std::string& dt, const std::vector<uint64_t>& shape) {
      uint64_t n = dt == "F32" ? 4 : 1;
      for (auto x : shape) n *= x;
      ts[name] = {dt, shape, std::string(n, '\0')};
    };
    for (int e = 0; e < 2; ++e)
      for (const char* w : {"w1", "w2", "w3"}) {
        const std::string stem = "layers.0.ffn.experts." + std::to_string(e) + "." + w;
        add(stem + ".weight", wdtype, wshape);
        add(stem + ".scale", sdtype, sshape);
      }
    testing::write_file(d / "model.safetensors", write_st(ts));
    json c = {{"architectures", {"DeepseekV4ForCausalLM"}}, {"model_type", "deepseek_v4"}, {"hidden_size", 128},
              {"moe_intermediate_size", 128}, {"n_routed_experts", 2}, {"num_experts_per_tok", 1}, {"num_hidden_layers", 1},
              {"expert_dtype", expert_dtype},
              {"quantization_config", {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"}, {"weight_block_size", {128, 128}}}}};
    testing::write_file(d / "config.json", c.dump(2));
    return d;
  }
  // The E-MOE-BACKEND findings of validate --moe-backend megamoe.
  std::vector<json> backend(const fs::path& d) {
    auto r = run_moeckpt({"validate", d.string(), "--moe-backend", "megamoe", "--json"});
    last_rc_ = r.exit_code;
    std::vector<json> out;
    const json doc = json::parse(r.out);
    for (const auto& f : doc["findings"])
      if (f["code"] == "E-MOE-BACKEND") out.push_back(f);
    return out;
  }
};

TEST_F(MegaMoe, Fp4ExpertsWithE8m0Per32Pass) {
  fs::path d = dsv4("I8", {128, 64}, "F8_E8M0", {128, 4}, "fp4");
  EXPECT_TRUE(backend(d).empty());
  json inspect = json::parse(run_moeckpt({"inspect", d.string(), "--json"}).out);
  EXPECT_EQ(inspect["moe_backends"][0]["backend"], "megamoe");
  EXPECT_TRUE(inspect["moe_backends"][0]["ok"]) << inspect["moe_backends"];
  auto e = run_moeckpt({"experts", "--config", (d / "config.json").string(), "--json"});
  EXPECT_TRUE(json::parse(e.out)["moe_backends"][0]["ok"]) << e.out;
}

TEST_F(MegaMoe, Fp8ExpertsFailNamingTheBackend) {
  auto f = backend(dsv4("F8_E4M3", {128, 128}, "F32", {1, 1}, "fp8"));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(last_rc_, 1);
  EXPECT_EQ(f[0]["severity"], "error");
  EXPECT_EQ(f[0]["tensor"], "layers.0.ffn.experts.0.w1.weight");
  EXPECT_TRUE(f[0]["message"].get<std::string>().starts_with("megamoe: expert weights are fp8-block")) << f[0];
  // The real DeepSeek V4 FP8-expert fixture, too.
  EXPECT_EQ(backend(testing::testdata("quantfmt/dsv4_fp8")).size(), 1u);
}

TEST_F(MegaMoe, ScalesPer16FailNamingTheBackend) {
  auto f = backend(dsv4("I8", {128, 64}, "F8_E8M0", {128, 8}, "fp4"));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0]["message"].get<std::string>().find("MegaMoE takes FP4 experts only"), std::string::npos) << f[0];
}

TEST_F(MegaMoe, ShapesTheKernelCannotTileFail) {
  // The generated DeepSeek V4 FP4 fixture: hidden 64, moe_intermediate_size 32.
  auto f = backend(testing::testdata("quantfmt/dsv4_fp4"));
  ASSERT_EQ(f.size(), 2u);  // w1/w3 [32, 64] and w2 [64, 32]
  for (const auto& x : f) EXPECT_NE(x["message"].get<std::string>().find("multiples of 128"), std::string::npos) << x;
  auto e = run_moeckpt({"experts", "--config", testing::testdata("quantfmt/dsv4_fp4/config.json").string(), "--json"});
  EXPECT_FALSE(json::parse(e.out)["moe_backends"][0]["ok"]) << e.out;
}

// ---- --quantize nvfp4 / fp8-tensor / fp8-channel ------------------------------------------

class QuantFmtQuantize : public QuantFmt {
 protected:
  fs::path convert(const fs::path& in, const std::vector<std::string>& op) {
    fs::path out = dir_ / ("q" + std::to_string(n_++));
    std::vector<std::string> args = {"convert", in.string(), out.string()};
    args.insert(args.end(), op.begin(), op.end());
    auto r = run_moeckpt(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }
  // Every tensor of `want` whose name ends in one of `suffixes` is in `got` with the same dtype
  // and bytes; returns how many were compared.
  static size_t same(const Tensors& want, const Tensors& got, std::initializer_list<const char*> suffixes) {
    size_t n = 0;
    for (const auto& [name, t] : want) {
      bool pick = false;
      for (const char* s : suffixes) pick = pick || name.ends_with(s);
      if (!pick) continue;
      ++n;
      EXPECT_TRUE(got.count(name)) << name;
      if (!got.count(name)) continue;
      EXPECT_EQ(got.at(name).dtype, t.dtype) << name;
      EXPECT_TRUE(got.at(name).bytes == t.bytes) << name;
    }
    return n;
  }
};

TEST_F(QuantFmtQuantize, Nvfp4ReproducesModeloptCodesAndBothScales) {
  // The fixture was quantized in torch with ModelOpt's definition; its float32 dequantization,
  // quantized again by moeckpt, gives the same E2M1 codes, E4M3 block scales and weight_scale_2.
  fs::path src = testing::testdata("quantfmt/modelopt_nvfp4_dsv3");
  fs::path q = convert(convert(src, {"--dequant", "f32"}), {"--quantize", "nvfp4"});
  Tensors want = read_st(src / "model.safetensors"), got = read_st(q / "model.safetensors");
  // 28 NVFP4 weights; 12 others: lm_head, embeddings, 9 norms, the router
  EXPECT_EQ(same(want, got, {".weight", ".weight_scale", ".weight_scale_2"}), 3u * 28 + 12);
  EXPECT_EQ(got.count(kQ + "input_scale"), 0u);  // activation scales need calibration
  json c = json::parse(testing::read_file(q / "config.json"))["quantization_config"];
  EXPECT_EQ(c["quant_method"], "modelopt");
  // Weight-only: vLLM's ModelOpt W4A16_NVFP4 method reads no input_scale (its NVFP4 one does).
  EXPECT_EQ(c["quant_algo"], "W4A16_NVFP4");
  json doc = validate(q);
  EXPECT_EQ(last_rc_, 0) << doc.dump(2);
  EXPECT_EQ(c["exclude_modules"], json::array({"lm_head", "model.layers.1.mlp.gate"}));
  // The ModelOpt sidecar of the input describes the input's quantization: not copied.
  EXPECT_FALSE(fs::exists(q / "hf_quant_config.json"));
}

TEST_F(QuantFmtQuantize, Fp8TensorReproducesModeloptFp8) {
  fs::path src = testing::testdata("quantfmt/modelopt_fp8_qwen3");
  fs::path q = convert(convert(src, {"--dequant", "f32"}), {"--quantize", "fp8-tensor"});
  Tensors want = read_st(src / "model.safetensors"), got = read_st(q / "model.safetensors");
  for (auto& [name, t] : want)
    if (name.ends_with(".weight_scale")) t.shape = {1};  // compressed-tensors' [1] for ModelOpt's scalar
  EXPECT_EQ(same(want, got, {".weight", ".weight_scale"}), 32u * 2 + 13);
  EXPECT_EQ(got.at(kQ + "weight_scale").shape, std::vector<uint64_t>{1});
  json doc = validate(q);
  EXPECT_EQ(last_rc_, 0) << doc.dump(2);
  json c = json::parse(testing::read_file(q / "config.json"))["quantization_config"];
  EXPECT_EQ(c["quant_method"], "compressed-tensors");
  EXPECT_EQ(c["config_groups"]["group_0"]["weights"]["strategy"], "tensor");
}

TEST_F(QuantFmtQuantize, Fp8ChannelAndNvfp4RoundTripsReproduceCodesAndScales) {
  fs::path src = testing::testdata("models/qwen3_moe");
  for (const char* target : {"fp8-channel", "nvfp4"}) {
    fs::path q1 = convert(src, {"--quantize", target});
    fs::path q2 = convert(convert(q1, {"--dequant", "f32"}), {"--quantize", target});
    Tensors a = read_st(q1 / "model.safetensors"), b = read_st(q2 / "model.safetensors");
    EXPECT_EQ(a.size(), b.size()) << target;
    EXPECT_EQ(same(a, b, {""}), a.size()) << target;
    auto r = run_moeckpt({"inspect", q1.string(), "--json"});
    json schemes = json::parse(r.out)["quantization"]["schemes"];
    ASSERT_EQ(schemes.size(), 1u) << target;
    EXPECT_EQ(schemes[0]["scheme"], std::string(target) == "nvfp4" ? "nvfp4" : "fp8-channel");
    EXPECT_EQ(schemes[0]["weights"], 32) << target;  // 2 layers x (4 experts x 3 + 4 attention)
  }
  for (const char* target : {"fp8-channel", "nvfp4"}) {
    json doc = validate(convert(src, {"--quantize", target}));
    EXPECT_EQ(last_rc_, 0) << target << doc.dump(2);
  }
}

TEST_F(QuantFmtQuantize, ModeloptNvfp4W4A4StillNeedsInputScales) {
  // The same weights under quant_algo NVFP4 (W4A4: activations quantized with static scales)
  // are missing their input_scale; only the weight-only W4A16_NVFP4 may go without.
  fs::path q = convert(testing::testdata("models/qwen3_moe"), {"--quantize", "nvfp4"});
  json c = json::parse(testing::read_file(q / "config.json"));
  c["quantization_config"]["quant_algo"] = "NVFP4";
  std::ofstream(q / "config.json") << c.dump(2);
  json doc = validate(q);
  EXPECT_NE(last_rc_, 0);
  EXPECT_TRUE(error_codes(doc).count("E-QUANT-INPUT-SCALE-MISSING")) << doc.dump(2);
}

}  // namespace
}  // namespace moeckpt
