// Where a dequantizer writes the rows of one call. Below kStreamMinBytes, in place. From it on,
// each row into a buffer that stays in L1/L2 and then out with non-temporal stores
// (stream_copy): output too large to stay in cache anyway is then written without first
// reading every one of its lines from memory (write-allocate), a third of a 4-bit -> BF16
// kernel's traffic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "quant/kernels.h"

namespace moeckpt::quant {

inline constexpr uint64_t kStreamMinBytes = uint64_t{1} << 20;      // the L2 of one core
inline constexpr uint64_t kStreamMaxRowBytes = uint64_t{256} << 10;  // a staged row must stay in L2

class RowSink {
 public:
  RowSink(std::byte* dst, uint64_t rows, uint64_t row_bytes)
      : dst_(dst), row_bytes_(row_bytes), stream_(rows * row_bytes >= kStreamMinBytes && row_bytes <= kStreamMaxRowBytes) {}
  RowSink(const RowSink&) = delete;
  RowSink& operator=(const RowSink&) = delete;
  ~RowSink() {
    if (stream_) stream_fence();
  }

  // Where row k (of this call) is to be written; done(k) once it is.
  std::byte* row(uint64_t k) {
    std::byte* d = dst_ + k * row_bytes_;
    if (!stream_) return d;
    thread_local std::vector<std::byte> stage;
    if (stage.size() < row_bytes_ + 128) stage.resize(row_bytes_ + 128);
    // Staged at dst's offset within a 64-byte line, so the copy's loads are aligned as its stores.
    const auto base = (reinterpret_cast<uintptr_t>(stage.data()) + 63) & ~uintptr_t{63};
    return reinterpret_cast<std::byte*>(base + reinterpret_cast<uintptr_t>(d) % 64);
  }
  void done(uint64_t k, const std::byte* written) {
    if (stream_) stream_copy(dst_ + k * row_bytes_, written, row_bytes_);
  }
  bool streaming() const { return stream_; }

 private:
  std::byte* const dst_;
  const uint64_t row_bytes_;
  const bool stream_;
};

}  // namespace moeckpt::quant
