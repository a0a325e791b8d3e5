// validate's finding codes that the other CLI tests leave out, through the real binary: for
// each, an input that triggers it (code, severity, file and tensor pinned) and a near-identical
// one that does not. Last, the rule that keeps it so: every code man/moeckpt-validate.1
// documents must be named by a CLI test or a golden file.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "loader/zip_builder.h"
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

// ---- PyTorch zip archives (pickle opcodes as in tests/loader/torch_reader_test.cpp) ----------

std::string u32le(uint32_t v) {
  std::string s;
  for (int k = 0; k < 4; ++k) s += static_cast<char>((v >> (8 * k)) & 0xFF);
  return s;
}
std::string pstr(std::string_view t) { return "X" + u32le(static_cast<uint32_t>(t.size())) + std::string(t); }
std::string pint(int32_t v) { return "J" + u32le(static_cast<uint32_t>(v)); }

// {name: F32[len] over storage "0", which holds 4 floats}.
std::string state_dict(const std::string& name, int32_t len = 4) {
  const std::string od = "ccollections\nOrderedDict\n)R";
  return "\x80\x02" + od + "(" + pstr(name) + "ctorch._utils\n_rebuild_tensor_v2\n((" + pstr("storage") +
         "ctorch\nFloatStorage\n" + pstr("0") + pstr("cpu") + pint(4) + "tQ" + pint(0) + "(" + pint(len) + "t(" + pint(1) +
         "t\x89" + od + "tRu.";
}

// The storage's 16 bytes are distinctive so a test can find them in the archive and damage them.
const std::string kStorage = "0123456789abcdef";

std::string archive(const std::string& pkl) {
  return testing::build_zip({{"archive/data.pkl", pkl}, {"archive/byteorder", "little"}, {"archive/data/0", kStorage},
                             {"archive/version", "3\n"}});
}

// ---- The fixture -----------------------------------------------------------------------------

