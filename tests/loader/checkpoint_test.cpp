#include "loader/checkpoint.h"

#include <gtest/gtest.h>

#include "loader/error.h"
#include "test_util.h"

namespace moeckpt {
namespace {

using testing::safetensors_bytes;
using testing::TempDir;
using testing::write_file;

// A one-tensor safetensors file with the given name and 4 bytes of data.
std::string one_tensor(const std::string& name, const std::string& data = "abcd") {
  return safetensors_bytes(R"({")" + name + R"(":{"dtype":"U8","shape":[)" + std::to_string(data.size()) +
                               R"(],"data_offsets":[0,)" + std::to_string(data.size()) + "]}}",
                           data);
}

Errc open_error(const std::filesystem::path& p) {
  try {
    Checkpoint::open(p);
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "opened " << p;
  return Errc::kUsage;
}

TEST(Checkpoint, OpensASingleFileAndReadsItsBytes) {
  TempDir d;
  write_file(d / "model.safetensors", one_tensor("w", "wxyz"));
  for (auto p : {d.path(), d / "model.safetensors"}) {
    Checkpoint ck = Checkpoint::open(p);
    EXPECT_EQ(ck.layout(), Layout::kSingleFile);
    ASSERT_EQ(ck.tensors().size(), 1u);
    const TensorInfo* t = ck.find("w");
    ASSERT_NE(t, nullptr);
    auto b = ck.bytes(*t);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()), b.size()), "wxyz");
  }
}

TEST(Checkpoint, OpensAShardedCheckpointThroughItsIndex) {
  TempDir d;
  write_file(d / "a.safetensors", one_tensor("x"));
  write_file(d / "b.safetensors", one_tensor("y"));
  write_file(d / "model.safetensors.index.json",
             R"({"metadata":{"total_size":8},"weight_map":{"x":"a.safetensors","y":"b.safetensors"}})");
  write_file(d / "config.json", R"({"model_type":"m"})");
  Checkpoint ck = Checkpoint::open(d.path());
  EXPECT_EQ(ck.layout(), Layout::kIndexed);
  EXPECT_EQ(ck.files().size(), 2u);
  EXPECT_EQ(ck.tensors().size(), 2u);
  ASSERT_TRUE(ck.config());
  EXPECT_EQ((*ck.config())["model_type"], "m");
  // The index keeps its shards and total size; its weight map was checked and let go.
  ASSERT_TRUE(ck.index());
  EXPECT_EQ(ck.index()->total_size, 8u);
  EXPECT_EQ(ck.index()->shards, (std::vector<std::string>{"a.safetensors", "b.safetensors"}));
  EXPECT_TRUE(ck.index()->weight_map.empty());
  // The names live with the checkpoint, wherever it is moved.
  Checkpoint moved = std::move(ck);
  EXPECT_EQ(moved.tensors()[0].name, "x");
  EXPECT_EQ(moved.find("y")->name, "y");
  // The index file itself is an input too.
  EXPECT_EQ(Checkpoint::open(d / "model.safetensors.index.json").tensors().size(), 2u);
}

TEST(Checkpoint, PrefersTheIndexOverLooseFiles) {
  TempDir d;
  write_file(d / "a.safetensors", one_tensor("x"));
  write_file(d / "stray.safetensors", one_tensor("z"));
  write_file(d / "model.safetensors.index.json", R"({"weight_map":{"x":"a.safetensors"}})");
  EXPECT_EQ(Checkpoint::open(d.path()).tensors().size(), 1u);
}

TEST(Checkpoint, OpensADirectoryOfShardsWithoutIndex) {
  TempDir d;
  write_file(d / "model0-mp1.safetensors", one_tensor("x"));
  write_file(d / "model1-mp1.safetensors", one_tensor("y"));
  Checkpoint ck = Checkpoint::open(d.path());
  EXPECT_EQ(ck.layout(), Layout::kDirectory);
  EXPECT_EQ(ck.tensors().size(), 2u);
}

