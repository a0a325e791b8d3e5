#include "loader/sorted_merge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace moeckpt {
namespace {

// Pairs (key, origin): the origin tells which list an element came from, so the order of
// equal keys (x's before y's, as std::merge keeps them) is checked too.
using Item = std::pair<int, int>;
bool by_key(const Item& a, const Item& b) { return a.first < b.first; }

std::vector<Item> sorted_list(std::mt19937& rng, size_t n, int lo, int hi, int origin) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<Item> v;
  for (size_t i = 0; i < n; ++i) v.emplace_back(d(rng), origin);
  std::sort(v.begin(), v.end(), by_key);
  return v;
}

void expect_same_as_std_merge(const std::vector<Item>& x, const std::vector<Item>& y) {
  std::vector<Item> want(x.size() + y.size()), got;
  std::merge(x.begin(), x.end(), y.begin(), y.end(), want.begin(), by_key);
  merge_runs(x, y, got, by_key);
  EXPECT_EQ(got, want);
}

TEST(SortedMerge, EqualsStdMergeOnInterleavedOverlappingAndDisjointLists) {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    const size_t nx = rng() % 200, ny = rng() % 200;
    const int spread = 1 + static_cast<int>(rng() % 1000);  // small: many equal keys
    const int shift = static_cast<int>(rng() % 3) * spread / 2;  // disjoint, overlapping, interleaved
    expect_same_as_std_merge(sorted_list(rng, nx, 0, spread, 0), sorted_list(rng, ny, shift, shift + spread, 1));
  }
}

TEST(SortedMerge, EmptyListsAndAllEqualKeys) {
  const std::vector<Item> none, same_x(5, {3, 0}), same_y(4, {3, 1});
  expect_same_as_std_merge(none, none);
  expect_same_as_std_merge(same_x, none);
  expect_same_as_std_merge(none, same_y);
  expect_same_as_std_merge(same_x, same_y);
  expect_same_as_std_merge(same_y, same_x);
}

TEST(SortedMerge, GallopFindsTheEndOfEveryPrefix) {
  for (int n = 1; n < 70; ++n)
    for (int k = 1; k <= n; ++k) {
      std::vector<int> v(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
      auto end = gallop(v.begin(), v.end(), [&](int e) { return e < k; });
      EXPECT_EQ(end - v.begin(), k) << n << " " << k;
    }
}

TEST(SortedMerge, PermuteInPlaceEqualsBuildingTheOrderedCopy) {
  std::mt19937 rng(11);
  for (size_t n : {0u, 1u, 2u, 3u, 10u, 257u}) {
    for (int round = 0; round < 20; ++round) {
      std::vector<std::string> v;
      for (size_t i = 0; i < n; ++i) v.push_back("tensor." + std::to_string(rng() % 1000) + ".weight");
      std::vector<uint32_t> order(n);
      for (uint32_t i = 0; i < n; ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), rng);
      if (round == 0) std::sort(order.begin(), order.end());  // the identity
      std::vector<std::string> want;
      for (uint32_t i : order) want.push_back(v[i]);
      permute_in_place(v, order);
      EXPECT_EQ(v, want);
      for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(order[i], i);  // consumed: every place marked done
    }
  }
}

}  // namespace
}  // namespace moeckpt
