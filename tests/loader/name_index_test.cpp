#include "loader/name_index.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace moeckpt {
namespace {

TensorInfo named(const std::string& name, uint32_t file = 0) {
  TensorInfo t;
  t.name = testing::kept_name(name);
  t.file = file;
  return t;
}

TEST(TensorNameIndex, FindsEveryNameAndNothingElse) {
  std::vector<TensorInfo> v;
  for (int i = 0; i < 5000; ++i) v.push_back(named("model.layers." + std::to_string(i % 61) + ".mlp.experts." + std::to_string(i) + ".w"));
  TensorNameIndex idx(v);
  EXPECT_EQ(idx.size(), v.size());
  for (const auto& t : v) EXPECT_EQ(idx.find(t.name), &t);
  EXPECT_EQ(idx.find("model.layers.0.mlp.experts.5000.w"), nullptr);
  EXPECT_EQ(idx.find(""), nullptr);
  EXPECT_EQ(idx.find("model.layers.0.mlp.experts.0.w."), nullptr);
}

TEST(TensorNameIndex, DuplicateNamesFindTheFirst) {
  std::vector<TensorInfo> v = {named("a", 0), named("b", 1), named("a", 2), named("b", 3), named("", 4), named("", 5)};
  TensorNameIndex idx(v);
  ASSERT_NE(idx.find("a"), nullptr);
  EXPECT_EQ(idx.find("a")->file, 0u);
  EXPECT_EQ(idx.find("b")->file, 1u);
  ASSERT_NE(idx.find(""), nullptr);  // an empty name is a name too
  EXPECT_EQ(idx.find("")->file, 4u);
  EXPECT_EQ(idx.find("c"), nullptr);
}

TEST(TensorNameIndex, EmptyAndDefault) {
  TensorNameIndex none;
  EXPECT_EQ(none.find("x"), nullptr);
  std::vector<TensorInfo> v;
  TensorNameIndex empty(v);
  EXPECT_EQ(empty.find("x"), nullptr);
  EXPECT_EQ(empty.size(), 0u);
}

}  // namespace
}  // namespace moeckpt
