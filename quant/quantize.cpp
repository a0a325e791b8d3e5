#include "quant/quantize.h"

#include "quant/layouts.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
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

namespace {

// The rows [first, end) of one scale row (a band: b0 rows of one leading index, fewer at the
// end), and the scale row's index.
struct Band {
  uint64_t first, end, srow;
};

Band band_of(const MatrixView& m, uint64_t b0, uint64_t r) {
  const uint64_t lead = r / m.out, ob = (r % m.out) / b0, so = ceil_div(m.out, b0);
  return {lead * m.out + ob * b0, lead * m.out + std::min(m.out, (ob + 1) * b0), lead * so + ob};
}

// A NaN or Inf somewhere in rows [first, end): the first such row, as a row-by-row scan reports it.
[[noreturn]] void throw_first_bad_row(const MatrixView& m, uint64_t first, uint64_t end) {
  for (uint64_t r = first; r < end; ++r) require_finite(absmax(m.fmt, m.data + r * m.in * elem_bytes(m.fmt), m.in), r);
  require_finite(NAN, first);  // unreachable: the caller saw one
  std::abort();
}

// Scales of columns [c0, c1) of a band (c0 a multiple of b1): amax / 448 per b1-wide block
// (1 for a block of zeros), from one pass over the band's rows in order.
void band_scales(const MatrixView& m, uint64_t b1, const Band& b, uint64_t c0, uint64_t c1, float* out) {
  const uint64_t blocks = ceil_div(c1 - c0, b1);
  std::fill(out, out + blocks, 0.0f);
  absmax_blocks(m.fmt, m.data + (b.first * m.in + c0) * elem_bytes(m.fmt), m.in, b.end - b.first, c1 - c0, b1, out);
  for (uint64_t j = 0; j < blocks; ++j) {
    if (!std::isfinite(out[j])) throw_first_bad_row(m, b.first, b.end);
    out[j] = out[j] == 0.0f ? 1.0f : out[j] / kE4M3FNMax;
  }
}

// Codes of rows [r0, r1) (all in one band), columns [c0, c1), with that span's scales.
void encode_span(const MatrixView& m, uint64_t b1, uint64_t r0, uint64_t r1, uint64_t c0, uint64_t c1, const float* scales, std::byte* dst,
                 uint64_t dst_row0) {
  const uint64_t es = elem_bytes(m.fmt);
  RowJob job;
  job.in = m.fmt;
  job.op = ScaleOp::kDivide;
  job.group = b1;
  job.out = Fmt::kE4M3FN;
  job.saturate = true;
  job.n = c1 - c0;
  job.scales = scales;
  for (uint64_t r = r0; r < r1; ++r) {
    job.src = m.data + (r * m.in + c0) * es;
    job.dst = dst + (r - dst_row0) * m.in + c0;
    run_row(job);
  }
}

// Band tiles: columns in multiples of b1 such that a tile of the band (its amax pass) stays in
// the core's L2 cache for the encode pass that follows.
constexpr uint64_t kTileBytes = uint64_t{256} << 10;

uint64_t tile_cols(const MatrixView& m, uint64_t b1, uint64_t band_rows) {
  const uint64_t blocks = std::max<uint64_t>(1, kTileBytes / (band_rows * b1 * elem_bytes(m.fmt)));
  return std::min(m.in, blocks * b1);
}

}  // namespace

void fp8_block_scales(const MatrixView& m, uint64_t b0, uint64_t b1, uint64_t s0, uint64_t s1, float* dst) {
  const uint64_t so = ceil_div(m.out, b0), si = ceil_div(m.in, b1);
  for (uint64_t s = s0; s < s1; ++s) {
    const uint64_t lead = s / so, ob = s % so;
    const Band b = band_of(m, b0, lead * m.out + ob * b0);
    band_scales(m, b1, b, 0, m.in, dst + (s - s0) * si);
  }
}

// One fused pass per band and tile: the amax of the tile's blocks, then the encode of the same
// bytes while they are still in cache. The scales are those fp8_block_scales computes.
void fp8_block_quantize(const MatrixView& m, uint64_t b0, uint64_t b1, uint64_t r0, uint64_t r1, std::byte* dst) {
  std::vector<float> scales(ceil_div(m.in, b1));
  for (uint64_t r = r0; r < r1;) {
    const Band b = band_of(m, b0, r);
    const uint64_t stop = std::min(r1, b.end), step = tile_cols(m, b1, b.end - b.first);
    for (uint64_t c0 = 0; c0 < m.in; c0 += step) {
      const uint64_t c1 = std::min(m.in, c0 + step);
      band_scales(m, b1, b, c0, c1, scales.data());
      encode_span(m, b1, r, stop, c0, c1, scales.data(), dst, r0);
    }
    r = stop;
  }
}

