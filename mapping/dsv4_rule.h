// DeepSeek V4's scale-suffix rule.
//
// config.json's "expert_dtype" is "fp4" (the default when absent) or "fp8"; anything else is
// an error. A checkpoint tensor whose name ends ".scale" becomes ".weight_scale" when it is a
// routed expert's scale (".experts.{e}.w1|w2|w3.scale") and experts are FP4, otherwise
// ".weight_scale_inv" (so shared_experts.w1.scale takes ".weight_scale_inv"). MTP layers follow
// the same rule. Works on DeepSeek's own layout (layers.N.ffn.experts.E.w1.scale, no "model."
// prefix) and on transformers' (model.layers.N.ffn.experts.E.w1.scale).
#pragma once

#include <string>
#include <string_view>

#include "loader/config_file.h"

namespace moeckpt {

enum class ExpertDtype { kFp4, kFp8 };

struct ExpertDtypeSetting {
  ExpertDtype value = ExpertDtype::kFp4;
  bool explicit_in_config = false;
};

// Throws Error(kConfigInvalid) naming label, expert_dtype and the allowed values.
ExpertDtypeSetting resolve_expert_dtype(const Json& config, std::string_view label);
std::string_view expert_dtype_name(ExpertDtype d);

// Whether name is a routed expert's scale: ".experts.<digits>.w[123].scale" at the end.
bool is_routed_expert_scale(std::string_view name);
// The renamed tensor (unchanged when it does not end ".scale").
std::string apply_dsv4_scale_rule(std::string_view name, ExpertDtype experts);

}  // namespace moeckpt
