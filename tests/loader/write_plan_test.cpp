// The write plan: greedy sharding and shard names, the index, worker shares, output metadata
// and the sidecar files a conversion copies.
#include "loader/write_plan.h"

#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using testing::TempDir;

// A plan of tensors with these byte sizes, named t00, t01, ... (no producers: sharding does
// not look at them).
WritePlan plan_of(const std::vector<uint64_t>& sizes) {
  WritePlan p;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string name = "t" + std::string(i < 10 ? "0" : "") + std::to_string(i);
    p.tensors.push_back({WriterTensor{name, DType::kU8, {sizes[i]}, sizes[i]}, name, nullptr});
  }
  return p;
}

std::vector<std::vector<size_t>> groups(const WritePlan& p) {
  std::vector<std::vector<size_t>> g;
  for (const auto& s : p.shards) g.push_back(s.tensors);
  return g;
}

TEST(AssignShards, GreedyInNameOrderWithTransformersNames) {
  WritePlan p = plan_of({40, 40, 40, 10, 90});
  assign_shards(p, 100, {{"format", "pt"}});
  EXPECT_EQ(groups(p), (std::vector<std::vector<size_t>>{{0, 1}, {2, 3}, {4}}));
  ASSERT_EQ(p.shards.size(), 3u);
  EXPECT_EQ(p.shards[0].name, "model-00001-of-00003.safetensors");
  EXPECT_EQ(p.shards[2].name, "model-00003-of-00003.safetensors");
  EXPECT_EQ(p.total_bytes, 220u);
  ASSERT_TRUE(p.index);
  EXPECT_EQ((*p.index)["metadata"]["total_size"], 220u);
  EXPECT_EQ((*p.index)["weight_map"]["t03"], "model-00002-of-00003.safetensors");
  EXPECT_EQ((*p.index)["weight_map"].size(), 5u);
  // Each shard's layout holds exactly its tensors, after the header.
  for (const auto& s : p.shards) {
    uint64_t data = 0;
    for (size_t i : s.tensors) data += p.tensors[i].out.nbytes;
    EXPECT_EQ(s.layout.file_size, s.layout.head.size() + data) << s.name;
    EXPECT_EQ(s.layout.offsets.size(), s.tensors.size());
  }
}

TEST(AssignShards, ATensorLargerThanTheLimitGetsAShardOfItsOwn) {
  WritePlan p = plan_of({10, 500, 10});
  assign_shards(p, 100, {});
  EXPECT_EQ(groups(p), (std::vector<std::vector<size_t>>{{0}, {1}, {2}}));
}

TEST(AssignShards, OneShardIsModelSafetensorsWithoutAnIndex) {
  WritePlan p = plan_of({10, 20});
  p.index = Json::object();  // a stale index from an earlier assignment is removed
  assign_shards(p, 1000, {});
  ASSERT_EQ(p.shards.size(), 1u);
  EXPECT_EQ(p.shards[0].name, "model.safetensors");
  EXPECT_FALSE(p.index);
}

TEST(AssignShards, AnEmptyCheckpointIsOneEmptyFile) {
  WritePlan p;
  assign_shards(p, 1000, {{"format", "pt"}});
  ASSERT_EQ(p.shards.size(), 1u);
  EXPECT_TRUE(p.shards[0].tensors.empty());
  EXPECT_EQ(p.shards[0].layout.file_size, p.shards[0].layout.head.size());
}

TEST(WorkerShards, EveryShardBelongsToExactlyOneWorkerInContiguousRuns) {
  WritePlan p = plan_of({30, 70, 50, 50, 10, 90, 20, 80, 40, 60});
  assign_shards(p, 60, {});
  ASSERT_GT(p.shards.size(), 5u);
  for (unsigned count : {1u, 2u, 3u, 4u, 7u, 20u}) {
    std::vector<size_t> all;
    for (unsigned w = 0; w < count; ++w) {
      auto mine = worker_shards(p, w, count);
      for (size_t k = 1; k < mine.size(); ++k) EXPECT_EQ(mine[k], mine[k - 1] + 1) << "worker " << w << "/" << count;
      all.insert(all.end(), mine.begin(), mine.end());
    }
    std::vector<size_t> want(p.shards.size());
    std::iota(want.begin(), want.end(), 0);
    EXPECT_EQ(all, want) << count << " workers";
  }
}

TEST(WorkerShards, SharesAreBalancedByBytes) {
  WritePlan p = plan_of(std::vector<uint64_t>(12, 100));
  assign_shards(p, 100, {});
  for (unsigned w = 0; w < 4; ++w) EXPECT_EQ(worker_shards(p, w, 4).size(), 3u) << w;
}

TEST(OutputMetadata, FormatPtFirstThenTheInputsKeysSorted) {
  TempDir d;
  testing::write_file(d / "model.safetensors",
                      testing::safetensors_bytes(R"({"__metadata__":{"zeta":"1","format":"tf","alpha":"2"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "x"));
  Checkpoint ck = Checkpoint::open((d / "model.safetensors").string());
  ShardMetadata m = output_metadata(ck);
  EXPECT_EQ(m, (ShardMetadata{{"format", "pt"}, {"alpha", "2"}, {"zeta", "1"}}));
}

TEST(SidecarFiles, EverythingButWeightsIndexesConfigAndHiddenFiles) {
  TempDir d;
  testing::write_file(d / "model.safetensors",
                      testing::safetensors_bytes(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "x"));
  for (const char* n : {"config.json", "tokenizer.json", "generation_config.json", ".hidden", "model.safetensors.index.json.bak",
                        "pytorch_model.bin", "extra.pt", "consolidated.pth"})
    testing::write_file(d / n, "{}");
  fs::create_directories(d / "subdir");
  Checkpoint ck = Checkpoint::open(d.path().string());
  std::vector<std::string> names;
  for (const auto& c : sidecar_files(ck)) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"generation_config.json", "model.safetensors.index.json.bak", "tokenizer.json"}));
  // A single weights file given as the input: only its weights.
  Checkpoint single = Checkpoint::open((d / "model.safetensors").string());
  EXPECT_TRUE(sidecar_files(single).empty());
}

}  // namespace
}  // namespace moeckpt