class ValidateCodes : public ::testing::Test {
 protected:
  fs::path fresh() {
    fs::path d = dir_ / ("c" + std::to_string(n_++));
    fs::create_directories(d);
    return d;
  }
  // validate's JSON for path; exit code in last_rc_.
  json run(const fs::path& path, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"validate", path.string(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_moeckpt(args);
    last_rc_ = r.exit_code;
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << "exit " << r.exit_code << ": " << r.err;
    return r.out.empty() ? json::object({{"findings", json::array()}}) : json::parse(r.out);
  }
  json check(const std::vector<T>& ts, const json& config, const std::vector<std::string>& extra = {}) {
    fs::path d = fresh();
    testing::write_file(d / "model.safetensors", st_file(ts));
    if (!config.is_null()) {
      testing::write_file(d / "config.json", config.dump());
      testing::write_file(d / "generation_config.json", "{}");  // as every released checkpoint has
    }
    return run(d, extra);
  }
  static std::set<std::string> codes(const json& doc) {
    std::set<std::string> s;
    for (const auto& f : doc["findings"]) s.insert(f["code"]);
    return s;
  }
  static std::set<std::string> error_codes(const json& doc) {
    std::set<std::string> s;
    for (const auto& f : doc["findings"])
      if (f["severity"] == "error") s.insert(f["code"]);
    return s;
  }
  static json finding(const json& doc, const std::string& code) {
    for (const auto& f : doc["findings"])
      if (f["code"] == code) return f;
    return nullptr;
  }
  // doc holds `code` with this severity, file ending in `file` and tensor `tensor` (null if
  // empty); and, for an error, no other error.
  void expect_only(const json& doc, const std::string& code, const std::string& file, const std::string& tensor = {}) {
    json f = finding(doc, code);
    ASSERT_FALSE(f.is_null()) << code << " missing: " << doc.dump(2);
    const bool err = code[0] == 'E';
    EXPECT_EQ(f["severity"], err ? "error" : "warning") << f;
    ASSERT_TRUE(f["file"].is_string()) << f;
    EXPECT_TRUE(f["file"].get<std::string>().ends_with(file)) << "want file ..." << file << ": " << f;
    EXPECT_EQ(f["tensor"], tensor.empty() ? json(nullptr) : json(tensor)) << f;
    if (err) {
      EXPECT_EQ(error_codes(doc), std::set<std::string>{code}) << doc.dump(2);
      EXPECT_EQ(last_rc_, 1);
      EXPECT_FALSE(doc["ok"]);
    } else {
      EXPECT_TRUE(error_codes(doc).empty()) << doc.dump(2);
      EXPECT_EQ(last_rc_, 0);
    }
  }
  // The clean twin: no such code, and no error at all.
  void expect_clean(const json& doc, const std::string& code) {
    EXPECT_FALSE(codes(doc).count(code)) << doc.dump(2);
    EXPECT_TRUE(error_codes(doc).empty()) << doc.dump(2);
    EXPECT_EQ(last_rc_, 0);
  }

  TempDir dir_;
  int n_ = 0;
  int last_rc_ = -1;
};

// ---- Malformed safetensors shards ------------------------------------------------------------

// The code each case of tests/malformed_cases.cpp must be reported as.
const std::map<std::string, std::string>& malformed_code() {
  static const std::map<std::string, std::string> m = {
      {"too_small", "E-HEADER"},          {"length_past_end", "E-HEADER"},        {"length_over_limit", "E-HEADER"},
      {"not_utf8", "E-HEADER"},           {"not_json", "E-HEADER"},               {"not_object", "E-HEADER"},
      {"entry_not_object", "E-TENSOR-ENTRY"}, {"missing_dtype", "E-TENSOR-ENTRY"}, {"negative_shape", "E-TENSOR-ENTRY"},
      {"float_shape", "E-TENSOR-ENTRY"},  {"shape_overflow", "E-TENSOR-ENTRY"},   {"unknown_dtype", "E-DTYPE-UNKNOWN"},
      {"size_mismatch", "E-SIZE-MISMATCH"}, {"subbyte_odd", "E-SIZE-MISMATCH"},   {"end_before_begin", "E-OFFSETS"},
      {"overlap", "E-OFFSETS"},           {"hole", "E-OFFSETS"},                  {"out_of_bounds", "E-OFFSETS"},
      {"trailing_bytes", "E-OFFSETS"},    {"offsets_wrong_arity", "E-OFFSETS"},   {"duplicate_name", "E-DUPLICATE-NAME"},
      {"metadata_not_string", "E-METADATA"},
  };
  return m;
}

class ValidateCodesMalformed : public ValidateCodes {
 protected:
  // Every malformed case mapped to `code`: as a.safetensors beside a sound b.safetensors, it is
  // that error on a.safetensors and nothing else; with a sound a.safetensors, no error at all.
  void expect_code(const std::string& code) {
    int seen = 0;
    for (const auto& c : testing::malformed_safetensors_cases()) {
      auto it = malformed_code().find(c.name);
      if (it == malformed_code().end() || it->second != code) continue;
      SCOPED_TRACE(c.name);
      ++seen;
      fs::path d = fresh();
      testing::write_file(d / "a.safetensors", c.bytes);
      testing::write_file(d / "b.safetensors", st_file({{"w", "BF16", {2}}}));
      json doc = run(d);
      json f = finding(doc, code);
      ASSERT_FALSE(f.is_null()) << doc.dump(2);
      EXPECT_EQ(f["severity"], "error");
      EXPECT_TRUE(f["file"].get<std::string>().ends_with("a.safetensors")) << f;
      EXPECT_EQ(error_codes(doc), std::set<std::string>{code}) << doc.dump(2);
      EXPECT_EQ(last_rc_, 1);
    }
    EXPECT_GT(seen, 0) << "no malformed case maps to " << code;
    fs::path d = fresh();
    testing::write_file(d / "a.safetensors", st_file({{"v", "F32", {2}}}));
    testing::write_file(d / "b.safetensors", st_file({{"w", "BF16", {2}}}));
    expect_clean(run(d), code);
  }
};

TEST_F(ValidateCodesMalformed, EveryMalformedCaseHasACode) {
  for (const auto& c : testing::malformed_safetensors_cases()) EXPECT_TRUE(malformed_code().count(c.name)) << c.name;
}
TEST_F(ValidateCodesMalformed, Header) { expect_code("E-HEADER"); }
TEST_F(ValidateCodesMalformed, TensorEntry) { expect_code("E-TENSOR-ENTRY"); }
TEST_F(ValidateCodesMalformed, DtypeUnknown) { expect_code("E-DTYPE-UNKNOWN"); }
TEST_F(ValidateCodesMalformed, SizeMismatch) { expect_code("E-SIZE-MISMATCH"); }
TEST_F(ValidateCodesMalformed, Offsets) { expect_code("E-OFFSETS"); }
TEST_F(ValidateCodesMalformed, DuplicateNameInOneHeader) { expect_code("E-DUPLICATE-NAME"); }
TEST_F(ValidateCodesMalformed, Metadata) { expect_code("E-METADATA"); }

TEST_F(ValidateCodes, DuplicateNameAcrossShards) {
  fs::path d = fresh();
  testing::write_file(d / "s1.safetensors", st_file({{"a", "BF16", {2}}}));
  testing::write_file(d / "s2.safetensors", st_file({{"a", "BF16", {2}}, {"b", "BF16", {2}}}));
  expect_only(run(d), "E-DUPLICATE-NAME", "s2.safetensors", "a");  // the later file holds the copy
  testing::write_file(d / "s2.safetensors", st_file({{"b", "BF16", {2}}}));
  expect_clean(run(d), "E-DUPLICATE-NAME");
}

// ---- Files and the shard index ---------------------------------------------------------------

TEST_F(ValidateCodes, FileUnreadableWhenTheIndexNamesADirectory) {
  // Running as root defeats permission bits; a directory where a shard should be fails anyway.
  fs::path d = fresh();
  testing::write_file(d / "s1.safetensors", st_file({{"a", "BF16", {2}}}));
  fs::create_directories(d / "s2.safetensors");
  testing::write_file(d / "model.safetensors.index.json", R"({"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}})");
  expect_only(run(d), "E-FILE-UNREADABLE", "s2.safetensors");
  fs::remove(d / "s2.safetensors");
  testing::write_file(d / "s2.safetensors", st_file({{"b", "BF16", {2}}}));
  expect_clean(run(d), "E-FILE-UNREADABLE");
}

