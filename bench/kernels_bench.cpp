// Kernel throughput, single thread, against memcpy of the same traffic in the same run.
//
// Every benchmark reports bytes_per_second as (bytes read + bytes written) per second, so a
// kernel's figure divided by BM_Memcpy's is the "fraction of memcpy bandwidth" the performance
// target speaks of. Buffers (a 7168 x 2048 weight: 14 MiB of FP8 in, 28 MiB of BF16 out) are
// far larger than the caches, as a real checkpoint's tensors are.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <span>
#include <vector>

#include "quant/codec.h"
#include "quant/dequant.h"
#include "quant/kernels.h"
#include "quant/quantize.h"
#include "quant/scheme.h"

namespace {

using moeckpt::quant::Fmt;
using moeckpt::quant::RowJob;
using moeckpt::quant::ScaleOp;

constexpr uint64_t kRows = 7168, kCols = 2048, kElems = kRows * kCols;

std::vector<uint8_t> random_bytes(uint64_t n, uint8_t mask = 0xFF, uint32_t seed = 1) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<uint8_t>(rng() & mask);
  return v;
}

// n values of format f as a trained weight holds them: normal(0, 0.02) in float formats, and
// for FP8 the codes of such values quantized with a 448/amax scale (so subnormal codes are as
// rare as in real checkpoints). E2M1 codes are uniform: FP4 weights use all sixteen.
std::vector<uint8_t> weights(Fmt f, uint64_t n, uint64_t bits) {
  std::vector<uint8_t> v(n * bits / 8);
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 0.02f);
  if (f == Fmt::kE2M1) return random_bytes(v.size());
  const float mul = f == Fmt::kE4M3FN ? 448.0f / 0.1f : 1.0f;  // amax about 5 sigma
  for (uint64_t i = 0; i < n; ++i) moeckpt::quant::encode_at(f, d(rng) * mul, v.data(), i, true);
  return v;
}

std::vector<float> scales(uint64_t n) {
  std::vector<float> s(n);
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> d(1e-4f, 1e-2f);
  for (auto& x : s) x = d(rng);
  return s;
}

// memcpy moving the same total traffic as a kernel with in_bytes + out_bytes.
void BM_Memcpy(benchmark::State& st) {
  const uint64_t n = static_cast<uint64_t>(st.range(0));
  std::vector<uint8_t> a = random_bytes(n), b(n);
  for (auto _ : st) {
    std::memcpy(b.data(), a.data(), n);
    benchmark::DoNotOptimize(b.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(2 * n));
}
// Half the traffic of FP8->BF16 (14 + 28 MiB) / 2 (also BF16 -> FP8's), of F32->BF16 (56 + 28) / 2,
// of int4 -> BF16 (7 + 28) / 2 and of BF16 -> NVFP4 (28 + 7 + 0.9) / 2.
BENCHMARK(BM_Memcpy)
    ->Arg(static_cast<int64_t>(kElems * 3 / 2))
    ->Arg(static_cast<int64_t>(kElems * 3))
    ->Arg(static_cast<int64_t>(kElems * 5 / 4))
    ->Arg(static_cast<int64_t>(kElems * 41 / 32))
    ->Unit(benchmark::kMillisecond);

// The write side alone: the 28 MiB of a BF16 output written with ordinary stores, as every
// kernel here writes (memcpy of large buffers uses non-temporal stores, which skip reading each
// line before writing it). A kernel that writes 2 bytes per element cannot go faster than this.
void BM_StoreOnly(benchmark::State& st) {
  std::vector<uint16_t> out(kElems);
  uint16_t v = 1;
  for (auto _ : st) {
    uint16_t* p = out.data();
    benchmark::DoNotOptimize(p);
    for (uint64_t i = 0; i < kElems; ++i) p[i] = static_cast<uint16_t>(v + i);
    benchmark::ClobberMemory();
    ++v;
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(2 * kElems));
}
BENCHMARK(BM_StoreOnly)->Unit(benchmark::kMillisecond);

// Runs `job` row by row over the whole matrix (the convert pipeline's unit of work is a row range).
// Bytes moved (in + out) per iteration, elements per second, and the SIMD target used.
void report(benchmark::State& st, uint64_t bytes_per_iteration, uint64_t elems_per_iteration = kElems) {
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(bytes_per_iteration));
  st.counters["Gelem/s"] = benchmark::Counter(static_cast<double>(st.iterations()) * static_cast<double>(elems_per_iteration), benchmark::Counter::kIsRate,
                                              benchmark::Counter::kIs1000);
  st.SetLabel(moeckpt::quant::simd_target());
}

