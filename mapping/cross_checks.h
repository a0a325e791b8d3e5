// Config <-> tensor cross-checks of validate: experts per MoE layer against the routed-expert
// count, MoE layers where the config puts them, expert shapes against hidden_size x
// moe_intermediate_size, experts of a layer agreeing in dtype and shape, DeepSeek V4's
// expert_dtype against the experts' real dtype, what map leaves unmapped or unfilled, and the
// parameter model's shape, dtype and unexpected-tensor findings.
#pragma once

#include <functional>
#include <span>
#include <string>

#include "loader/config_file.h"
#include "loader/finding.h"
#include "loader/tensor.h"
#include "mapping/planner.h"

namespace moeckpt {

// file_of(t) names the file a tensor lives in, for the findings.
Findings cross_check(const Architecture& arch, const Json* config, const std::string& config_label,
                     std::span<const TensorInfo> tensors, const MapPlan& plan,
                     const std::function<std::string(const TensorInfo&)>& file_of);

}  // namespace moeckpt