TEST_F(ValidateCodes, IndexInvalidFallsBackToTheShards) {
  fs::path d = fresh();
  testing::write_file(d / "s1.safetensors", st_file({{"a", "BF16", {2}}}));
  // (index, the tensor its fault is about)
  for (auto [bad, tensor] : std::vector<std::pair<std::string, std::string>>{
           {"[1]", ""}, {R"({"weight_map":{}})", ""}, {R"({"weight_map":{"a":5}})", "a"}}) {
    SCOPED_TRACE(bad);
    testing::write_file(d / "model.safetensors.index.json", bad);
    json doc = run(d);
    expect_only(doc, "E-INDEX-INVALID", "model.safetensors.index.json", tensor);
    EXPECT_EQ(doc["summary"]["tensors"], 1) << "the directory's shards are still checked";
  }
  testing::write_file(d / "model.safetensors.index.json", R"({"weight_map":{"a":"s1.safetensors"}})");
  expect_clean(run(d), "E-INDEX-INVALID");
}

TEST_F(ValidateCodes, IndexPathOutsideTheDirectory) {
  fs::path d = fresh();
  testing::write_file(d / "s1.safetensors", st_file({{"a", "BF16", {2}}}));
  for (std::string shard : {"../" + d.filename().string() + "/s1.safetensors", (d / "s1.safetensors").string()}) {
    SCOPED_TRACE(shard);
    testing::write_file(d / "model.safetensors.index.json", json{{"weight_map", {{"a", shard}}}}.dump());
    expect_only(run(d), "E-INDEX-PATH", "model.safetensors.index.json", "a");
  }
  testing::write_file(d / "model.safetensors.index.json", R"({"weight_map":{"a":"s1.safetensors"}})");
  expect_clean(run(d), "E-INDEX-PATH");
}

// ---- PyTorch files ---------------------------------------------------------------------------

