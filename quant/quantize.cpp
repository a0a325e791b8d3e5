#include "quant/quantize.h"

#include "quant/layouts.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "loader/error.h"
#include "quant/fp4.h"
#include "quant/fp8.h"
#include "quant/kernels.h"

namespace moeckpt::quant {
namespace {


bool ends_with(std::string_view s, std::string_view suffix) { return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix; }


void require_finite(float amax, uint64_t row) {
  if (!std::isfinite(amax))
    throw Error(Errc::kUnsupported, "quantize", "row " + std::to_string(row) + " holds NaN or Inf: a scale cannot be computed");
}

// The shared MX exponent of a group: floor(log2(amax)) - 2, within e8m0's [-127, 127].
int mx_exponent(float amax) {
  if (amax == 0.0f) return -127;
  int e = 0;
  std::frexp(amax, &e);  // amax = m * 2^e, m in [0.5, 1)
  return std::clamp(e - 1 - 2, -127, 127);
}

// Packed E2M1 codes of rows [r0, r1): each element divided by its group's divisor (what
// `divisors_of(row, divisors)` fills in) and rounded, saturating at +-6.
template <typename Divisors>
void e2m1_rows(const MatrixView& m, uint64_t group, uint64_t r0, uint64_t r1, std::byte* dst, Divisors&& divisors_of) {
  std::vector<float> divisors(m.in / group);
  RowJob job;
  job.in = m.fmt;
  job.op = ScaleOp::kDivide;
  job.group = group;
  job.out = Fmt::kE2M1;
  job.saturate = true;
  for (uint64_t r = r0; r < r1; ++r) {
    divisors_of(r, divisors);
    job.src = m.data + r * m.in * elem_bytes(m.fmt);
    job.n = m.in;
    job.scales = divisors.data();
    job.dst = dst + (r - r0) * (m.in / 2);
    run_row(job);
  }
}

}  // namespace

bool should_quantize(std::string_view name, DType dtype, const std::vector<uint64_t>& shape, QuantizeTarget target) {
  if (dtype != DType::kF32 && dtype != DType::kF16 && dtype != DType::kBF16) return false;
  if (shape.size() != 2 && shape.size() != 3) return false;
  if (!ends_with(name, ".weight")) return false;
  for (std::string_view skip : {"embed", "norm", "lm_head", "wte", "wpe", "router", "shared_expert_gate"})
    if (name.find(skip) != std::string_view::npos) return false;
  // MoE routers (`mlp.gate.weight`, `ffn.gate.weight`) and DeepSeek V4's output `head.weight`.
  if (ends_with(name, ".gate.weight") || name == "head.weight" || ends_with(name, ".head.weight")) return false;
  if (target == QuantizeTarget::kMxfp4 && shape.back() % kMxGroup != 0) return false;
  // One weight_scale_2 per weight: fused 3-D experts would need one per expert.
  if (target == QuantizeTarget::kNvfp4 && (shape.size() != 2 || shape.back() % kNvfp4Group != 0)) return false;
  return true;
}

void fp8_block_scales(const MatrixView& m, uint64_t b0, uint64_t b1, uint64_t s0, uint64_t s1, float* dst) {
  const uint64_t so = ceil_div(m.out, b0), si = ceil_div(m.in, b1), es = elem_bytes(m.fmt);
  for (uint64_t s = s0; s < s1; ++s) {
    const uint64_t lead = s / so, ob = s % so;
    const uint64_t row_first = lead * m.out + ob * b0, row_end = lead * m.out + std::min(m.out, (ob + 1) * b0);
    float* out = dst + (s - s0) * si;
    std::fill(out, out + si, 0.0f);
    for (uint64_t r = row_first; r < row_end; ++r) {
      for (uint64_t j = 0; j < si; ++j) {
        const uint64_t c0 = j * b1, n = std::min(m.in, c0 + b1) - c0;
        float a = absmax(m.fmt, m.data + (r * m.in + c0) * es, n);
        require_finite(a, r);
        out[j] = std::max(out[j], a);
      }
    }
    for (uint64_t j = 0; j < si; ++j) out[j] = out[j] == 0.0f ? 1.0f : out[j] / kE4M3FNMax;
  }
}

void fp8_block_quantize(const MatrixView& m, uint64_t b0, uint64_t b1, uint64_t r0, uint64_t r1, std::byte* dst) {
  const uint64_t so = ceil_div(m.out, b0), si = ceil_div(m.in, b1), es = elem_bytes(m.fmt);
  std::vector<float> scales(si);
  uint64_t have = UINT64_MAX;
  RowJob job;
  job.in = m.fmt;
  job.op = ScaleOp::kDivide;
  job.group = b1;
  job.out = Fmt::kE4M3FN;
  job.saturate = true;
  for (uint64_t r = r0; r < r1; ++r) {
    const uint64_t srow = (r / m.out) * so + (r % m.out) / b0;
    if (srow != have) {
      fp8_block_scales(m, b0, b1, srow, srow + 1, scales.data());
      have = srow;
    }
    job.src = m.data + r * m.in * es;
    job.n = m.in;
    job.scales = scales.data();
    job.dst = dst + (r - r0) * m.in;
    run_row(job);
  }
}

void mxfp4_scales(const MatrixView& m, uint64_t r0, uint64_t r1, std::byte* dst) {
  if (m.in % kMxGroup) throw Error(Errc::kUnsupported, "quantize", "MXFP4 needs rows that are a multiple of 32 long");
  const uint64_t groups = m.in / kMxGroup, es = elem_bytes(m.fmt);
  for (uint64_t r = r0; r < r1; ++r)
    for (uint64_t g = 0; g < groups; ++g) {
      float a = absmax(m.fmt, m.data + (r * m.in + g * kMxGroup) * es, kMxGroup);
      require_finite(a, r);
      dst[(r - r0) * groups + g] = static_cast<std::byte>(mx_exponent(a) + 127);
    }
}

void mxfp4_quantize(const MatrixView& m, uint64_t r0, uint64_t r1, std::byte* dst) {
  std::vector<std::byte> codes(m.in / kMxGroup);
  e2m1_rows(m, kMxGroup, r0, r1, dst, [&](uint64_t r, std::vector<float>& divisors) {
    mxfp4_scales(m, r, r + 1, codes.data());
    for (size_t g = 0; g < divisors.size(); ++g) divisors[g] = std::ldexp(1.0f, static_cast<int>(codes[g]) - 127);
  });
}

float nvfp4_global_scale(const MatrixView& m) {
  const uint64_t es = elem_bytes(m.fmt);
  float amax = 0.0f;
  for (uint64_t r = 0; r < m.rows; ++r) {
    const float a = absmax(m.fmt, m.data + r * m.in * es, m.in);
    require_finite(a, r);
    amax = std::max(amax, a);
  }
  // An all-zero weight: every block gets scale 1 and codes 0 whatever the global scale is.
  return amax == 0.0f ? 1.0f : amax / (kE2M1Max * kE4M3FNMax);
}

void nvfp4_scales(const MatrixView& m, float global, uint64_t r0, uint64_t r1, std::byte* dst) {
  const uint64_t groups = m.in / kNvfp4Group, es = elem_bytes(m.fmt);
  const float denom = kE2M1Max * global;
  for (uint64_t r = r0; r < r1; ++r)
    for (uint64_t g = 0; g < groups; ++g) {
      const float a = absmax(m.fmt, m.data + (r * m.in + g * kNvfp4Group) * es, kNvfp4Group);
      require_finite(a, r);
      encode_at(Fmt::kE4M3FN, a == 0.0f ? 1.0f : a / denom, dst, (r - r0) * groups + g, true);
    }
}

void nvfp4_quantize(const MatrixView& m, float global, uint64_t r0, uint64_t r1, std::byte* dst) {
  std::vector<std::byte> codes(m.in / kNvfp4Group);
  e2m1_rows(m, kNvfp4Group, r0, r1, dst, [&](uint64_t r, std::vector<float>& divisors) {
    nvfp4_scales(m, global, r, r + 1, codes.data());
    for (size_t g = 0; g < divisors.size(); ++g) divisors[g] = decode_at(Fmt::kE4M3FN, codes.data(), g) * global;
  });
}

}  // namespace moeckpt::quant
