// What `map` suggests when a checkpoint does not load: if the engine's expert layout
// (`convert --experts engine`) is all that stands between the checkpoint and a clean map.
#pragma once

#include <span>

#include "loader/tensor.h"
#include "mapping/arch_registry.h"
#include "mapping/planner.h"

namespace moeckpt {

// True when converting the experts to the engine's layout changes the checkpoint and the
// result maps with nothing unmapped, unfilled or unexpected.
bool expert_layout_fixes(const Architecture& arch, const Json* config, std::span<const TensorInfo> tensors, const PlanOptions& options);

}  // namespace moeckpt
