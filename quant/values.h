// A tensor's values as float32, whatever its format: plain float tensors decoded, quantized
// weights dequantized through their scales. Read in row ranges so that memory stays small.
// Also the running statistics `tensor --stats`, `validate --data` and `diff` report.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "loader/checkpoint.h"
#include "quant/scheme.h"

namespace moeckpt::quant {

class TensorValues {
 public:
  // `name` is a checkpoint tensor or, with `dequant`, a quantized weight's dequantized name.
  // Throws Error(kTensorNotFound) or Error(kUnsupported) for integer/complex tensors.
  TensorValues(const Checkpoint& ck, const QuantScan& scan, const std::string& name, bool dequant);

  const std::vector<uint64_t>& shape() const { return shape_; }
  uint64_t rows() const { return rows_; }
  uint64_t row_elems() const { return row_elems_; }
  uint64_t size() const { return rows_ * row_elems_; }
  const QuantTensor* quantized() const { return q_; }  // set when dequantizing
  // Rows [r0, r1) as float32 into out (resized).
  void read(uint64_t r0, uint64_t r1, std::vector<float>& out) const;

 private:
  const Checkpoint& ck_;
  const TensorInfo* t_ = nullptr;
  const QuantTensor* q_ = nullptr;
  std::vector<uint64_t> shape_;
  uint64_t rows_ = 0, row_elems_ = 0;
};

struct Stats {
  uint64_t count = 0, nan = 0, inf = 0, zeros = 0;
  double sum = 0, sum_sq = 0;  // over finite values
  float min = std::numeric_limits<float>::infinity(), max = -std::numeric_limits<float>::infinity(), amax = 0;
  void add(const float* v, uint64_t n);
  double mean() const;
  double std_dev() const;
};

}  // namespace moeckpt::quant