class ValidateCodesTorch : public ValidateCodes {
 protected:
  // a.bin (the file under test) beside a sound b.bin, which is read whatever a.bin holds.
  json run_pair(const std::string& a_bin) {
    fs::path d = fresh();
    testing::write_file(d / "a.bin", a_bin);
    testing::write_file(d / "b.bin", archive(state_dict("x")));
    json doc = run(d);
    EXPECT_EQ(doc["summary"]["tensors"], a_bin == archive(state_dict("w")) ? 2 : 1) << doc.dump(2);
    return doc;
  }
};

TEST_F(ValidateCodesTorch, Zip) {
  const std::string good = archive(state_dict("w"));
  expect_only(run_pair(good.substr(0, good.size() / 2)), "E-ZIP", "a.bin");  // cut short: no central directory
  expect_clean(run_pair(good), "E-ZIP");
}

TEST_F(ValidateCodesTorch, PickleRefusesAGlobalOrAnOpcode) {
  expect_only(run_pair(archive("\x80\x02" "cos\nsystem\n(" + pstr("id") + "tR.")), "E-PICKLE", "a.bin");
  expect_only(run_pair(archive("\x80\x02(i__builtin__\nobject\n.")), "E-PICKLE", "a.bin");  // INST opcode
  expect_clean(run_pair(archive(state_dict("w"))), "E-PICKLE");
}

TEST_F(ValidateCodesTorch, TorchLegacyAndInconsistent) {
  expect_only(run_pair(testing::read_file(testing::testdata("torchbin/legacy.bin"))), "E-TORCH", "a.bin");
  expect_only(run_pair(archive(state_dict("w", 5))), "E-TORCH", "a.bin", "w");  // 5 floats in a 4-float storage
  expect_clean(run_pair(archive(state_dict("w"))), "E-TORCH");
}

TEST_F(ValidateCodesTorch, DataUnreadableWhenAStorageFailsItsCrc) {
  std::string bytes = archive(state_dict("w"));
  const size_t at = bytes.find(kStorage);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 5] ^= 0x10;
  fs::path d = fresh();
  testing::write_file(d / "a.bin", bytes);
  // Opening reads no storage: only --data finds the damage.
  expect_clean(run(d / "a.bin"), "E-DATA-UNREADABLE");
  json doc = run(d / "a.bin", {"--data"});
  expect_only(doc, "E-DATA-UNREADABLE", "a.bin", "w");
  EXPECT_FALSE(doc["summary"]["values"].contains("w")) << "an unreadable tensor has no statistics";
  testing::write_file(d / "a.bin", archive(state_dict("w")));
  expect_clean(run(d / "a.bin", {"--data"}), "E-DATA-UNREADABLE");
}

// ---- Quantization scales (no config.json: only the scan's findings and W-CONFIG-MISSING) -----

TEST_F(ValidateCodes, ScaleMissing) {
  expect_only(check({{"x.weight", "F8_E4M3", {4, 4}}}, nullptr), "E-SCALE-MISSING", "model.safetensors", "x.weight");
  expect_only(check({{"x.weight", "F4", {4, 64}}}, nullptr), "E-SCALE-MISSING", "model.safetensors", "x.weight");
  expect_only(check({{"e.gate_up_proj_blocks", "U8", {2, 8, 2, 16}}}, nullptr), "E-SCALE-MISSING", "model.safetensors",
              "e.gate_up_proj_blocks");
  expect_clean(check({{"x.weight", "F8_E4M3", {4, 4}}, {"x.weight_scale_inv", "F32", {1, 1}}}, nullptr), "E-SCALE-MISSING");
}

// DeepSeek's own ".scale" of an FP8 block-scaled weight may be E8M0 (V4-Flash's ue8m0 linear
// scales); under vLLM's name weight_scale_inv it must stay a float.
TEST_F(ValidateCodes, DeepSeekScaleMayBeE8m0) {
  expect_clean(check({{"x.weight", "F8_E4M3", {4, 4}}, {"x.scale", "F8_E8M0", {1, 1}}}, nullptr), "E-SCALE-MISSING");
  expect_clean(check({{"x.weight", "F8_E4M3", {4, 4}}, {"x.scale", "F8_E8M0", {1, 1}}}, nullptr), "E-SCALE-DTYPE");
  expect_only(check({{"x.weight", "F8_E4M3", {4, 4}}, {"x.weight_scale_inv", "F8_E8M0", {1, 1}}}, nullptr), "E-SCALE-DTYPE",
              "model.safetensors", "x.weight_scale_inv");
}

