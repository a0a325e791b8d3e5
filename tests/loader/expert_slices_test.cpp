// Split and fuse producers against an independent element-by-element reading of the same
// geometry: every element of a split lands where the formula says, and fusing the splits back
// gives the fused bytes exactly, for halves, interleaving and transposes.
#include "loader/expert_slices.h"

#include <gtest/gtest.h>

#include <cstring>

#include "loader/error.h"
#include "test_util.h"

namespace moeckpt {
namespace {

using testing::TempDir;

// F [E, A, B] of U16 elements, element (e, a, b) = e * 1000 + a * 10 + b.
constexpr uint64_t E = 2, A = 6, B = 4;

uint16_t value(uint64_t e, uint64_t a, uint64_t b) { return static_cast<uint16_t>(e * 1000 + a * 10 + b); }

Checkpoint fused_checkpoint(const TempDir& tmp) {
  std::string data;
  for (uint64_t e = 0; e < E; ++e)
    for (uint64_t a = 0; a < A; ++a)
      for (uint64_t b = 0; b < B; ++b) {
        const uint16_t v = value(e, a, b);
        data.append(reinterpret_cast<const char*>(&v), 2);
      }
  const std::string header = R"({"f":{"dtype":"U16","shape":[2,6,4],"data_offsets":[0,)" + std::to_string(data.size()) + "]}}";
  testing::write_file(tmp.path() / "model.safetensors", testing::safetensors_bytes(header, data));
  return Checkpoint::open(tmp.path() / "model.safetensors");
}

std::vector<uint16_t> run(const TensorProducer& p) {
  std::vector<std::byte> out(p.rows() * p.row_bytes());
  // Two slices, as the writer's threads would ask for them.
  const uint64_t mid = p.rows() / 2;
  p.produce(0, mid, std::span(out.data(), mid * p.row_bytes()));
  p.produce(mid, p.rows(), std::span(out.data() + mid * p.row_bytes(), (p.rows() - mid) * p.row_bytes()));
  std::vector<uint16_t> v(out.size() / 2);
  std::memcpy(v.data(), out.data(), out.size());
  return v;
}

// The element of F[e] that P[x, y] is, written out without the producer's index arithmetic.
uint16_t expected(const ExpertPart& p, uint64_t e, uint64_t x, uint64_t y) {
  const uint64_t i = p.transposed ? y : x, j = p.transposed ? x : y;  // indices into the part Q
  return p.axis == 0 ? value(e, p.offset + i * p.stride, j) : value(e, i, p.offset + j * p.stride);
}

struct Geometry {
  const char* name;
  std::vector<ExpertPart> parts;  // covering the split axis exactly once
};

std::vector<Geometry> geometries() {
  return {
      {"halves on rows", {{0, 0, 1, 3, false}, {0, 3, 1, 3, false}}},
      {"interleaved rows", {{0, 0, 2, 3, false}, {0, 1, 2, 3, false}}},
      {"halves on columns, transposed", {{1, 0, 1, 2, true}, {1, 2, 1, 2, true}}},
      {"interleaved columns, transposed", {{1, 0, 2, 2, true}, {1, 1, 2, 2, true}}},
      {"whole, transposed", {{1, 0, 1, 4, true}}},
      {"whole", {{0, 0, 1, 6, false}}},
  };
}

TEST(ExpertSlices, SplitTakesExactlyThePartsElements) {
  TempDir tmp;
  Checkpoint ck = fused_checkpoint(tmp);
  const TensorInfo& f = *ck.find("f");
  for (const auto& g : geometries())
    for (const auto& part : g.parts)
      for (uint64_t e = 0; e < E; ++e) {
        auto p = make_split_producer(ck, f, e, part, "split");
        const auto shape = part_shape(part, A, B);
        ASSERT_EQ(p->rows(), shape[0]) << g.name;
        ASSERT_EQ(p->row_bytes(), shape[1] * 2) << g.name;
        const auto got = run(*p);
        for (uint64_t x = 0; x < shape[0]; ++x)
          for (uint64_t y = 0; y < shape[1]; ++y)
            ASSERT_EQ(got[x * shape[1] + y], expected(part, e, x, y)) << g.name << " expert " << e << " (" << x << ", " << y << ")";
      }
}

TEST(ExpertSlices, FusingTheSplitsGivesTheFusedBytes) {
  for (const auto& g : geometries()) {
    TempDir tmp;
    Checkpoint ck = fused_checkpoint(tmp);
    const TensorInfo& f = *ck.find("f");
    // Write every split to a second checkpoint, then fuse from it.
    std::string header = "{", data;
    for (size_t k = 0; k < g.parts.size(); ++k)
      for (uint64_t e = 0; e < E; ++e) {
        const auto shape = part_shape(g.parts[k], A, B);
        const auto v = run(*make_split_producer(ck, f, e, g.parts[k], "split"));
        header += (header.size() > 1 ? "," : "") + std::string("\"p") + std::to_string(k) + "." + std::to_string(e) + R"(":{"dtype":"U16","shape":[)" +
                  std::to_string(shape[0]) + "," + std::to_string(shape[1]) + R"(],"data_offsets":[)" + std::to_string(data.size()) + "," +
                  std::to_string(data.size() + v.size() * 2) + "]}";
        data.append(reinterpret_cast<const char*>(v.data()), v.size() * 2);
      }
    header += "}";
    TempDir tmp2;
    testing::write_file(tmp2.path() / "model.safetensors", testing::safetensors_bytes(header, data));
    Checkpoint parts = Checkpoint::open(tmp2.path() / "model.safetensors");
    std::vector<std::vector<const TensorInfo*>> in(g.parts.size());
    for (size_t k = 0; k < g.parts.size(); ++k)
      for (uint64_t e = 0; e < E; ++e) in[k].push_back(parts.find("p" + std::to_string(k) + "." + std::to_string(e)));
    auto fuse = make_fuse_producer(parts, in, g.parts, {E, A, B}, "fuse");
    const auto got = run(*fuse);
    ASSERT_EQ(got.size(), E * A * B) << g.name;
    for (uint64_t e = 0; e < E; ++e)
      for (uint64_t a = 0; a < A; ++a)
        for (uint64_t b = 0; b < B; ++b) ASSERT_EQ(got[(e * A + a) * B + b], value(e, a, b)) << g.name << " (" << e << ", " << a << ", " << b << ")";
  }
}

TEST(ExpertSlices, SubByteElementsAreRefused) {
  TempDir tmp;
  testing::write_file(tmp.path() / "model.safetensors",
                      testing::safetensors_bytes(R"({"f":{"dtype":"F4","shape":[2,2,4],"data_offsets":[0,8]}})", std::string(8, '\0')));
  Checkpoint ck = Checkpoint::open(tmp.path() / "model.safetensors");
  EXPECT_THROW(make_split_producer(ck, *ck.find("f"), 0, {0, 0, 1, 1, false}, "split"), Error);
}

}  // namespace
}  // namespace moeckpt
