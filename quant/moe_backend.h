// Fused MoE kernels that take one expert layout only, checked against a checkpoint's experts.
//
// MegaMoE (DeepSeek V4's FP8 x FP4 fused MoE, DeepGEMM's fp8_fp4_mega_moe): FP8 activations
// against FP4 experts only. Every routed expert's w1 and w3 [I, H] and w2 [H, I] is packed E2M1
// ([N, K/2] I8/U8, or F4 [N, K]) with one E8M0 scale per 32 along K ([N, K/32], F8_E8M0 or U8);
// N and K of both layers must be multiples of 128 (the kernel packs four E8M0 scales into a word
// along K and transposes scales in tiles of 128 rows). moeckpt-formats(7), MOE BACKENDS.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loader/checkpoint.h"
#include "loader/finding.h"
#include "quant/scheme.h"

namespace moeckpt::quant {

inline constexpr std::string_view kMoeBackends[] = {"megamoe"};

struct BackendFit {
  std::string backend;
  bool ok = true;
  std::vector<std::string> reasons;  // why not, one line each
  // The tensor each reason was first seen on (empty when the reason is about the config).
  std::vector<const TensorInfo*> first;
};

// From the tensors: routed experts found by name (.experts.<e>.<w1|w2|w3|gate_proj|up_proj|
// down_proj>.weight).
BackendFit check_megamoe(const Checkpoint& ck, const QuantScan& scan);
// From the config alone (the experts command): DeepSeek V4's expert_dtype and the sizes.
BackendFit megamoe_fit(std::string_view expert_dtype, uint64_t hidden, uint64_t moe_intermediate);

// validate --moe-backend NAME: one E-MOE-BACKEND error per reason.
Findings backend_findings(const Checkpoint& ck, std::string_view backend);

}  // namespace moeckpt::quant
