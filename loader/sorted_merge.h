// Merging sorted lists that mostly do not interleave (the tensor lists of a checkpoint's shards),
// in time that grows with the number of runs rather than of elements; putting records in an
// order computed over their indexes without a second copy of them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace moeckpt {

// The end of the prefix of [first, last) on which pred holds, pred(*first) being known true:
// probes at distances 1, 2, 4, ... then bisects the last gap, so a run of n costs ~2 log n tests.
template <typename It, typename Pred>
It gallop(It first, It last, Pred pred) {
  It lo = first + 1;
  for (std::ptrdiff_t step = 1; lo != last; step *= 2) {
    It hi = lo + std::min<std::ptrdiff_t>(step, last - lo);
    if (!pred(*(hi - 1))) return std::partition_point(lo, hi - 1, pred);
    lo = hi;
  }
  return last;
}

// What std::merge writes (of equal elements, x's first), copying whole runs. Shards of one layer
// interleave only in runs (experts 0-95 in one, 96-191 in the next), so a run costs a few
// comparisons instead of one per name, and names share long prefixes that make each costly.
template <typename T, typename Less>
void merge_runs(const std::vector<T>& x, const std::vector<T>& y, std::vector<T>& out, Less less) {
  out.resize(x.size() + y.size());
  auto a = x.begin(), b = y.begin();
  auto o = out.begin();
  while (a != x.end() && b != y.end()) {
    if (less(*b, *a)) {
      auto stop = gallop(b, y.end(), [&](const T& v) { return less(v, *a); });
      o = std::copy(b, stop, o);
      b = stop;
    } else {
      auto stop = gallop(a, x.end(), [&](const T& v) { return !less(*b, v); });
      o = std::copy(a, stop, o);
      a = stop;
    }
  }
  o = std::copy(a, x.end(), o);
  std::copy(b, y.end(), o);
}

// v[k] becomes the old v[order[k]] for every k (order: a permutation of v's indexes, consumed):
// each cycle is followed once with one element aside, and order[k] = k marks a place done, so
// every element moves once and the vector is never copied.
template <typename T>
void permute_in_place(std::vector<T>& v, std::vector<uint32_t>& order) {
  for (uint32_t start = 0; start < order.size(); ++start) {
    if (order[start] == start) continue;
    T aside = std::move(v[start]);
    uint32_t k = start;
    while (order[k] != start) {
      const uint32_t from = order[k];
      v[k] = std::move(v[from]);
      order[k] = k;
      k = from;
    }
    v[k] = std::move(aside);
    order[k] = k;
  }
}

}  // namespace moeckpt
