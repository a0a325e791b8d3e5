#include "loader/expert_slices.h"

#include <cstring>

#include "loader/error.h"

namespace moeckpt {
namespace {

uint64_t elem_size(const Checkpoint& in, const TensorInfo& t) {
  const int bits = dtype_bits(t.dtype);
  if (bits < 8 || bits % 8) throw Error(Errc::kUnsupported, in.file_label(t.file), "sub-byte elements cannot be re-laid element by element", t.name);
  return static_cast<uint64_t>(bits) / 8;
}

TensorBytes checked_bytes(const Checkpoint& in, const TensorInfo& t) {
  TensorBytes b = in.bytes(t);
  if (b.size() != t.nbytes) throw Error(Errc::kTruncated, in.file_label(t.file), "tensor bytes changed size", t.name);
  return b;
}

// (a, b) in F[e] of element (x, y) of P.
std::pair<uint64_t, uint64_t> fused_coords(const ExpertPart& p, uint64_t x, uint64_t y) {
  const uint64_t qa = p.transposed ? y : x, qb = p.transposed ? x : y;
  if (p.axis == 0) return {p.offset + qa * p.stride, qb};
  return {qa, p.offset + qb * p.stride};
}

// Rows of P = rows of its matrix (a "row" is one row of P; row_bytes its width).
class SplitProducer final : public TensorProducer {
 public:
  SplitProducer(const Checkpoint& in, const TensorInfo& f, uint64_t e, ExpertPart p, std::string what)
      : in_(in), f_(f), e_(e), p_(p), eb_(elem_size(in, f)), what_(std::move(what)) {
    shape_ = part_shape(p_, f_.shape[1], f_.shape[2]);
  }
  uint64_t rows() const override { return shape_[0]; }
  uint64_t row_bytes() const override { return shape_[1] * eb_; }
  void produce(uint64_t r0, uint64_t r1, std::span<std::byte> out) const override {
    const TensorBytes b = checked_bytes(in_, f_);
    const uint64_t A = f_.shape[1], B = f_.shape[2];
    const std::byte* m = b.data() + e_ * A * B * eb_;
    std::byte* dst = out.data();
    const bool rows_contiguous = !p_.transposed && (p_.axis == 0 || p_.stride == 1);
    for (uint64_t x = r0; x < r1; ++x) {
      if (rows_contiguous) {  // one memcpy per row: the common case (gate half, up half, down)
        auto [a, bcol] = fused_coords(p_, x, 0);
        std::memcpy(dst, m + (a * B + bcol) * eb_, shape_[1] * eb_);
        dst += shape_[1] * eb_;
        continue;
      }
      for (uint64_t y = 0; y < shape_[1]; ++y, dst += eb_) {
        auto [a, bcol] = fused_coords(p_, x, y);
        std::memcpy(dst, m + (a * B + bcol) * eb_, eb_);
      }
    }
  }
  std::string describe() const override { return what_; }
  std::vector<const TensorInfo*> inputs() const override { return {&f_}; }

 private:
  const Checkpoint& in_;
  const TensorInfo& f_;
  uint64_t e_;
  ExpertPart p_;
  uint64_t eb_;
  std::vector<uint64_t> shape_;
  std::string what_;
};

// Rows of F = E * A rows of width B.
class FuseProducer final : public TensorProducer {
 public:
  FuseProducer(const Checkpoint& in, std::vector<std::vector<const TensorInfo*>> parts, std::vector<ExpertPart> geo,
               std::vector<uint64_t> shape, std::string what)
      : in_(in), parts_(std::move(parts)), geo_(std::move(geo)), shape_(std::move(shape)), what_(std::move(what)) {
    eb_ = elem_size(in_, *parts_.at(0).at(0));
    owner_.assign(shape_[1 + geo_[0].axis], {0, 0});
    for (size_t p = 0; p < geo_.size(); ++p)
      for (uint64_t k = 0; k < geo_[p].count; ++k) owner_.at(geo_[p].offset + k * geo_[p].stride) = {p, k};
  }
  uint64_t rows() const override { return shape_[0] * shape_[1]; }
  uint64_t row_bytes() const override { return shape_[2] * eb_; }
  void produce(uint64_t r0, uint64_t r1, std::span<std::byte> out) const override {
    std::byte* dst = out.data();
    const uint64_t A = shape_[1], B = shape_[2];
    for (uint64_t r = r0; r < r1; ++r, dst += B * eb_) {
      const uint64_t e = r / A, a = r % A;
      if (geo_[0].axis == 0) fill_row_axis0(e, a, dst);
      else fill_row_axis1(e, a, dst);
    }
  }
  std::string describe() const override { return what_; }
  std::vector<const TensorInfo*> inputs() const override {
    std::vector<const TensorInfo*> v;
    for (const auto& p : parts_) v.insert(v.end(), p.begin(), p.end());
    return v;
  }