void run_matrix(RowJob job, const uint8_t* src, uint64_t in_row_bytes, uint8_t* dst, uint64_t out_row_bytes, const float* sc,
                uint64_t scales_per_row) {
  for (uint64_t r = 0; r < kRows; ++r) {
    job.src = src + r * in_row_bytes;
    job.dst = dst + r * out_row_bytes;
    if (sc) job.scales = sc + r * scales_per_row;
    moeckpt::quant::run_row(job);
  }
}

void kernel(benchmark::State& st, Fmt in, uint64_t in_bits, Fmt out, uint64_t out_bits, ScaleOp op, uint64_t group, bool block_rows) {
  const uint64_t in_row = kCols * in_bits / 8, out_row = kCols * out_bits / 8;
  std::vector<uint8_t> src = weights(in, kElems, in_bits);
  std::vector<uint8_t> dst(kRows * out_row);
  // Block FP8 shares one scale row per 128 rows; the others have their own scales per row.
  const uint64_t per_row = group ? kCols / group : 0;
  std::vector<float> sc = group ? scales(kRows * per_row) : std::vector<float>{};
  RowJob job;
  job.in = in;
  job.out = out;
  job.n = kCols;
  job.op = op;
  job.group = group;
  for (auto _ : st) {
    if (block_rows) {
      for (uint64_t r = 0; r < kRows; ++r) {
        job.src = src.data() + r * in_row;
        job.dst = dst.data() + r * out_row;
        job.scales = sc.data() + (r / 128) * per_row;
        moeckpt::quant::run_row(job);
      }
    } else {
      run_matrix(job, src.data(), in_row, dst.data(), out_row, group ? sc.data() : nullptr, per_row);
    }
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  report(st, kRows * (in_row + out_row));
}

void BM_BlockFp8ToBf16(benchmark::State& st) { kernel(st, Fmt::kE4M3FN, 8, Fmt::kBF16, 16, ScaleOp::kMultiply, 128, true); }
void BM_Mxfp4ToBf16(benchmark::State& st) { kernel(st, Fmt::kE2M1, 4, Fmt::kBF16, 16, ScaleOp::kMultiply, 32, false); }
void BM_Nvfp4ToBf16(benchmark::State& st) { kernel(st, Fmt::kE2M1, 4, Fmt::kBF16, 16, ScaleOp::kMultiply, 16, false); }
void BM_F32ToBf16(benchmark::State& st) { kernel(st, Fmt::kF32, 32, Fmt::kBF16, 16, ScaleOp::kNone, 0, false); }
// ---- BF16 -> quantized, through quant/quantize.h as convert's producers run them -------------
// Slices of 128 rows (a block band). "Scales + codes" is what convert does: the scale tensor's
// producer (an amax pass) and the codes' producer (one fused pass per band and tile, which
// computes its own scales); "codes" is the fused pass alone. Traffic = BF16 in + codes + scales.
struct QuantizeBench {
  std::vector<uint8_t> src = weights(Fmt::kBF16, kElems, 16);
  moeckpt::quant::MatrixView m{Fmt::kBF16, reinterpret_cast<const std::byte*>(src.data()), kRows, kRows, kCols};
};

void fp8(benchmark::State& st, uint64_t b0, uint64_t b1, bool with_scales) {
  QuantizeBench q;
  const uint64_t si = (kCols + b1 - 1) / b1, srows = (kRows + b0 - 1) / b0;
  std::vector<std::byte> codes(kElems);
  std::vector<float> sc(srows * si);
  for (auto _ : st) {
    if (with_scales) moeckpt::quant::fp8_block_scales(q.m, b0, b1, 0, srows, sc.data());
    if (b0 >= kRows) {  // per tensor: the scale is computed once and given to the encode
      moeckpt::quant::fp8_block_scales(q.m, b0, b1, 0, srows, sc.data());
      for (uint64_t r = 0; r < kRows; r += 128) moeckpt::quant::fp8_block_quantize_with(q.m, b0, b1, sc.data(), r, std::min(kRows, r + 128), codes.data() + r * kCols);
    } else {
      for (uint64_t r = 0; r < kRows; r += 128) moeckpt::quant::fp8_block_quantize(q.m, b0, b1, r, std::min(kRows, r + 128), codes.data() + r * kCols);
    }
    benchmark::DoNotOptimize(codes.data());
    benchmark::ClobberMemory();
  }
  report(st, kElems * 2 + kElems + sc.size() * 4);
}

void BM_Bf16ToBlockFp8(benchmark::State& st) { fp8(st, 128, 128, true); }
void BM_Bf16ToBlockFp8Codes(benchmark::State& st) { fp8(st, 128, 128, false); }
void BM_Bf16ToFp8Channel(benchmark::State& st) { fp8(st, 1, kCols, true); }
void BM_Bf16ToFp8Tensor(benchmark::State& st) { fp8(st, kRows, kCols, false); }

void BM_Bf16ToNvfp4(benchmark::State& st) {  // global scale, block scales, codes
  QuantizeBench q;
  std::vector<std::byte> codes(kElems / 2), sc(kElems / 16);
  for (auto _ : st) {
    const float global = moeckpt::quant::nvfp4_global_scale(q.m);
    for (uint64_t r = 0; r < kRows; r += 128) {
      moeckpt::quant::nvfp4_scales(q.m, global, r, r + 128, sc.data() + r * kCols / 16);
      moeckpt::quant::nvfp4_quantize(q.m, global, r, r + 128, codes.data() + r * kCols / 2);
    }
    benchmark::DoNotOptimize(codes.data());
    benchmark::ClobberMemory();
  }
  report(st, kElems * 2 + kElems / 2 + kElems / 16);
}

// The same weight read as [2048, 7168] (DeepSeek-V3's gate/up projections): 1.8 MB bands.
void BM_Bf16ToBlockFp8CodesWide(benchmark::State& st) {
  QuantizeBench q;
  const moeckpt::quant::MatrixView wide{Fmt::kBF16, q.m.data, kElems / 7168, kElems / 7168, 7168};
  std::vector<std::byte> codes(kElems);
  for (auto _ : st) {
    for (uint64_t r = 0; r < wide.rows; r += 128) moeckpt::quant::fp8_block_quantize(wide, 128, 128, r, r + 128, codes.data() + r * 7168);
    benchmark::DoNotOptimize(codes.data());
    benchmark::ClobberMemory();
  }
  report(st, kElems * 3 + kElems / 16384 * 4);
}

// ---- the quantizers on one cache-resident band: their compute ceiling -----------------------
// The first 128-row band only (512 KiB of BF16 in, L2-sized), again and again: no DRAM traffic,
// so the rate is what the loop itself can do. If it is below 0.6 of BM_Memcpy's DRAM rate, no
// memory-side change (streaming stores, prefetch, fusion of passes) brings the kernel to 0.6.
void hot_band(benchmark::State& st, uint64_t in_bytes, uint64_t out_bytes, const std::function<void(const moeckpt::quant::MatrixView&)>& f) {
  QuantizeBench q;
  const moeckpt::quant::MatrixView band{Fmt::kBF16, q.m.data, 128, 128, kCols};
  for (auto _ : st) {
    f(band);
    benchmark::ClobberMemory();
  }
  report(st, in_bytes + out_bytes, 128 * kCols);
}
constexpr uint64_t kBand = 128 * kCols;
void BM_HotBf16ToBlockFp8Codes(benchmark::State& st) {
  std::vector<std::byte> codes(kBand);
  hot_band(st, kBand * 2, kBand + kBand / 16384 * 4, [&](const moeckpt::quant::MatrixView& m) {
    moeckpt::quant::fp8_block_quantize(m, 128, 128, 0, 128, codes.data());
    benchmark::DoNotOptimize(codes.data());
  });
}
void BM_HotBf16ToFp8Channel(benchmark::State& st) {
  std::vector<std::byte> codes(kBand);
  std::vector<float> sc(128);
  hot_band(st, kBand * 2, kBand + 128 * 4, [&](const moeckpt::quant::MatrixView& m) {
    moeckpt::quant::fp8_block_scales(m, 1, kCols, 0, 128, sc.data());
    moeckpt::quant::fp8_block_quantize(m, 1, kCols, 0, 128, codes.data());
    benchmark::DoNotOptimize(codes.data());
  });
}
void BM_HotBf16ToNvfp4(benchmark::State& st) {
  std::vector<std::byte> codes(kBand / 2), sc(kBand / 16);
  hot_band(st, kBand * 2, kBand / 2 + kBand / 16, [&](const moeckpt::quant::MatrixView& m) {
    const float global = moeckpt::quant::nvfp4_global_scale(m);
    moeckpt::quant::nvfp4_scales(m, global, 0, 128, sc.data());
    moeckpt::quant::nvfp4_quantize(m, global, 0, 128, codes.data());
    benchmark::DoNotOptimize(codes.data());
  });
}

// ---- released quantized formats, through dequantize_rows as convert runs them ---------------
// One [kRows, kCols] weight in each layout: codes and scales random, tensors described by
// TensorInfo records without a file (dequantize_rows reads dtypes, shapes and the bytes given).

moeckpt::TensorInfo info(const char* name, moeckpt::DType d, std::vector<uint64_t> shape) {
  moeckpt::TensorInfo t;
  t.name = name;
  t.dtype = d;
  t.shape = std::move(shape);
  return t;
}

std::vector<uint8_t> f16_scales(uint64_t n) {
  std::vector<float> s = scales(n);
  std::vector<uint8_t> v(2 * n);
  for (uint64_t i = 0; i < n; ++i) moeckpt::quant::encode_at(Fmt::kF16, s[i], v.data(), i);
  return v;
}

std::span<const std::byte> bytes(const std::vector<uint8_t>& v) { return {reinterpret_cast<const std::byte*>(v.data()), v.size()}; }

// Dequantizes q (bytes in w, s, s2, z, g) to BF16 whole, st.range(0) rows a call: 128 (512 KiB
// of output, cache-sized) or 3584 (14 MiB, the slice convert gives each of 2 threads for this
// tensor: loader/shard_writer.cpp rows_per_slice).
void released(benchmark::State& st, const moeckpt::quant::QuantTensor& q, const std::vector<uint8_t>& w, const std::vector<uint8_t>& s,
              const std::vector<uint8_t>& s2, const std::vector<uint8_t>& z, const std::vector<uint8_t>& g) {
  std::vector<std::byte> dst(kElems * 2);
  const moeckpt::quant::DequantInput in{bytes(w), bytes(s), bytes(s2), bytes(z), bytes(g)};
  const uint64_t per = static_cast<uint64_t>(st.range(0));
  for (auto _ : st) {
    for (uint64_t r = 0; r < kRows; r += per)
      moeckpt::quant::dequantize_rows(q, in, Fmt::kBF16, r, std::min(kRows, r + per), dst.data() + r * kCols * 2);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  report(st, w.size() + s.size() + z.size() + dst.size());
}

constexpr uint64_t kGroup = 128;  // W4A16 as llm-compressor and AutoGPTQ release it

// An int4 [kRows, kCols] weight of scheme s in group-128 layout.
moeckpt::quant::QuantTensor int4(moeckpt::quant::Scheme s, const moeckpt::TensorInfo* w, const moeckpt::TensorInfo* sc,
                                 const moeckpt::TensorInfo* z = nullptr, const moeckpt::TensorInfo* g = nullptr) {
  moeckpt::quant::QuantTensor q;
  q.scheme = s;
  q.shape = {kRows, kCols};
  q.weight = w;
  q.scale = sc;
  q.zero = z;
  q.g_idx = g;
  q.bits = 4;
  q.block_cols = kGroup;
  return q;
}

void BM_CtInt4ToBf16(benchmark::State& st) {  // compressed-tensors pack-quantized W4A16, symmetric
  using moeckpt::DType;
  auto w = info("w.weight_packed", DType::kI32, {kRows, kCols / 8}), s = info("w.weight_scale", DType::kF16, {kRows, kCols / kGroup});
  released(st, int4(moeckpt::quant::Scheme::kIntPacked, &w, &s), random_bytes(kElems / 2), f16_scales(kRows * kCols / kGroup), {}, {}, {});
}

void BM_CtInt4ActOrderToBf16(benchmark::State& st) {  // with zero points and a permuted g_idx
  using moeckpt::DType;
  auto w = info("w.weight_packed", DType::kI32, {kRows, kCols / 8}), s = info("w.weight_scale", DType::kF16, {kRows, kCols / kGroup});
  auto z = info("w.weight_zero_point", DType::kI32, {kRows / 8, kCols / kGroup}), g = info("w.weight_g_idx", DType::kI32, {kCols});
  std::vector<uint8_t> gb(kCols * 4);
  std::mt19937 rng(5);
  for (uint64_t k = 0; k < kCols; ++k) {
    const int32_t v = static_cast<int32_t>(rng() % (kCols / kGroup));
    std::memcpy(gb.data() + 4 * k, &v, 4);
  }
  released(st, int4(moeckpt::quant::Scheme::kIntPacked, &w, &s, &z, &g), random_bytes(kElems / 2), f16_scales(kRows * kCols / kGroup), {}, random_bytes(kRows / 8 * kCols / kGroup * 4), gb);
}

void BM_GptqToBf16(benchmark::State& st) {  // qweight [in/8, out], qzeros [groups, out/8], scales [groups, out]
  using moeckpt::DType;
  auto w = info("w.qweight", DType::kI32, {kCols / 8, kRows}), s = info("w.scales", DType::kF16, {kCols / kGroup, kRows});
  auto z = info("w.qzeros", DType::kI32, {kCols / kGroup, kRows / 8});
  released(st, int4(moeckpt::quant::Scheme::kGptq, &w, &s, &z), random_bytes(kElems / 2), f16_scales(kRows * kCols / kGroup), {}, random_bytes(kCols / kGroup * kRows / 2), {});
}

void BM_AwqToBf16(benchmark::State& st) {  // qweight [in, out/8] in AWQ's order
  using moeckpt::DType;
  auto w = info("w.qweight", DType::kI32, {kCols, kRows / 8}), s = info("w.scales", DType::kF16, {kCols / kGroup, kRows});
  auto z = info("w.qzeros", DType::kI32, {kCols / kGroup, kRows / 8});
  released(st, int4(moeckpt::quant::Scheme::kAwq, &w, &s, &z), random_bytes(kElems / 2), f16_scales(kRows * kCols / kGroup), {}, random_bytes(kCols / kGroup * kRows / 2), {});
}

void BM_CtNvfp4ToBf16(benchmark::State& st) {  // nvfp4-pack-quantized: e4m3 scale / weight_global_scale
  using moeckpt::DType;
  auto w = info("w.weight_packed", DType::kU8, {kRows, kCols / 2}), s = info("w.weight_scale", DType::kF8_E4M3, {kRows, kCols / 16});
  auto g = info("w.weight_global_scale", DType::kF32, {1});
  moeckpt::quant::QuantTensor q;
  q.scheme = moeckpt::quant::Scheme::kNvfp4Ct;
  q.shape = {kRows, kCols};
  q.weight = &w;
  q.scale = &s;
  q.scale2 = &g;
  q.block_cols = 16;
  std::vector<uint8_t> gs(4);
  const float global = 2688.0f / 0.1f;
  std::memcpy(gs.data(), &global, 4);
  released(st, q, random_bytes(kElems / 2), random_bytes(kRows * kCols / 16, 0x77), gs, {}, {});
}

// GPTQ and AWQ at the kernel level, both ways in one binary (zeros and scales already float,
// so what differs is only the pass structure): the word transpose into a 128-row buffer then
// the int4 row kernel per row (the path dequantize_int_rows takes where the CPU has no fused
// kernel), against gptq_int4_bf16 / awq_int4_bf16 (transposed tiles decoded straight into the
// rows). Same traffic as BM_GptqToBf16. Skipped where the target has no fused kernel.
void int4_words(benchmark::State& st, bool awq, bool fused) {
  constexpr uint64_t kRowsPer = 128, groups = kCols / kGroup;
  static const unsigned kAwq[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  const std::vector<uint8_t> w = random_bytes(kElems / 2);
  std::vector<float> zg(groups * kRows), sg = scales(groups * kRows), zr(groups * kRows), sr(groups * kRows);
  std::mt19937 rng(9);
  for (auto& z : zg) z = static_cast<float>(rng() % 16);
  for (uint64_t g = 0; g < groups; ++g)  // [group][row] for the fused kernels, [row][group] for the row kernel
    for (uint64_t r = 0; r < kRows; ++r) zr[r * groups + g] = zg[g * kRows + r], sr[r * groups + g] = sg[g * kRows + r];
  std::vector<uint16_t> dst(kElems);
  const uint64_t stride = kCols / 8 + moeckpt::quant::kIntRowPad;
  std::vector<uint32_t> buf(kRowsPer * stride, 0);
  const auto fused_band = [&](uint64_t r) {
    return awq ? moeckpt::quant::awq_int4_bf16(w.data(), kCols, kRows / 8, r, kRowsPer, kAwq, zg.data() + r, sg.data() + r, kRows, kGroup, dst.data() + r * kCols, kCols)
               : moeckpt::quant::gptq_int4_bf16(w.data(), kCols, kRows, r, kRowsPer, zg.data() + r, sg.data() + r, kRows, kGroup, dst.data() + r * kCols, kCols);
  };
  if (fused && !fused_band(0)) {
    st.SkipWithError("no fused kernel on this target");
    return;
  }
  for (auto _ : st) {
    for (uint64_t r = 0; r < kRows; r += kRowsPer) {
      if (fused) {
        fused_band(r);
        continue;
      }
      if (awq) moeckpt::quant::transpose_awq_words(w.data(), kCols, kRows / 8, r / 8, kRowsPer / 8, kAwq, buf.data(), stride);
      else moeckpt::quant::gather_int_columns(w.data(), kCols / 8, kRows, r, kRowsPer, buf.data(), stride);
      for (uint64_t i = 0; i < kRowsPer; ++i)
        moeckpt::quant::run_int_row({buf.data() + i * stride, 4, kCols, zr.data() + (r + i) * groups, sr.data() + (r + i) * groups, kGroup, Fmt::kBF16,
                                     dst.data() + (r + i) * kCols});
    }
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  report(st, w.size() + kRows * groups * 2 + kRows * groups / 2 + dst.size() * 2);
}
void BM_GptqWordsBuffered(benchmark::State& st) { int4_words(st, false, false); }
void BM_GptqWordsFused(benchmark::State& st) { int4_words(st, false, true); }
void BM_AwqWordsBuffered(benchmark::State& st) { int4_words(st, true, false); }
void BM_AwqWordsFused(benchmark::State& st) { int4_words(st, true, true); }

BENCHMARK(BM_BlockFp8ToBf16)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CtInt4ToBf16)->Arg(128)->Arg(3584)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CtInt4ActOrderToBf16)->Arg(128)->Arg(3584)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GptqToBf16)->Arg(128)->Arg(3584)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AwqToBf16)->Arg(128)->Arg(3584)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GptqWordsBuffered)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GptqWordsFused)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AwqWordsBuffered)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AwqWordsFused)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CtNvfp4ToBf16)->Arg(128)->Arg(3584)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Mxfp4ToBf16)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Nvfp4ToBf16)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_F32ToBf16)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Bf16ToBlockFp8)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Bf16ToBlockFp8Codes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Bf16ToFp8Channel)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Bf16ToFp8Tensor)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Bf16ToNvfp4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Bf16ToBlockFp8CodesWide)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_HotBf16ToBlockFp8Codes)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_HotBf16ToFp8Channel)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_HotBf16ToNvfp4)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
