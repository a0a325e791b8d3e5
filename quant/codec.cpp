#include "quant/codec.h"

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "quant/e8m0.h"
#include "quant/fp4.h"
#include "quant/fp8.h"
#include "quant/half.h"

namespace moeckpt::quant {
namespace {

const MiniFloat* spec_of(Fmt f) {
  switch (f) {
    case Fmt::kE4M3FN: return &kE4M3FN;
    case Fmt::kE5M2: return &kE5M2;
    case Fmt::kE4M3FNUZ: return &kE4M3FNUZ;
    case Fmt::kE5M2FNUZ: return &kE5M2FNUZ;
    case Fmt::kE8M0: return &kE8M0;
    case Fmt::kE2M1: return &kE2M1;
    default: return nullptr;
  }
}

struct Tables {
  std::array<std::array<float, 256>, 9> t{};
  Tables() {
    for (int f = 0; f < 9; ++f) {
      const MiniFloat* s = spec_of(static_cast<Fmt>(f));
      if (!s) continue;
      for (uint32_t c = 0; c < (1u << s->bits()); ++c) t[f][c] = minifloat_decode(*s, c);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

std::optional<Fmt> fmt_of(DType t) {
  switch (t) {
    case DType::kF32: return Fmt::kF32;
    case DType::kF16: return Fmt::kF16;
    case DType::kBF16: return Fmt::kBF16;
    case DType::kF8_E4M3: return Fmt::kE4M3FN;
    case DType::kF8_E5M2: return Fmt::kE5M2;
    case DType::kF8_E4M3FNUZ: return Fmt::kE4M3FNUZ;
    case DType::kF8_E5M2FNUZ: return Fmt::kE5M2FNUZ;
    case DType::kF8_E8M0: return Fmt::kE8M0;
    case DType::kF4: return Fmt::kE2M1;
    default: return std::nullopt;
  }
}

DType dtype_of(Fmt f) {
  switch (f) {
    case Fmt::kF32: return DType::kF32;
    case Fmt::kF16: return DType::kF16;
    case Fmt::kBF16: return DType::kBF16;
    case Fmt::kE4M3FN: return DType::kF8_E4M3;
    case Fmt::kE5M2: return DType::kF8_E5M2;
    case Fmt::kE4M3FNUZ: return DType::kF8_E4M3FNUZ;
    case Fmt::kE5M2FNUZ: return DType::kF8_E5M2FNUZ;
    case Fmt::kE8M0: return DType::kF8_E8M0;
    case Fmt::kE2M1: return DType::kF4;
  }
  return DType::kU8;
}

std::string_view fmt_name(Fmt f) {
  static constexpr std::string_view names[] = {"f32", "f16", "bf16", "e4m3fn", "e5m2", "e4m3fnuz", "e5m2fnuz", "e8m0", "e2m1"};
  return names[static_cast<int>(f)];
}

int fmt_bits(Fmt f) {
  switch (f) {
    case Fmt::kF32: return 32;
    case Fmt::kF16:
    case Fmt::kBF16: return 16;
    case Fmt::kE2M1: return 4;
    default: return 8;
  }
}

float fmt_max(Fmt f) {
  switch (f) {
    case Fmt::kF32: return std::numeric_limits<float>::infinity();
    case Fmt::kF16: return 65504.0f;
    case Fmt::kBF16: return bf16_to_f32(0x7F7F);
    default: return minifloat_decode(*spec_of(f), spec_of(f)->max_code());
  }
}

const float* decode_table(Fmt f) { return spec_of(f) ? tables().t[static_cast<int>(f)].data() : nullptr; }

float decode_at(Fmt f, const void* base, uint64_t i) {
  const auto* b = static_cast<const uint8_t*>(base);
  switch (f) {
    case Fmt::kF32: {
      float v;
      std::memcpy(&v, b + 4 * i, 4);
      return v;
    }
    case Fmt::kF16:
    case Fmt::kBF16: {
      uint16_t h;
      std::memcpy(&h, b + 2 * i, 2);
      return f == Fmt::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
    case Fmt::kE2M1: return kE2M1Values[fp4_nibble(b, i)];
    default: return tables().t[static_cast<int>(f)][b[i]];
  }
}

void encode_at(Fmt f, float x, void* base, uint64_t i, bool saturate) {
  auto* b = static_cast<uint8_t*>(base);
  switch (f) {
    case Fmt::kF32: std::memcpy(b + 4 * i, &x, 4); return;
    case Fmt::kF16:
    case Fmt::kBF16: {
      uint16_t h;
      if (f == Fmt::kBF16) {
        if (saturate && std::abs(x) > fmt_max(f) && x == x) x = x > 0 ? fmt_max(f) : -fmt_max(f);
        h = f32_to_bf16(x);
      } else {
        if (saturate && std::abs(x) > fmt_max(f) && x == x) x = x > 0 ? fmt_max(f) : -fmt_max(f);
        h = f32_to_f16(x);
      }
      std::memcpy(b + 2 * i, &h, 2);
      return;
    }
    case Fmt::kE2M1: {
      uint8_t c = static_cast<uint8_t>(minifloat_encode(kE2M1, x, saturate));
      uint8_t& byte = b[i >> 1];
      byte = (i & 1) ? static_cast<uint8_t>((byte & 0x0F) | (c << 4)) : static_cast<uint8_t>((byte & 0xF0) | c);
      return;
    }
    default: b[i] = static_cast<uint8_t>(minifloat_encode(*spec_of(f), x, saturate)); return;
  }
}

}  // namespace moeckpt::quant