TEST_F(ValidateCodes, ScaleDtype) {
  json doc = check({{"x.weight", "F8_E4M3", {4, 4}}, {"x.weight_scale_inv", "I32", {1, 1}}}, nullptr);
  expect_only(doc, "E-SCALE-DTYPE", "model.safetensors", "x.weight_scale_inv");
  EXPECT_FALSE(codes(doc).count("W-SCALE-ORPHAN")) << "a refused scale is not also an orphan";
  expect_only(check({{"x.weight", "F8_E4M3", {4, 4}}, {"x.weight_scale", "I32", {1}}}, nullptr), "E-SCALE-DTYPE",
              "model.safetensors", "x.weight_scale");
  expect_only(check({{"e.down_proj_blocks", "U8", {2, 8, 2, 16}}, {"e.down_proj_scales", "F32", {2, 8, 2}}}, nullptr),
              "E-SCALE-DTYPE", "model.safetensors", "e.down_proj_scales");
  expect_clean(check({{"x.weight", "F8_E4M3", {4, 4}}, {"x.weight_scale_inv", "BF16", {1, 1}}}, nullptr), "E-SCALE-DTYPE");
}

TEST_F(ValidateCodes, ScaleSqueezed) {
  // Fused experts [E, out, in] with in <= 128: the block grid [2, 2, 1] saved without its last dim.
  expect_only(check({{"e.weight", "F8_E4M3", {2, 256, 128}}, {"e.weight_scale_inv", "F32", {2, 2}}}, nullptr),
              "W-SCALE-SQUEEZED", "model.safetensors", "e.weight_scale_inv");
  // ... or with a size-1 dim added.
  expect_only(check({{"e.weight", "F8_E4M3", {256, 256}}, {"e.weight_scale_inv", "F32", {1, 2, 2}}}, nullptr),
              "W-SCALE-SQUEEZED", "model.safetensors", "e.weight_scale_inv");
  json clean = check({{"e.weight", "F8_E4M3", {2, 256, 128}}, {"e.weight_scale_inv", "F32", {2, 2, 1}}}, nullptr);
  expect_clean(clean, "W-SCALE-SQUEEZED");
  EXPECT_EQ(codes(clean), std::set<std::string>{"W-CONFIG-MISSING"}) << clean.dump(2);
  // Same element count in another arrangement is no squeeze but a refusal.
  json bad = check({{"e.weight", "F8_E4M3", {2, 256, 128}}, {"e.weight_scale_inv", "F32", {4, 1}}}, nullptr);
  EXPECT_FALSE(codes(bad).count("W-SCALE-SQUEEZED")) << bad.dump(2);
  EXPECT_TRUE(codes(bad).count("E-SCALE-SHAPE")) << bad.dump(2);
}

TEST_F(ValidateCodes, ScaleFlattened) {
  expect_only(check({{"g.weight", "F8_E4M3", {256, 256}}, {"g.weight_scale_inv", "F32", {4}}}, nullptr), "W-SCALE-FLATTENED",
              "model.safetensors", "g.weight_scale_inv");
  expect_clean(check({{"g.weight", "F8_E4M3", {256, 256}}, {"g.weight_scale_inv", "F32", {2, 2}}}, nullptr),
               "W-SCALE-FLATTENED");
}

TEST_F(ValidateCodes, ScaleOrphan) {
  // The weight was dequantized (or dropped) but its scale stayed.
  expect_only(check({{"x.weight", "BF16", {4, 4}}, {"x.weight_scale_inv", "F32", {1, 1}}}, nullptr), "W-SCALE-ORPHAN",
              "model.safetensors", "x.weight_scale_inv");
  expect_only(check({{"y.input_scale", "F32", {1}}}, nullptr), "W-SCALE-ORPHAN", "model.safetensors", "y.input_scale");
  expect_clean(check({{"x.weight", "F8_E4M3", {4, 4}}, {"x.weight_scale_inv", "F32", {1, 1}}}, nullptr), "W-SCALE-ORPHAN");
}