 private:
  // Row a of F[e] is row (or, transposed, column) k of one part.
  void fill_row_axis0(uint64_t e, uint64_t a, std::byte* dst) const {
    const auto [p, k] = owner_[a];
    const TensorInfo& t = *parts_[p][e];
    const TensorBytes b = checked_bytes(in_, t);
    const uint64_t B = shape_[2];
    if (!geo_[p].transposed) {
      std::memcpy(dst, b.data() + k * B * eb_, B * eb_);
    } else {
      const uint64_t width = t.shape[1];  // P = Q^T is [B, count]
      for (uint64_t j = 0; j < B; ++j) std::memcpy(dst + j * eb_, b.data() + (j * width + k) * eb_, eb_);
    }
    // The part's last row: its pages leave the resident set now, not when the whole fused
    // tensor is done (that would hold every expert's input at once).
    if (k + 1 == geo_[p].count) in_.release_pages(t, 0, t.nbytes);
  }
  // Each element of row a belongs to the part owning its column.
  void fill_row_axis1(uint64_t e, uint64_t a, std::byte* dst) const {
    std::vector<TensorBytes> bytes(parts_.size());
    for (size_t p = 0; p < parts_.size(); ++p) bytes[p] = checked_bytes(in_, *parts_[p][e]);
    for (uint64_t j = 0; j < shape_[2]; ++j) {
      const auto [p, k] = owner_[j];
      const TensorInfo& t = *parts_[p][e];
      const uint64_t at = geo_[p].transposed ? k * t.shape[1] + a : a * t.shape[1] + k;
      std::memcpy(dst + j * eb_, bytes[p].data() + at * eb_, eb_);
    }
    if (a + 1 == shape_[1])  // the expert's last row: as above
      for (size_t p = 0; p < parts_.size(); ++p) in_.release_pages(*parts_[p][e], 0, parts_[p][e]->nbytes);
  }

  const Checkpoint& in_;
  std::vector<std::vector<const TensorInfo*>> parts_;
  std::vector<ExpertPart> geo_;
  std::vector<uint64_t> shape_;
  std::string what_;
  uint64_t eb_ = 1;
  std::vector<std::pair<size_t, uint64_t>> owner_;  // per index of the split axis: part, k
};

}  // namespace

std::vector<uint64_t> part_shape(const ExpertPart& p, uint64_t a, uint64_t b) {
  std::vector<uint64_t> q = p.axis == 0 ? std::vector<uint64_t>{p.count, b} : std::vector<uint64_t>{a, p.count};
  if (p.transposed) std::swap(q[0], q[1]);
  return q;
}

std::shared_ptr<const TensorProducer> make_split_producer(const Checkpoint& in, const TensorInfo& fused, uint64_t expert,
                                                          ExpertPart part, std::string describe) {
  return std::make_shared<SplitProducer>(in, fused, expert, part, std::move(describe));
}

std::shared_ptr<const TensorProducer> make_fuse_producer(const Checkpoint& in, std::vector<std::vector<const TensorInfo*>> parts,
                                                         std::vector<ExpertPart> geometry, std::vector<uint64_t> fused_shape,
                                                         std::string describe) {
  return std::make_shared<FuseProducer>(in, std::move(parts), std::move(geometry), std::move(fused_shape), std::move(describe));
}

}  // namespace moeckpt