void fp8_block_quantize_with(const MatrixView& m, uint64_t b0, uint64_t b1, const float* scales, uint64_t r0, uint64_t r1, std::byte* dst) {
  const uint64_t si = ceil_div(m.in, b1);
  for (uint64_t r = r0; r < r1;) {
    const Band b = band_of(m, b0, r);
    const uint64_t stop = std::min(r1, b.end);
    encode_span(m, b1, r, stop, 0, m.in, scales + b.srow * si, dst, r0);
    r = stop;
  }
}

namespace {

// Row r's amax per group (one pass over the row), refusing NaN and Inf as a scale cannot be
// computed from them.
void row_group_amax(const MatrixView& m, uint64_t group, uint64_t r, std::vector<float>& amax) {
  amax.assign(m.in / group, 0.0f);
  absmax_blocks(m.fmt, m.data + r * m.in * elem_bytes(m.fmt), m.in, 1, m.in, group, amax.data());
  for (float a : amax) require_finite(a, r);
}

}  // namespace

void mxfp4_scales(const MatrixView& m, uint64_t r0, uint64_t r1, std::byte* dst) {
  if (m.in % kMxGroup) throw Error(Errc::kUnsupported, "quantize", "MXFP4 needs rows that are a multiple of 32 long");
  const uint64_t groups = m.in / kMxGroup;
  std::vector<float> amax;
  for (uint64_t r = r0; r < r1; ++r) {
    row_group_amax(m, kMxGroup, r, amax);
    for (uint64_t g = 0; g < groups; ++g) dst[(r - r0) * groups + g] = static_cast<std::byte>(mx_exponent(amax[g]) + 127);
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

namespace {

// Row r's E4M3 block scale codes: e4m3(amax / (6 * global)) saturated, 1 for a block of zeros.
// With a normal divisor, through the E4M3 row kernel (a zero block's amax replaced by the
// divisor itself: d / d is exactly 1); otherwise one at a time.
void nvfp4_row_scales(const MatrixView& m, float global, uint64_t r, std::vector<float>& amax, std::byte* dst) {
  row_group_amax(m, kNvfp4Group, r, amax);
  const float denom = kE2M1Max * global;
  if (!std::isnormal(denom) || !std::isnormal(1.0f / denom)) {
    for (size_t g = 0; g < amax.size(); ++g) encode_at(Fmt::kE4M3FN, amax[g] == 0.0f ? 1.0f : amax[g] / denom, dst, g, true);
    return;
  }
  for (float& a : amax)
    if (a == 0.0f) a = denom;
  RowJob job;
  job.in = Fmt::kF32;
  job.src = amax.data();
  job.n = amax.size();
  job.op = ScaleOp::kDivide;
  job.scales = &denom;
  job.group = amax.size();
  job.out = Fmt::kE4M3FN;
  job.dst = dst;
  job.saturate = true;
  run_row(job);
}

// A bfloat16 row through the many-groups kernel (nvfp4_bf16_row): false where it does not
// apply, and the row then takes the general path (which reports a NaN or Inf).
bool nvfp4_fast_row(const MatrixView& m, float global, uint64_t r, std::byte* scales, std::byte* codes) {
  return m.fmt == Fmt::kBF16 && m.in % kNvfp4Group == 0 &&
         nvfp4_bf16_row(reinterpret_cast<const uint16_t*>(m.data) + r * m.in, m.in, global, reinterpret_cast<uint8_t*>(scales),
                        reinterpret_cast<uint8_t*>(codes));
}

}  // namespace

void nvfp4_scales(const MatrixView& m, float global, uint64_t r0, uint64_t r1, std::byte* dst) {
  const uint64_t groups = m.in / kNvfp4Group;
  std::vector<float> amax;
  for (uint64_t r = r0; r < r1; ++r)
    if (!nvfp4_fast_row(m, global, r, dst + (r - r0) * groups, nullptr)) nvfp4_row_scales(m, global, r, amax, dst + (r - r0) * groups);
}

void nvfp4_quantize(const MatrixView& m, float global, uint64_t r0, uint64_t r1, std::byte* dst) {
  std::vector<std::byte> codes(m.in / kNvfp4Group);
  std::vector<float> amax;
  const float* table = decode_table(Fmt::kE4M3FN);
  for (uint64_t r = r0; r < r1; ++r) {
    if (nvfp4_fast_row(m, global, r, codes.data(), dst + (r - r0) * (m.in / 2))) continue;
    e2m1_rows(m, kNvfp4Group, r, r + 1, dst + (r - r0) * (m.in / 2), [&](uint64_t row, std::vector<float>& divisors) {
      nvfp4_row_scales(m, global, row, amax, codes.data());
      for (size_t g = 0; g < divisors.size(); ++g) divisors[g] = table[static_cast<uint8_t>(codes[g])] * global;
    });
  }
}

}  // namespace moeckpt::quant