TEST(Checkpoint, RefusesAMissingShard) {
  TempDir d;
  write_file(d / "a.safetensors", one_tensor("x"));
  write_file(d / "model.safetensors.index.json", R"({"weight_map":{"x":"a.safetensors","y":"gone.safetensors"}})");
  EXPECT_EQ(open_error(d.path()), Errc::kIndexMissingShard);
}

TEST(Checkpoint, RefusesAnIndexNamingATensorItsShardLacks) {
  TempDir d;
  write_file(d / "a.safetensors", one_tensor("x"));
  write_file(d / "b.safetensors", one_tensor("y"));
  write_file(d / "model.safetensors.index.json", R"({"weight_map":{"x":"a.safetensors","y":"a.safetensors"}})");
  EXPECT_EQ(open_error(d.path()), Errc::kIndexMissingTensor);
  // Reported after the index's names are released: the problem keeps its own copy.
  OpenOptions o;
  o.collect_problems = true;
  Checkpoint ck = Checkpoint::open(d.path(), o);
  ASSERT_EQ(ck.problems().size(), 1u);
  EXPECT_EQ(ck.problems()[0].tensor(), "y");
  EXPECT_EQ(ck.problems()[0].reason(), "names it in shard 'a.safetensors', which does not hold it");
}

TEST(Checkpoint, RefusesATensorInTwoFiles) {
  TempDir d;
  write_file(d / "a.safetensors", one_tensor("x"));
  write_file(d / "b.safetensors", one_tensor("x"));
  EXPECT_EQ(open_error(d.path()), Errc::kDuplicateName);
}

TEST(Checkpoint, ListsTensorsAShardHoldsButTheIndexDoesNotName) {
  TempDir d;
  write_file(d / "a.safetensors", one_tensor("x"));
  write_file(d / "model.safetensors.index.json", R"({"weight_map":{}})");
  // An empty weight_map names no shard: nothing to load.
  EXPECT_EQ(open_error(d.path()), Errc::kIndexInvalid);
  write_file(d / "b.safetensors", safetensors_bytes(
      R"({"y":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"z":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", "12"));
  write_file(d / "model.safetensors.index.json", R"({"weight_map":{"y":"b.safetensors"}})");
  Checkpoint ck = Checkpoint::open(d.path());
  EXPECT_EQ(ck.unlisted(), (std::vector<std::string>{"z"}));
}

TEST(Checkpoint, CollectsProblemsPerFileWhenAsked) {
  TempDir d;
  write_file(d / "a.safetensors", one_tensor("x"));
  write_file(d / "b.safetensors", "garbage!");
  OpenOptions o;
  o.collect_problems = true;
  Checkpoint ck = Checkpoint::open(d.path(), o);
  ASSERT_EQ(ck.problems().size(), 1u);
  EXPECT_EQ(errc_name(ck.problems()[0].code()), errc_name(Errc::kHeaderOverLimit));  // "garbage!" read as a length
  EXPECT_EQ(ck.tensors().size(), 1u);
}

TEST(Checkpoint, RefusesABadConfigAndEmptyDirectories) {
  TempDir d;
  EXPECT_EQ(open_error(d.path()), Errc::kNoCheckpoint);
  EXPECT_EQ(open_error(d / "nope"), Errc::kFileOpen);
  write_file(d / "model.safetensors", one_tensor("x"));
  write_file(d / "config.json", "{\"a\": ");
  EXPECT_EQ(open_error(d.path()), Errc::kConfigInvalid);
  write_file(d / "config.json", "[1]");
  EXPECT_EQ(open_error(d.path()), Errc::kConfigInvalid);
  write_file(d / "weights.txt", "x");
  EXPECT_EQ(open_error(d / "weights.txt"), Errc::kNoCheckpoint);
}

TEST(Checkpoint, OpensTheShardedFixture) {
  auto dir = testing::testdata("models/qwen3_moe");
  Checkpoint ck = Checkpoint::open(dir);
  EXPECT_GT(ck.tensors().size(), 10u);
  // Sorted by name.
  for (size_t i = 1; i < ck.tensors().size(); ++i) EXPECT_LT(ck.tensors()[i - 1].name, ck.tensors()[i].name);
}

}  // namespace
}  // namespace moeckpt