// ---- config.json, mapping and DeepSeek V4's expert_dtype ------------------------------------

// The deepseek_v4 fixture's tensors; with fp8_experts, its routed experts as FP8 with F32 .scale
// blocks (one 128x128 block each), as DeepSeek's FP8 expert checkpoints store them.
std::vector<T> dsv4_tensors(const std::string& experts = "BF16") {
  const std::string bytes = testing::read_file(testing::testdata("models/deepseek_v4/model.safetensors"));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<unsigned char>(bytes[static_cast<size_t>(i)])} << (8 * i);
  const json h = json::parse(bytes.substr(8, n));
  static const std::regex routed(R"(.*\.ffn\.experts\.\d+\.w[123]\.weight)");
  std::vector<T> ts;
  for (const auto& item : h.items()) {
    const std::string& name = item.key();
    if (name == "__metadata__") continue;
    T t{name, item.value()["dtype"].get<std::string>(), item.value()["shape"].get<std::vector<uint64_t>>()};
    if (experts != "BF16" && std::regex_match(name, routed)) {
      const std::string stem = name.substr(0, name.size() - 6);
      if (experts == "F8_E4M3") {
        t.dtype = "F8_E4M3";
        ts.push_back({stem + "scale", "F32", {1, 1}});
      } else {  // packed FP4: two values per I8, one E8M0 scale per 32 values
        t.dtype = "I8";
        t.shape.back() /= 2;
        ts.push_back({stem + "scale", "F8_E8M0", {t.shape[0], t.shape[1] * 2 / 32}});
      }
    }
    ts.push_back(std::move(t));
  }
  return ts;
}

json dsv4_config() { return json::parse(testing::read_file(testing::testdata("models/deepseek_v4/config.json"))); }

TEST_F(ValidateCodes, SharedExpertsOver64) {
  json c = dsv4_config();
  c["n_shared_experts"] = 65;
  json doc = check(dsv4_tensors(), c);
  json w = finding(doc, "W-SHARED-EXPERTS");
  ASSERT_FALSE(w.is_null()) << doc.dump(2);
  EXPECT_EQ(w["file"].get<std::string>().ends_with("config.json"), true) << w.dump();
  // The tensors hold one shared expert's width: deepseek_v4's parameter model says so as well.
  EXPECT_FALSE(finding(doc, "E-PARAM-SHAPE").is_null()) << doc.dump(2);
  c["n_shared_experts"] = 64;
  EXPECT_TRUE(finding(check(dsv4_tensors(), c), "W-SHARED-EXPERTS").is_null());
}

TEST_F(ValidateCodes, ExpertDtypeInvalid) {
  json c = dsv4_config();
  c["expert_dtype"] = "int4";
  json doc = check(dsv4_tensors(), c);
  json f = finding(doc, "E-EXPERT-DTYPE-INVALID");
  ASSERT_FALSE(f.is_null()) << doc.dump(2);
  EXPECT_EQ(f["severity"], "error");
  EXPECT_TRUE(f["file"].get<std::string>().ends_with("config.json")) << f;
  // The mapping needs expert_dtype, so it cannot run either: E-MAP-ABORTED says what is lost.
  EXPECT_EQ(error_codes(doc), (std::set<std::string>{"E-EXPERT-DTYPE-INVALID", "E-MAP-ABORTED"})) << doc.dump(2);
  for (const char* ok : {"fp4", "fp8"}) {
    c["expert_dtype"] = ok;
    expect_clean(check(dsv4_tensors(), c), "E-EXPERT-DTYPE-INVALID");
  }
}

TEST_F(ValidateCodes, MapAbortedByAMalformedMoeLayerKey) {
  std::vector<T> ts = testing::qwen3_moe_tensors(2, 2);
  json c = testing::qwen3_moe_config(2, 2);
  c["decoder_sparse_step"] = 0;
  json doc = check(ts, c);
  expect_only(doc, "E-MAP-ABORTED", "config.json");
  EXPECT_NE(finding(doc, "E-MAP-ABORTED")["message"].get<std::string>().find("decoder_sparse_step"), std::string::npos);
  c["decoder_sparse_step"] = 1;
  c["mlp_only_layers"] = {"x"};
  expect_only(check(ts, c), "E-MAP-ABORTED", "config.json");
  c["mlp_only_layers"] = json::array();
  expect_clean(check(ts, c), "E-MAP-ABORTED");
}

