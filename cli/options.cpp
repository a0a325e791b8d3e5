#include "cli/options.h"

#include <cctype>
#include <charconv>
#include <optional>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "loader/error.h"
#include "quant/layouts.h"

namespace moeckpt::cli {
namespace {

std::string upper(std::string_view s) {
  std::string u;
  for (char c : s) u.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return u;
}

// Bytes per unit; 0 for an unknown unit.
double unit_bytes(const std::string& unit) {
  struct U {
    const char* name;
    double bytes;
  };
  static const U units[] = {{"", 1},         {"B", 1},
                            {"KB", 1e3},     {"MB", 1e6},
                            {"GB", 1e9},     {"TB", 1e12},
                            {"KIB", 1024.0}, {"MIB", 1024.0 * 1024},
                            {"GIB", 1024.0 * 1024 * 1024}, {"TIB", 1024.0 * 1024 * 1024 * 1024}};
  for (const auto& u : units)
    if (unit == u.name) return u.bytes;
  return 0;
}

}  // namespace

uint64_t parse_size(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) throw Error(Errc::kUsage, "--max-shard-size", "'" + text + "' is not a size (e.g. 5GB, 500MB, 2GiB)");
  double value = 0;
  size_t used = 0;
  try {
    value = std::stod(text.substr(0, i), &used);
  } catch (const std::exception&) {
  }
  // "1..2GB" would otherwise read as 1GB.
  if (used != i) throw Error(Errc::kUsage, "--max-shard-size", "'" + text + "' is not a size");
  const double mult = unit_bytes(upper(text.substr(i)));
  if (mult == 0)
    throw Error(Errc::kUsage, "--max-shard-size", "unknown unit '" + text.substr(i) + "' (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)");
  double bytes = value * mult;
  if (!(bytes >= 1) || bytes > 1.8e19) throw Error(Errc::kUsage, "--max-shard-size", "'" + text + "' is out of range");
  return static_cast<uint64_t>(std::llround(bytes));
}

std::pair<unsigned, unsigned> parse_worker(const std::string& text) {
  unsigned i = 0, n = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%u/%u%c", &i, &n, &extra) != 2 || n == 0 || i == 0 || i > n)
    throw Error(Errc::kUsage, "--worker", "'" + text + "' must be I/N with 1 <= I <= N");
  return {i - 1, n};
}

namespace {

// A whole number from the environment, or nullopt when unset. Throws for anything else.
std::optional<uint64_t> env_number(EnvLookup getenv, const char* name) {
  const char* v = getenv(name);
  if (v == nullptr) return std::nullopt;
  uint64_t n = 0;
  const std::string_view s(v);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    throw Error(Errc::kUsage, "--worker", std::string("auto: ") + name + "='" + v + "' is not a whole number");
  return n;
}

std::pair<unsigned, unsigned> slurm_share(EnvLookup getenv, uint64_t id, unsigned workers) {
  const auto min = env_number(getenv, "SLURM_ARRAY_TASK_MIN"), count = env_number(getenv, "SLURM_ARRAY_TASK_COUNT");
  const uint64_t step = env_number(getenv, "SLURM_ARRAY_TASK_STEP").value_or(1);
  if (!min || !count || *count == 0 || step == 0)
    throw Error(Errc::kUsage, "--worker", "auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_MIN/COUNT are not: is this a job array?");
  if (id < *min || (id - *min) % step != 0 || (id - *min) / step >= *count || *count > 1'000'000)
    throw Error(Errc::kUsage, "--worker",
                "auto: SLURM_ARRAY_TASK_ID " + std::to_string(id) + " is not one of the array's " + std::to_string(*count) +
                    " tasks (min " + std::to_string(*min) + ", step " + std::to_string(step) + ")");
  if (workers && workers != *count)
    throw Error(Errc::kUsage, "--workers", std::to_string(workers) + " but the Slurm array has " + std::to_string(*count) + " tasks");
  return {static_cast<unsigned>((id - *min) / step), static_cast<unsigned>(*count)};
}

}  // namespace

std::pair<unsigned, unsigned> worker_from_environment(EnvLookup getenv, unsigned workers) {
  if (auto id = env_number(getenv, "SLURM_ARRAY_TASK_ID")) return slurm_share(getenv, *id, workers);
  if (auto index = env_number(getenv, "JOB_COMPLETION_INDEX")) {
    if (workers == 0)
      throw Error(Errc::kUsage, "--workers", "auto with JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) needs --workers N, the Job's completions");
    if (*index >= workers)
      throw Error(Errc::kUsage, "--worker", "auto: JOB_COMPLETION_INDEX " + std::to_string(*index) + " is not below --workers " + std::to_string(workers));
    return {static_cast<unsigned>(*index), workers};
  }
  throw Error(Errc::kUsage, "--worker",
              "auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set");
}

DType parse_target(const std::string& s, const char* flag, bool fp8_ok) {
  const std::string u = upper(s);
  if (u == "BF16" || u == "BFLOAT16") return DType::kBF16;
  if (u == "F16" || u == "FP16" || u == "FLOAT16") return DType::kF16;
  if (u == "F32" || u == "FP32" || u == "FLOAT32") return DType::kF32;
  if (fp8_ok && (u == "F8_E4M3" || u == "FP8" || u == "FLOAT8_E4M3FN")) return DType::kF8_E4M3;
  if (fp8_ok && (u == "F8_E5M2" || u == "FLOAT8_E5M2")) return DType::kF8_E5M2;
  throw Error(Errc::kUsage, flag, "'" + s + "' is not one of " + (fp8_ok ? "BF16, F16, F32, F8_E4M3, F8_E5M2" : "bf16, f16, f32"));
}

quant::QuantizeTarget parse_quantize(const std::string& text) {
  for (const auto& l : quant::kQuantizeLayouts)
    if (text == l.name) return l.target;
  std::string names;
  for (const auto& l : quant::kQuantizeLayouts) names += (names.empty() ? "" : ", ") + std::string(l.name);
  throw Error(Errc::kUsage, "--quantize", "'" + text + "' is not one of " + names);
}

}  // namespace moeckpt::cli
