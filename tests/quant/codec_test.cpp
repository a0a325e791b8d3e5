// Every number format against tables ml_dtypes 0.6 and torch 2.11 produced in the reference
// environment (testdata/generate.py, part "formats"): all codes decoded, and 226k float32 inputs
// (every bfloat16 value, random bit patterns, midpoints and their neighbours for every format,
// overflow, subnormals, NaN payloads, -0) encoded. Bit for bit.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>

#include "quant/codec.h"
#include "quant/half.h"
#include "test_util.h"

namespace moeckpt::quant {
namespace {

struct Table {
  const char* name;
  Fmt fmt;
  bool torch_agrees;  // torch's encoder matches ml_dtypes (checked separately below)
};

constexpr Table kTables[] = {
    {"f8_e4m3fn", Fmt::kE4M3FN, true},     {"f8_e5m2", Fmt::kE5M2, true}, {"f8_e4m3fnuz", Fmt::kE4M3FNUZ, true},
    {"f8_e5m2fnuz", Fmt::kE5M2FNUZ, true}, {"f8_e8m0fnu", Fmt::kE8M0, false}, {"f4_e2m1fn", Fmt::kE2M1, false},
    {"bf16", Fmt::kBF16, true},            {"f16", Fmt::kF16, true},
};

std::vector<uint32_t> read_u32(const std::string& rel) {
  std::string s = testing::read_file(testing::testdata(rel));
  std::vector<uint32_t> v(s.size() / 4);
  std::memcpy(v.data(), s.data(), v.size() * 4);
  return v;
}

std::vector<uint32_t> read_codes(const std::string& rel, int bits) {
  std::string s = testing::read_file(testing::testdata(rel));
  std::vector<uint32_t> v;
  if (bits == 16) {
    v.resize(s.size() / 2);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(s[2 * i]) | (static_cast<uint8_t>(s[2 * i + 1]) << 8);
  } else {
    for (char c : s) v.push_back(static_cast<uint8_t>(c));
  }
  return v;
}

uint32_t encode_one(Fmt f, float x) {
  uint8_t buf[4] = {0, 0, 0, 0};
  encode_at(f, x, buf, 0);
  if (fmt_bits(f) == 16) return buf[0] | (buf[1] << 8);
  return f == Fmt::kE2M1 ? (buf[0] & 0xF) : buf[0];
}

class FormatTables : public ::testing::TestWithParam<Table> {};

TEST_P(FormatTables, DecodesEveryCodeExactly) {
  const Table& t = GetParam();
  auto want = read_u32(std::string("formats/decode_") + t.name + ".u32");
  int bits = fmt_bits(t.fmt);
  ASSERT_EQ(want.size(), 1u << bits);
  int bad = 0;
  for (uint32_t c = 0; c < want.size(); ++c) {
    uint8_t buf[2] = {static_cast<uint8_t>(c & 0xFF), static_cast<uint8_t>(c >> 8)};
    uint32_t got = std::bit_cast<uint32_t>(decode_at(t.fmt, buf, 0));
    if (got != want[c] && bad++ < 10) ADD_FAILURE() << t.name << " code 0x" << std::hex << c << ": got 0x" << got << " want 0x" << want[c];
  }
  EXPECT_EQ(bad, 0);
}

TEST_P(FormatTables, EncodesLikeMlDtypes) {
  const Table& t = GetParam();
  auto in = read_u32("formats/encode_inputs.f32");
  ASSERT_GT(in.size(), 100000u);
  auto want = read_codes(std::string("formats/encode_") + t.name + "_mldtypes.bin", fmt_bits(t.fmt));
  ASSERT_EQ(want.size(), in.size());
  int bad = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    uint32_t got = encode_one(t.fmt, std::bit_cast<float>(in[i]));
    if (got != want[i] && bad++ < 10)
      ADD_FAILURE() << t.name << " input 0x" << std::hex << in[i] << " (" << std::bit_cast<float>(in[i]) << "): got 0x" << got
                    << " want 0x" << want[i];
  }
  EXPECT_EQ(bad, 0);
}

// torch agrees with ml_dtypes for these formats except NaN payloads; check the torch table too,
// NaN inputs excepted, so a drift between the two peers shows up here.
TEST_P(FormatTables, EncodesLikeTorchWhereTorchHasTheFormat) {
  const Table& t = GetParam();
  if (!t.torch_agrees) GTEST_SKIP() << t.name << ": torch differs from ml_dtypes by design (see summary.json)";
  auto in = read_u32("formats/encode_inputs.f32");
  auto want = read_codes(std::string("formats/encode_") + t.name + "_torch.bin", fmt_bits(t.fmt));
  ASSERT_EQ(want.size(), in.size());
  int bad = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    float x = std::bit_cast<float>(in[i]);
    if (x != x) continue;
    uint32_t got = encode_one(t.fmt, x);
    if (got != want[i] && bad++ < 10) ADD_FAILURE() << t.name << " input 0x" << std::hex << in[i] << ": got 0x" << got << " torch 0x" << want[i];
  }
  EXPECT_EQ(bad, 0);
}

