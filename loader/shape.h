// A tensor's dimensions: up to three held inline, more on the heap. A checkpoint of 1M tensors
// would otherwise make 1M small heap vectors (bench/RESULTS.md, "Memory at 1M tensors"); nearly
// every tensor of a language model has 1 to 3 dimensions (4 and 5: a few vision convolutions,
// gpt-oss's MXFP4 blocks).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <vector>

namespace moeckpt {

class Shape {
 public:
  using value_type = uint64_t;
  using size_type = size_t;
  using iterator = uint64_t*;
  using const_iterator = const uint64_t*;
  using reference = uint64_t&;
  using const_reference = const uint64_t&;
  static constexpr uint32_t kInline = 3;

  Shape() = default;
  Shape(std::initializer_list<uint64_t> dims) { assign(dims.begin(), dims.end()); }
  Shape(std::span<const uint64_t> dims) { assign(dims.data(), dims.data() + dims.size()); }  // NOLINT: implicit, as a vector converts
  Shape(const std::vector<uint64_t>& dims) { assign(dims.data(), dims.data() + dims.size()); }  // NOLINT
  template <class It>
  Shape(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<uint64_t>(*first));
  }
  Shape(const Shape& o) { assign(o.begin(), o.end()); }
  Shape(Shape&& o) noexcept { take(o); }
  Shape& operator=(const Shape& o) {
    if (this != &o) assign(o.begin(), o.end());
    return *this;
  }
  Shape& operator=(Shape&& o) noexcept {
    if (this != &o) {
      release();
      take(o);
    }
    return *this;
  }
  ~Shape() { release(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint64_t* data() { return on_heap() ? heap_ : inline_; }
  const uint64_t* data() const { return on_heap() ? heap_ : inline_; }
  uint64_t* begin() { return data(); }
  uint64_t* end() { return data() + size_; }
  const uint64_t* begin() const { return data(); }
  const uint64_t* end() const { return data() + size_; }
  uint64_t& operator[](size_t i) { return data()[i]; }
  uint64_t operator[](size_t i) const { return data()[i]; }
  uint64_t& front() { return data()[0]; }
  uint64_t front() const { return data()[0]; }
  uint64_t& back() { return data()[size_ - 1]; }
  uint64_t back() const { return data()[size_ - 1]; }

  void clear() { size_ = 0; }
  void reserve(size_t n) {
    if (n > capacity()) grow(n);
  }
  void push_back(uint64_t v) {
    if (size_ == capacity()) grow(std::max<size_t>(2 * capacity(), kInline));
    data()[size_++] = v;
  }
  void pop_back() { --size_; }
  void resize(size_t n, uint64_t v = 0) {
    reserve(n);
    for (size_t i = size_; i < n; ++i) data()[i] = v;
    size_ = static_cast<uint32_t>(n);
  }
  void assign(const uint64_t* first, const uint64_t* last) {
    const size_t n = static_cast<size_t>(last - first);
    if (n > capacity()) {
      release();
      grow(n);
    }
    if (n) std::memmove(data(), first, n * sizeof(uint64_t));
    size_ = static_cast<uint32_t>(n);
  }
  std::vector<uint64_t> to_vector() const { return {begin(), end()}; }
  operator std::vector<uint64_t>() const { return to_vector(); }  // NOLINT: code written for a vector

  friend bool operator==(const Shape& a, const Shape& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }
  friend bool operator==(const Shape& a, const std::vector<uint64_t>& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }
  friend bool operator<(const Shape& a, const Shape& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  bool on_heap() const { return cap_ > kInline; }
  size_t capacity() const { return on_heap() ? cap_ : kInline; }
  void grow(size_t n) {
    auto* p = new uint64_t[n];
    if (size_) std::memcpy(p, data(), size_ * sizeof(uint64_t));
    if (on_heap()) delete[] heap_;
    heap_ = p;
    cap_ = static_cast<uint32_t>(n);
  }
  void release() {
    if (on_heap()) delete[] heap_;
    cap_ = 0;
    size_ = 0;
  }
  void take(Shape& o) {
    size_ = o.size_;
    cap_ = o.cap_;
    if (o.on_heap()) heap_ = o.heap_;
    else std::memcpy(inline_, o.inline_, sizeof inline_);
    o.size_ = 0;
    o.cap_ = 0;
  }

  union {
    uint64_t inline_[kInline] = {};
    uint64_t* heap_;
  };
  uint32_t size_ = 0;
  uint32_t cap_ = 0;  // 0: inline (capacity kInline); else the heap array's length
};

}  // namespace moeckpt
