#include "loader/index_reader.h"

#include <gtest/gtest.h>

#include "loader/error.h"

namespace moeckpt {
namespace {

Errc code_of(std::string_view text) {
  try {
    parse_index(text, "idx.json");
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "accepted: " << text;
  return Errc::kUsage;
}

TEST(IndexReader, ParsesWeightMapAndTotalSize) {
  auto idx = parse_index(R"({"metadata":{"total_size":123},"weight_map":{"b":"s2.safetensors","a":"s1.safetensors","c":"s1.safetensors"}})", "i");
  ASSERT_TRUE(idx.total_size);
  EXPECT_EQ(*idx.total_size, 123u);
  ASSERT_EQ(idx.weight_map.size(), 3u);
  EXPECT_EQ(idx.weight_map[0].first, "b");
  EXPECT_EQ(idx.shards[idx.weight_map[0].second], "s2.safetensors");
  EXPECT_EQ(idx.shards, (std::vector<std::string>{"s1.safetensors", "s2.safetensors"}));
}

TEST(IndexReader, AcceptsIntegralFloatTotalSizeAndMissingMetadata) {
  EXPECT_EQ(*parse_index(R"({"metadata":{"total_size":1.0e3},"weight_map":{"a":"x.safetensors"}})", "i").total_size, 1000u);
  EXPECT_FALSE(parse_index(R"({"weight_map":{"a":"x.safetensors"}})", "i").total_size);
}

TEST(IndexReader, RefusesMalformedIndexes) {
  EXPECT_EQ(code_of("not json"), Errc::kIndexInvalid);
  EXPECT_EQ(code_of("[]"), Errc::kIndexInvalid);
  EXPECT_EQ(code_of(R"({"metadata":{}})"), Errc::kIndexInvalid);
  EXPECT_EQ(code_of(R"({"weight_map":[]})"), Errc::kIndexInvalid);
  EXPECT_EQ(code_of(R"({"weight_map":{"a":3}})"), Errc::kIndexInvalid);
  EXPECT_EQ(code_of(R"({"metadata":{"total_size":-1},"weight_map":{}})"), Errc::kIndexInvalid);
  EXPECT_EQ(code_of(R"({"metadata":{"total_size":1.5},"weight_map":{}})"), Errc::kIndexInvalid);
  EXPECT_EQ(code_of(R"({"weight_map":{"a":"x.safetensors","a":"y.safetensors"}})"), Errc::kDuplicateName);
}

TEST(IndexReader, RefusesShardPathsThatLeaveTheDirectory) {
  EXPECT_EQ(code_of(R"({"weight_map":{"a":"../x.safetensors"}})"), Errc::kIndexPathEscapes);
  EXPECT_EQ(code_of(R"({"weight_map":{"a":"/etc/passwd"}})"), Errc::kIndexPathEscapes);
  EXPECT_EQ(code_of(R"({"weight_map":{"a":"sub/../../x.safetensors"}})"), Errc::kIndexPathEscapes);
  EXPECT_EQ(code_of(R"({"weight_map":{"a":"a\\b.safetensors"}})"), Errc::kIndexPathEscapes);
  EXPECT_EQ(code_of(R"({"weight_map":{"a":""}})"), Errc::kIndexPathEscapes);
  EXPECT_TRUE(shard_path_is_safe("sub/model-00001-of-00002.safetensors"));
  EXPECT_FALSE(shard_path_is_safe("./x"));
  EXPECT_FALSE(shard_path_is_safe("x//y"));
  // Names that merely start with dots are ordinary files inside the directory (the fuzz
  // harness once mistook one for an escape).
  EXPECT_TRUE(shard_path_is_safe("..x.safetensors"));
  EXPECT_TRUE(shard_path_is_safe("sub/...safetensors"));
}

}  // namespace
}  // namespace moeckpt
