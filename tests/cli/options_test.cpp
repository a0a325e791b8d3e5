// Option values that are parsed: sizes, worker shares, target dtypes, quantize schemes.
#include "cli/options.h"

#include <gtest/gtest.h>

#include "loader/error.h"

namespace moeckpt::cli {
namespace {

Errc code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return Errc::kUnsupported;
}

TEST(ParseSize, DecimalAndBinaryUnitsInAnyCase) {
  EXPECT_EQ(parse_size("1048576"), 1048576u);
  EXPECT_EQ(parse_size("12B"), 12u);
  EXPECT_EQ(parse_size("5GB"), 5'000'000'000u);
  EXPECT_EQ(parse_size("500mb"), 500'000'000u);
  EXPECT_EQ(parse_size("2KB"), 2000u);
  EXPECT_EQ(parse_size("1TB"), 1'000'000'000'000u);
  EXPECT_EQ(parse_size("2GiB"), 2ull << 30);
  EXPECT_EQ(parse_size("1.5GiB"), 3ull << 29);
  EXPECT_EQ(parse_size("1kib"), 1024u);
  EXPECT_EQ(parse_size("3MiB"), 3ull << 20);
  EXPECT_EQ(parse_size("1TiB"), 1ull << 40);
  EXPECT_EQ(parse_size("0.5KB"), 500u);
}

TEST(ParseSize, RefusesWhatIsNotASizeNamingTheOption) {
  for (const char* bad : {"", "GB", "-5GB", "5 GB", "5XB", "1..2GB", "0", "0.1B", "99999999999TB", "five"}) {
    try {
      parse_size(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kUsage) << bad;
      EXPECT_EQ(e.file(), "--max-shard-size") << bad;
    }
  }
}

TEST(ParseWorker, OneBasedIOverNToAZeroBasedShare) {
  EXPECT_EQ(parse_worker("1/1"), (std::pair<unsigned, unsigned>{0, 1}));
  EXPECT_EQ(parse_worker("3/4"), (std::pair<unsigned, unsigned>{2, 4}));
  EXPECT_EQ(parse_worker("4/4"), (std::pair<unsigned, unsigned>{3, 4}));
  for (const char* bad : {"0/4", "5/4", "1/0", "1/", "/4", "1/4x", "a/b", "2"})
    EXPECT_EQ(code_of([&] { parse_worker(bad); }), Errc::kUsage) << bad;
}

TEST(ParseTarget, NamesAndAliasesFp8OnlyWhereAllowed) {
  EXPECT_EQ(parse_target("bf16", "--dequant", false), DType::kBF16);
  EXPECT_EQ(parse_target("BFloat16", "--dequant", false), DType::kBF16);
  EXPECT_EQ(parse_target("fp16", "--dequant", false), DType::kF16);
  EXPECT_EQ(parse_target("float32", "--dequant", false), DType::kF32);
  EXPECT_EQ(parse_target("fp8", "--cast", true), DType::kF8_E4M3);
  EXPECT_EQ(parse_target("float8_e5m2", "--cast", true), DType::kF8_E5M2);
  EXPECT_EQ(code_of([] { parse_target("fp8", "--dequant", false); }), Errc::kUsage);
  EXPECT_EQ(code_of([] { parse_target("int8", "--cast", true); }), Errc::kUsage);
}

TEST(ParseQuantize, TheTwoSchemesConvertWrites) {
  EXPECT_EQ(parse_quantize("fp8-block"), quant::QuantizeTarget::kFp8Block);
  EXPECT_EQ(parse_quantize("mxfp4"), quant::QuantizeTarget::kMxfp4);
  EXPECT_EQ(code_of([] { parse_quantize("nvfp4"); }), Errc::kUsage);
  EXPECT_EQ(code_of([] { parse_quantize("FP8-BLOCK"); }), Errc::kUsage);
}

}  // namespace
}  // namespace moeckpt::cli