TEST_F(ValidateCodes, ExpertDtypeMismatchFp8ExpertsUnderFp4) {
  json c = dsv4_config();
  c["quantization_config"] = {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"}, {"weight_block_size", {128, 128}}};
  c["expert_dtype"] = "fp4";
  json doc = check(dsv4_tensors("F8_E4M3"), c);
  expect_only(doc, "E-EXPERT-DTYPE-MISMATCH", "model.safetensors", "model.layers.0.ffn.experts.0.w1.weight");
  EXPECT_NE(finding(doc, "E-EXPERT-DTYPE-MISMATCH")["message"].get<std::string>().find("set \"expert_dtype\": \"fp8\""),
            std::string::npos);
  c.erase("expert_dtype");  // absent means fp4
  expect_only(check(dsv4_tensors("F8_E4M3"), c), "E-EXPERT-DTYPE-MISMATCH", "model.safetensors",
              "model.layers.0.ffn.experts.0.w1.weight");
  c["expert_dtype"] = "fp8";
  json clean = check(dsv4_tensors("F8_E4M3"), c);
  expect_clean(clean, "E-EXPERT-DTYPE-MISMATCH");
  EXPECT_TRUE(clean["findings"].empty()) << clean.dump(2);
}

TEST_F(ValidateCodes, ExpertDtypeMismatchFp4ExpertsUnderFp8) {
  json c = dsv4_config();
  c["quantization_config"] = {{"quant_method", "mxfp4"}};
  c["expert_dtype"] = "fp8";
  expect_only(check(dsv4_tensors("I8"), c), "E-EXPERT-DTYPE-MISMATCH", "model.safetensors",
              "model.layers.0.ffn.experts.0.w1.weight");
  c["expert_dtype"] = "fp4";
  json clean = check(dsv4_tensors("I8"), c);
  expect_clean(clean, "E-EXPERT-DTYPE-MISMATCH");
  EXPECT_TRUE(clean["findings"].empty()) << clean.dump(2);
  // BF16 experts are neither: no expert_dtype is wrong for them (and without quantized tensors
  // the checkpoint carries no quantization_config).
  c.erase("quantization_config");
  expect_clean(check(dsv4_tensors(), c), "E-EXPERT-DTYPE-MISMATCH");
}

// ---- The rule itself -------------------------------------------------------------------------

TEST(ValidateCodesDocs, EveryDocumentedCodeIsTested) {
  // Codes as the man page spells them: `.B E\-SCALE\-MISSING`.
  std::set<std::string> documented;
  static const std::regex code_line(R"(^\.B ([EW](\\-[A-Z0-9]+)+)\s*$)");
  std::istringstream man(testing::read_file(testing::source_dir("man/moeckpt-validate.1")));
  for (std::string line; std::getline(man, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, code_line)) continue;
    std::string c = m[1];
    std::erase(c, '\\');
    documented.insert(c);
  }
  ASSERT_GT(documented.size(), 40u) << "the man page parser found too few codes";
  ASSERT_TRUE(documented.count("E-SCALE-MISSING"));

  // A code counts as tested where it appears quoted, as assertions and golden JSON spell it;
  // a mention in a comment does not count.
  std::string text;
  for (const auto& e : fs::directory_iterator(testing::source_dir("tests/cli")))
    if (e.path().extension() == ".cpp") text += testing::read_file(e.path());
  for (const auto& e : fs::recursive_directory_iterator(testing::source_dir("tests/golden")))
    if (e.is_regular_file() && e.path().extension() == ".json") text += testing::read_file(e.path());
  std::vector<std::string> untested;
  for (const auto& c : documented)
    if (text.find('"' + c + '"') == std::string::npos) untested.push_back(c);
  std::string list;
  for (const auto& c : untested) list += " " + c;
  EXPECT_TRUE(untested.empty()) << "documented in man/moeckpt-validate.1 but named by no CLI test or golden file:" << list;
}

}  // namespace
}  // namespace moeckpt
