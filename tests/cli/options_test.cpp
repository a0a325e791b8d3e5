// Option values that are parsed: sizes, worker shares, target dtypes, quantize schemes.
#include "cli/options.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "loader/error.h"

namespace moeckpt::cli {
namespace {

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
    EXPECT_EQ(testing::code_of([&] { parse_worker(bad); }), Errc::kUsage) << bad;
}

TEST(ParseTarget, NamesAndAliasesFp8OnlyWhereAllowed) {
  EXPECT_EQ(parse_target("bf16", "--dequant", false), DType::kBF16);
  EXPECT_EQ(parse_target("BFloat16", "--dequant", false), DType::kBF16);
  EXPECT_EQ(parse_target("fp16", "--dequant", false), DType::kF16);
  EXPECT_EQ(parse_target("float32", "--dequant", false), DType::kF32);
  EXPECT_EQ(parse_target("fp8", "--cast", true), DType::kF8_E4M3);
  EXPECT_EQ(parse_target("float8_e5m2", "--cast", true), DType::kF8_E5M2);
  EXPECT_EQ(testing::code_of([] { parse_target("fp8", "--dequant", false); }), Errc::kUsage);
  EXPECT_EQ(testing::code_of([] { parse_target("int8", "--cast", true); }), Errc::kUsage);
}

TEST(ParseQuantize, TheSchemesConvertWrites) {
  EXPECT_EQ(parse_quantize("fp8-block"), quant::QuantizeTarget::kFp8Block);
  EXPECT_EQ(parse_quantize("mxfp4"), quant::QuantizeTarget::kMxfp4);
  EXPECT_EQ(parse_quantize("fp8-tensor"), quant::QuantizeTarget::kFp8Tensor);
  EXPECT_EQ(parse_quantize("fp8-channel"), quant::QuantizeTarget::kFp8Channel);
  EXPECT_EQ(parse_quantize("nvfp4"), quant::QuantizeTarget::kNvfp4);
  EXPECT_EQ(testing::code_of([] { parse_quantize("nvfp8"); }), Errc::kUsage);
  EXPECT_EQ(testing::code_of([] { parse_quantize("FP8-BLOCK"); }), Errc::kUsage);
}

}  // namespace
}  // namespace moeckpt::cli

namespace moeckpt::cli {
namespace {

// A fake environment for worker_from_environment.
std::map<std::string, std::string>* g_env = nullptr;
const char* fake_getenv(const char* name) {
  auto it = g_env->find(name);
  return it == g_env->end() ? nullptr : it->second.c_str();
}

std::pair<unsigned, unsigned> share(std::map<std::string, std::string> env, unsigned workers = 0) {
  g_env = &env;
  return worker_from_environment(fake_getenv, workers);
}

TEST(WorkerFromEnvironment, SlurmArrayTaskOfItsArray) {
  std::map<std::string, std::string> a = {{"SLURM_ARRAY_TASK_ID", "7"}, {"SLURM_ARRAY_TASK_MIN", "4"}, {"SLURM_ARRAY_TASK_COUNT", "4"}};
  EXPECT_EQ(share(a), (std::pair<unsigned, unsigned>{3, 4}));
  EXPECT_EQ(share(a, 4), (std::pair<unsigned, unsigned>{3, 4}));
  // --array=0-6:2 has tasks 0, 2, 4, 6.
  std::map<std::string, std::string> stepped = {
      {"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_STEP", "2"}};
  EXPECT_EQ(share(stepped), (std::pair<unsigned, unsigned>{2, 4}));
}

TEST(WorkerFromEnvironment, KubernetesIndexedJobWithWorkers) {
  EXPECT_EQ(share({{"JOB_COMPLETION_INDEX", "0"}}, 3), (std::pair<unsigned, unsigned>{0, 3}));
  EXPECT_EQ(share({{"JOB_COMPLETION_INDEX", "2"}}, 3), (std::pair<unsigned, unsigned>{2, 3}));
}

TEST(WorkerFromEnvironment, RefusesWhatDoesNotDescribeOneTaskOfAnArray) {
  const std::vector<std::pair<std::map<std::string, std::string>, unsigned>> bad = {
      {{}, 0},                                                                                             // no scheduler
      {{{"SLURM_ARRAY_TASK_ID", "1"}}, 0},                                                                 // not an array
      {{{"SLURM_ARRAY_TASK_ID", "9"}, {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, 0},  // past the end
      {{{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_MIN", "2"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, 0},  // below the min
      {{{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, 0},  // not a number
      {{{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, 3},  // --workers disagrees
      {{{"JOB_COMPLETION_INDEX", "0"}}, 0},                                                                // no --workers
      {{{"JOB_COMPLETION_INDEX", "3"}}, 3},                                                                // index past the end
      {{{"JOB_COMPLETION_INDEX", "-1"}}, 3},
  };
  for (const auto& [env, workers] : bad) {
    try {
      share(env, workers);
      ADD_FAILURE() << "accepted an environment of " << env.size() << " variables, --workers " << workers;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kUsage);
    }
  }
}

}  // namespace
}  // namespace moeckpt::cli
