// The convert pipeline through the real binary: determinism, sharding, workers, resume after
// SIGKILL, file-size limits and unwritable outputs.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>

#include "loader/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using nlohmann::json;
using testing::run_moeckpt;
using testing::snapshot;
using testing::TempDir;

uint32_t crc(const std::string& s) {
  return static_cast<uint32_t>(::crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// A checkpoint of n tensors of `each` bytes (U8, pseudo-random) plus a config and a tokenizer.
void make_checkpoint(const fs::path& dir, int n, size_t each) {
  fs::create_directories(dir);
  std::string header = "{";
  std::string data;
  data.reserve(static_cast<size_t>(n) * each);
  std::mt19937_64 rng(42);
  for (int i = 0; i < n; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model.layers.%d.w.weight", i);
    if (i) header += ",";
    header += "\"" + std::string(name) + "\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(each) + "],\"data_offsets\":[" +
              std::to_string(data.size()) + "," + std::to_string(data.size() + each) + "]}";
    for (size_t k = 0; k < each; k += 8) {
      uint64_t v = rng();
      data.append(reinterpret_cast<const char*>(&v), std::min<size_t>(8, each - k));
    }
  }
  header += ",\"__metadata__\":{\"format\":\"pt\",\"origin\":\"test\"}}";
  testing::write_file(dir / "model.safetensors", testing::safetensors_bytes(header, data));
  testing::write_file(dir / "config.json", R"({"model_type": "toy", "torch_dtype": "bfloat16"})");
  testing::write_file(dir / "tokenizer.json", R"({"v": 1})");
}

class Convert : public ::testing::Test {
 protected:
  void SetUp() override { make_checkpoint(tmp_ / "in", 24, 1 << 20); }
  fs::path in() const { return tmp_ / "in"; }
  TempDir tmp_;
};

TEST_F(Convert, CopiesEveryTensorAndIsDeterministic) {
  auto r1 = run_moeckpt({"convert", in().string(), (tmp_ / "a").string(), "--max-shard-size", "5MB", "-q"});
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  auto r2 = run_moeckpt({"convert", in().string(), (tmp_ / "b").string(), "--max-shard-size", "5MB", "--threads", "1", "-q"});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  auto a = snapshot(tmp_ / "a"), b = snapshot(tmp_ / "b");
  EXPECT_EQ(a, b) << "two runs (2 threads, 1 thread) must give identical bytes";
  // 24 MiB of tensors in shards of at most 5 MB: 4 tensors (4 MiB) each -> 6 shards.
  EXPECT_TRUE(a.count("model-00001-of-00006.safetensors"));
  EXPECT_TRUE(a.count("model-00006-of-00006.safetensors"));
  EXPECT_TRUE(a.count("tokenizer.json"));
  auto idx = json::parse(a.at("model.safetensors.index.json"));
  EXPECT_EQ(idx["metadata"]["total_size"], 24u << 20);
  EXPECT_EQ(idx["weight_map"].size(), 24u);
  // Same tensors, same bytes.
  Checkpoint src = Checkpoint::open(in()), dst = Checkpoint::open(tmp_ / "a");
  ASSERT_EQ(src.tensors().size(), dst.tensors().size());
  for (const auto& t : src.tensors()) {
    const TensorInfo* u = dst.find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    auto x = src.bytes(t), y = dst.bytes(*u);
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size()), 0) << t.name;
    EXPECT_EQ(dst.files()[u->file].name, idx["weight_map"][t.name]);
  }
  // Metadata: format=pt plus the input's.
  EXPECT_EQ(dst.files()[0].metadata, (std::vector<std::pair<std::string, std::string>>{{"format", "pt"}, {"origin", "test"}}));
}

