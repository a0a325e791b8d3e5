#include "loader/shape.h"

#include <gtest/gtest.h>

#include <span>
#include <utility>
#include <vector>

#include "loader/tensor.h"

namespace moeckpt {
namespace {

std::vector<uint64_t> dims(const Shape& s) { return {s.begin(), s.end()}; }

TEST(Shape, HoldsUpToThreeInlineAndMoreOnTheHeap) {
  for (size_t n = 0; n <= 11; ++n) {
    Shape s;
    std::vector<uint64_t> want;
    for (size_t i = 0; i < n; ++i) {
      s.push_back(10 + i);
      want.push_back(10 + i);
    }
    EXPECT_EQ(s.size(), n);
    EXPECT_EQ(s.empty(), n == 0);
    EXPECT_EQ(dims(s), want);
    EXPECT_TRUE(s == want);
    if (n) {
      EXPECT_EQ(s.front(), 10u);
      EXPECT_EQ(s.back(), 10 + n - 1);
    }
    // Copies and moves keep the dimensions, from either storage, and leave the source valid.
    Shape c = s;
    EXPECT_EQ(dims(c), want);
    Shape m = std::move(c);
    EXPECT_EQ(dims(m), want);
    EXPECT_TRUE(c.empty());
    c = m;
    EXPECT_EQ(dims(c), want);
    Shape a = {1, 2, 3, 4, 5, 6};
    a = std::move(m);
    EXPECT_EQ(dims(a), want);
    a = a;  // self-assignment
    EXPECT_EQ(dims(a), want);
  }
}

TEST(Shape, ConvertsToAndFromVectorsAndSpans) {
  const std::vector<uint64_t> v = {7, 2048, 128, 3, 9};
  Shape s = v;
  EXPECT_EQ(s.size(), 5u);
  std::vector<uint64_t> back = s;
  EXPECT_EQ(back, v);
  std::span<const uint64_t> sp = s;
  EXPECT_EQ(std::vector<uint64_t>(sp.begin(), sp.end()), v);
  EXPECT_EQ(Shape(sp), s);
  s[1] = 7;
  EXPECT_NE(s, Shape(v));
  s.resize(2);
  EXPECT_EQ(dims(s), (std::vector<uint64_t>{7, 7}));
  s.resize(6, 1);
  EXPECT_EQ(dims(s), (std::vector<uint64_t>{7, 7, 1, 1, 1, 1}));
  s.clear();
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(Shape{} == std::vector<uint64_t>{});
  EXPECT_TRUE(Shape({1, 2}) < Shape({1, 3}));
}

TEST(TensorArena, ViewsStayValidAcrossBlocksAndMoves) {
  TensorArena arena;
  std::vector<std::string> want;
  std::vector<std::string_view> got;
  for (int i = 0; i < 20000; ++i) {  // several 64 KiB blocks
    want.push_back("model.layers." + std::to_string(i) + ".mlp.experts." + std::to_string(i * 7) + ".down_proj.weight");
    got.push_back(arena.keep(want.back()));
  }
  const std::vector<int64_t> strides = {1, 4096, 3};
  arena.keep(std::string_view("x"));  // leaves the next one unaligned
  const std::span<const int64_t> kept = arena.keep(std::span<const int64_t>(strides));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(kept.data()) % alignof(int64_t), 0u);
  TensorArena moved = std::move(arena);
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]);
  EXPECT_EQ(std::vector<int64_t>(kept.begin(), kept.end()), strides);
  EXPECT_TRUE(moved.keep(std::string_view()).empty());
  EXPECT_GE(moved.bytes_held(), 20000u * 40);
  // One reserved block for a file's names: nothing more is allocated while they fit.
  TensorArena exact;
  exact.reserve(30);
  exact.keep(std::string_view("0123456789"));
  exact.keep(std::string_view("01234567890123456789"));
  EXPECT_EQ(exact.bytes_held(), 30u);
}

// A name made from a temporary string would view freed bytes: it does not compile.
static_assert(!std::is_constructible_v<TensorName, std::string&&>);
static_assert(std::is_constructible_v<TensorName, const std::string&>);
static_assert(std::is_constructible_v<TensorName, std::string_view>);

}  // namespace
}  // namespace moeckpt