INSTANTIATE_TEST_SUITE_P(All, FormatTables, ::testing::ValuesIn(kTables),
                         [](const ::testing::TestParamInfo<Table>& p) { return std::string(p.param.name); });

TEST(Formats, MaxFiniteValues) {
  EXPECT_EQ(fmt_max(Fmt::kE4M3FN), 448.0f);
  EXPECT_EQ(fmt_max(Fmt::kE5M2), 57344.0f);
  EXPECT_EQ(fmt_max(Fmt::kE4M3FNUZ), 240.0f);
  EXPECT_EQ(fmt_max(Fmt::kE5M2FNUZ), 57344.0f);
  EXPECT_EQ(fmt_max(Fmt::kE2M1), 6.0f);
  EXPECT_EQ(fmt_max(Fmt::kE8M0), std::ldexp(1.0f, 127));
  EXPECT_EQ(fmt_max(Fmt::kF16), 65504.0f);
}

TEST(Formats, SaturateClampsInsteadOfOverflowing) {
  uint8_t b[4] = {};
  encode_at(Fmt::kE4M3FN, 1000.0f, b, 0, true);
  EXPECT_EQ(b[0], 0x7E);
  encode_at(Fmt::kE4M3FN, -INFINITY, b, 0, true);
  EXPECT_EQ(b[0], 0xFE);
  encode_at(Fmt::kE4M3FN, 1000.0f, b, 0, false);
  EXPECT_EQ(b[0], 0x7F);  // NaN without --saturate, as ml_dtypes
  encode_at(Fmt::kE5M2, 1e6f, b, 0, true);
  EXPECT_EQ(b[0], 0x7B);
  encode_at(Fmt::kE5M2, 1e6f, b, 0, false);
  EXPECT_EQ(b[0], 0x7C);  // Inf
  encode_at(Fmt::kBF16, INFINITY, b, 0, true);
  EXPECT_EQ(b[0] | (b[1] << 8), 0x7F7F);
}

TEST(Formats, E2M1PacksFirstElementInTheLowNibble) {
  uint8_t b[1] = {0};
  encode_at(Fmt::kE2M1, 1.0f, b, 0);   // code 2
  encode_at(Fmt::kE2M1, -6.0f, b, 1);  // code 15
  EXPECT_EQ(b[0], 0xF2);
  EXPECT_EQ(decode_at(Fmt::kE2M1, b, 0), 1.0f);
  EXPECT_EQ(decode_at(Fmt::kE2M1, b, 1), -6.0f);
}

TEST(Formats, DtypeMapping) {
  EXPECT_EQ(fmt_of(DType::kF8_E4M3), Fmt::kE4M3FN);
  EXPECT_EQ(fmt_of(DType::kF4), Fmt::kE2M1);
  EXPECT_FALSE(fmt_of(DType::kI8).has_value());
  for (int f = 0; f < 9; ++f) EXPECT_EQ(fmt_of(dtype_of(static_cast<Fmt>(f))), static_cast<Fmt>(f));
}

}  // namespace
}  // namespace moeckpt::quant