TEST_F(Convert, WorkersPlusFinalizeEqualOneRun) {
  ASSERT_EQ(run_moeckpt({"convert", in().string(), (tmp_ / "one").string(), "--max-shard-size", "5MB", "-q"}).exit_code, 0);
  fs::path out = tmp_ / "split";
  for (int i = 1; i <= 3; ++i) {
    auto r = run_moeckpt({"convert", in().string(), out.string(), "--max-shard-size", "5MB", "--worker", std::to_string(i) + "/3", "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(fs::exists(out / "config.json")) << "workers must not write the config";
  }
  // Finalize refuses while a shard is missing.
  std::string keep = testing::read_file(out / "model-00002-of-00006.safetensors");
  fs::remove(out / "model-00002-of-00006.safetensors");
  auto bad = run_moeckpt({"convert", "--finalize", out.string()});
  EXPECT_EQ(bad.exit_code, 4);
  EXPECT_NE(bad.err.find("model-00002-of-00006.safetensors"), std::string::npos) << bad.err;
  testing::write_file(out / "model-00002-of-00006.safetensors", keep);
  auto fin = run_moeckpt({"convert", "--finalize", out.string()});
  ASSERT_EQ(fin.exit_code, 0) << fin.err;
  EXPECT_EQ(snapshot(tmp_ / "one"), snapshot(out));
}

// A worker rerun with --overwrite rewrites its own shards and must not touch the others'.
TEST_F(Convert, WorkerOverwriteKeepsTheOtherWorkersShards) {
  ASSERT_EQ(run_moeckpt({"convert", in().string(), (tmp_ / "one").string(), "--max-shard-size", "5MB", "-q"}).exit_code, 0);
  fs::path out = tmp_ / "split";
  for (int i = 1; i <= 3; ++i)
    ASSERT_EQ(run_moeckpt({"convert", in().string(), out.string(), "--max-shard-size", "5MB", "--worker", std::to_string(i) + "/3", "-q"}).exit_code, 0);
  const auto before = snapshot(out);
  // Damage a shard of worker 2 (learnt from a run of worker 2 alone); its --overwrite rerun
  // must rewrite it and leave the rest.
  ASSERT_EQ(run_moeckpt({"convert", in().string(), (tmp_ / "w2").string(), "--max-shard-size", "5MB", "--worker", "2/3", "-q"}).exit_code, 0);
  std::string victim;
  for (const auto& [name, bytes] : snapshot(tmp_ / "w2"))
    if (name.ends_with(".safetensors")) victim = name;
  ASSERT_FALSE(victim.empty());
  testing::write_file(out / victim, "junk");
  auto r = run_moeckpt({"convert", in().string(), out.string(), "--max-shard-size", "5MB", "--worker", "2/3", "--overwrite", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(snapshot(out), before);
  // A file no worker writes is still refused.
  testing::write_file(out / "stray.txt", "x");
  EXPECT_EQ(run_moeckpt({"convert", in().string(), out.string(), "--max-shard-size", "5MB", "--worker", "1/3", "--overwrite", "-q"}).exit_code, 4);
  EXPECT_TRUE(fs::exists(out / "model-00001-of-00006.safetensors"));
  fs::remove(out / "stray.txt");
  ASSERT_EQ(run_moeckpt({"convert", "--finalize", out.string()}).exit_code, 0);
  EXPECT_EQ(snapshot(tmp_ / "one"), snapshot(out));
}

TEST_F(Convert, KilledAtAnyPointLeavesNothingFinishedLookingAndResumes) {
  ASSERT_EQ(run_moeckpt({"convert", in().string(), (tmp_ / "ref").string(), "--max-shard-size", "3MB", "-q"}).exit_code, 0);
  const auto ref = snapshot(tmp_ / "ref");
  const auto input_before = snapshot(in());
  // Time a full run, then kill runs at fractions of it.
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_moeckpt({"convert", in().string(), (tmp_ / "timed").string(), "--max-shard-size", "3MB", "--threads", "1", "-q"}).exit_code, 0);
  double full_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  int incomplete = 0;
  for (double frac : {0.05, 0.2, 0.4, 0.6, 0.8}) {
    fs::path out = tmp_ / ("k" + std::to_string(static_cast<int>(frac * 100)));
    testing::RunOptions o;
    o.kill_after_ms = static_cast<int>(full_ms * frac);
    auto r = testing::run_moeckpt_with({"convert", in().string(), out.string(), "--max-shard-size", "3MB", "--threads", "1", "-q"}, o);
    if (r.exit_code == 0) continue;  // finished before the kill
    EXPECT_EQ(r.exit_code, 128 + SIGKILL);
    ++incomplete;
    // Every file with a final name is complete: identical to the reference run's file.
    if (fs::exists(out)) {
      for (const auto& [name, bytes] : snapshot(out)) {
        if (name.rfind(".moeckpt-tmp-", 0) == 0) continue;
        if (name == ".moeckpt-plan.json") continue;  // the resume record, removed by the run that finishes
        ASSERT_TRUE(ref.count(name)) << name;
        EXPECT_EQ(crc(bytes), crc(ref.at(name))) << name << " has a final name but is not the finished file";
      }
    }
    EXPECT_FALSE(fs::exists(out / "config.json") && !fs::exists(out / "model.safetensors.index.json"));
    auto res = run_moeckpt({"convert", in().string(), out.string(), "--max-shard-size", "3MB", "--resume", "-q"});
    ASSERT_EQ(res.exit_code, 0) << res.err;
    EXPECT_EQ(snapshot(out), ref) << "resume must complete to the same bytes";
  }
  EXPECT_GE(incomplete, 1) << "no kill landed mid-run (full run took " << full_ms << " ms)";
  EXPECT_EQ(snapshot(in()), input_before) << "the input must never change";
}

TEST_F(Convert, FileSizeLimitGivesExit4AndNothingPartial) {
  testing::RunOptions o;
  o.fsize_limit = 2 << 20;  // smaller than one 4-tensor shard
  fs::path out = tmp_ / "limited";
  auto r = testing::run_moeckpt_with({"convert", in().string(), out.string(), "--max-shard-size", "5MB"}, o);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  if (fs::exists(out)) {
    EXPECT_TRUE(snapshot(out).empty()) << "partial files left behind";
  }
}

TEST_F(Convert, UnwritableOrUnsuitableOutputs) {
  auto r = run_moeckpt({"convert", in().string(), "/proc/moeckpt-test-out"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(run_moeckpt({"convert", in().string(), (in() / "sub").string()}).exit_code, 2);
  EXPECT_EQ(run_moeckpt({"convert", in().string(), in().string()}).exit_code, 2);
  fs::create_directories(tmp_ / "full");
  testing::write_file(tmp_ / "full" / "notes.txt", "mine");
  auto ne = run_moeckpt({"convert", in().string(), (tmp_ / "full").string()});
  EXPECT_EQ(ne.exit_code, 4);
  EXPECT_NE(ne.err.find("not empty"), std::string::npos) << ne.err;
  // --overwrite replaces a conversion but keeps unrelated files.
  ASSERT_EQ(run_moeckpt({"convert", in().string(), (tmp_ / "full").string(), "--overwrite", "-q"}).exit_code, 0);
  EXPECT_TRUE(fs::exists(tmp_ / "full" / "notes.txt"));
  EXPECT_TRUE(fs::exists(tmp_ / "full" / "config.json"));
}

TEST_F(Convert, DryRunWritesNothingAndPrintsThePlan) {
  auto r = run_moeckpt({"convert", in().string(), (tmp_ / "dry").string(), "--dry-run", "--json", "--max-shard-size", "5MB"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "dry"));
  auto plan = json::parse(r.out);
  EXPECT_EQ(plan["tensors"].size(), 24u);
  EXPECT_EQ(plan["shards"].size(), 6u);
  EXPECT_EQ(plan["tensors"][0]["op"], "copy");
}

TEST_F(Convert, FiltersAndRulesRenameAndDrop) {
  testing::write_file(tmp_ / "rules.json", R"({"prefix": {"model.": "m."}, "regex": {"layers\\.1\\.": null}})");
  auto r = run_moeckpt({"convert", in().string(), (tmp_ / "f").string(), "--exclude", R"(layers\.2\d\.)", "--rules",
                        (tmp_ / "rules.json").string(), "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Checkpoint c = Checkpoint::open(tmp_ / "f");
  // 24 tensors - layers 20..23 (exclude) - layer 1 (rule drop).
  EXPECT_EQ(c.tensors().size(), 19u);
  EXPECT_NE(c.find("m.layers.0.w.weight"), nullptr);
  EXPECT_EQ(c.find("m.layers.1.w.weight"), nullptr);
  // A rule that makes two names equal is refused before anything is written.
  testing::write_file(tmp_ / "clash.json", R"({"regex": {"layers\\.\\d+\\.": "layers.X."}})");
  auto clash = run_moeckpt({"convert", in().string(), (tmp_ / "g").string(), "--rules", (tmp_ / "clash.json").string()});
  EXPECT_EQ(clash.exit_code, 2);
  EXPECT_NE(clash.err.find("two tensors would get this name"), std::string::npos) << clash.err;
  EXPECT_FALSE(fs::exists(tmp_ / "g"));
}

TEST(ConvertOptions, BadOptionsAreUsageErrors) {
  EXPECT_EQ(run_moeckpt({"convert", "testdata/models/mixtral"}).exit_code, 2);
  EXPECT_EQ(run_moeckpt({"convert", "testdata/models/mixtral", "/tmp/x", "--max-shard-size", "5XB"}).exit_code, 2);
  EXPECT_EQ(run_moeckpt({"convert", "testdata/models/mixtral", "/tmp/x", "--worker", "4/3"}).exit_code, 2);
  EXPECT_EQ(run_moeckpt({"convert", "testdata/models/mixtral", "/tmp/x", "--resume", "--overwrite"}).exit_code, 2);
  EXPECT_EQ(run_moeckpt({"convert", "testdata/models/mixtral", "/tmp/x", "--dequant", "int3"}).exit_code, 2);
  EXPECT_EQ(run_moeckpt({"convert", "--finalize", "/tmp/does-not-exist-moeckpt"}).exit_code, 3);
}

}  // namespace
}  // namespace moeckpt
