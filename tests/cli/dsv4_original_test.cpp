// DeepSeek-V4 in its original release layout through the real binary: map maps every tensor
// (MTP included) and validate agrees, and the scale rule's four cases as the user meets them
// (expert_dtype fp4, fp8, absent, anything else).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using nlohmann::json;
using testing::run_moeckpt;

json map_json(const fs::path& d, int want_rc = 0) {
  auto r = run_moeckpt({"map", d.string(), "--json"});
  EXPECT_EQ(r.exit_code, want_rc) << r.out << r.err;
  return r.exit_code == 0 || r.exit_code == 1 ? json::parse(r.out) : json();
}

json validate_json(const fs::path& d, int* rc) {
  auto r = run_moeckpt({"validate", d.string(), "--json"});
  *rc = r.exit_code;
  return json::parse(r.out);
}

// The original fixture with config.json's expert_dtype replaced (null: removed).
fs::path with_expert_dtype(const testing::TempDir& tmp, const json& value) {
  fs::path src = testing::testdata("models/deepseek_v4_original");
  fs::path d = tmp.path() / ("c_" + (value.is_null() ? std::string("absent") : value.dump()));
  fs::create_directories(d);
  fs::copy_file(src / "model.safetensors", d / "model.safetensors");
  json c = json::parse(testing::read_file(src / "config.json"));
  if (value.is_null()) c.erase("expert_dtype");
  else c["expert_dtype"] = value;
  testing::write_file(d / "config.json", c.dump(2));
  return d;
}

// ".scale" -> ".weight_scale" for routed experts when experts are FP4, else ".weight_scale_inv".
void expect_rule(const json& m, bool fp4) {
  size_t scales = 0;
  for (const auto& e : m["entries"]) {
    const std::string ck = e["checkpoint"], param = e["param"];
    if (!ck.ends_with(".scale")) continue;
    ++scales;
    bool expert = e["kind"] == "expert";
    bool inv = param.ends_with("weight_scale_inv");
    EXPECT_EQ(inv, !(expert && fp4)) << ck << " -> " << param;
    EXPECT_TRUE(inv || param.ends_with("weight_scale")) << ck << " -> " << param;
  }
  EXPECT_GT(scales, 48u);
}

TEST(Dsv4OriginalCli, MapAndValidateAgreeOnBothReleases) {
  for (const char* name : {"deepseek_v4_original", "deepseek_v4_original_fp8"}) {
    fs::path d = testing::testdata(std::string("models/") + name);
    json m = map_json(d);
    EXPECT_EQ(m["architecture"], "deepseek_v4");
    EXPECT_TRUE(m["unmapped"].empty()) << name << ": " << m["unmapped"].dump();
    EXPECT_TRUE(m["unfilled"].empty()) << name << ": " << m["unfilled"].dump();
    EXPECT_TRUE(m["skipped"].empty()) << name << ": " << m["skipped"].dump();
    size_t mtp = 0;
    for (const auto& e : m["entries"]) mtp += e.value("mtp", false);
    EXPECT_GT(mtp, 40u) << name;
    expect_rule(m, std::string(name) == "deepseek_v4_original");
    int rc = -1;
    json v = validate_json(d, &rc);
    EXPECT_EQ(rc, 0) << name << ": " << v.dump(2);
    for (const auto& f : v["findings"]) EXPECT_NE(f["severity"], "error") << name << ": " << f.dump();
  }
}

TEST(Dsv4OriginalCli, AbsentExpertDtypeMapsAsFp4) {
  testing::TempDir tmp;
  json m = map_json(with_expert_dtype(tmp, nullptr));
  EXPECT_EQ(m["expert_dtype"], "fp4");
  EXPECT_TRUE(m["unmapped"].empty());
  expect_rule(m, true);
}

TEST(Dsv4OriginalCli, Fp8ConfigOnFp4ExpertsIsAMismatch) {
  // The rule follows the config (every .scale -> .weight_scale_inv) and map names the tensors
  // so; validate says the packed FP4 experts contradict it.
  testing::TempDir tmp;
  fs::path d = with_expert_dtype(tmp, "fp8");
  json m = map_json(d, 0);
  expect_rule(m, false);
  int rc = -1;
  json v = validate_json(d, &rc);
  EXPECT_EQ(rc, 1);
  bool mismatch = false;
  for (const auto& f : v["findings"]) mismatch |= f["code"] == "E-EXPERT-DTYPE-MISMATCH";
  EXPECT_TRUE(mismatch) << v.dump(2);
}

TEST(Dsv4OriginalCli, AnyOtherExpertDtypeIsAnErrorNamingTheConfig) {
  testing::TempDir tmp;
  fs::path d = with_expert_dtype(tmp, "mxfp4");
  auto r = run_moeckpt({"map", d.string()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("expert_dtype"), std::string::npos) << r.err;
  int rc = -1;
  json v = validate_json(d, &rc);
  EXPECT_EQ(rc, 1);
  bool invalid = false;
  for (const auto& f : v["findings"]) invalid |= f["code"] == "E-EXPERT-DTYPE-INVALID";
  EXPECT_TRUE(invalid) << v.dump(2);
}

}  // namespace
}  // namespace moeckpt
