// map's suggested fix for a checkpoint that is unloadable only because of its multimodal
// wrapper: the towers or the wrapper's prefix are what the text class cannot load, and the same
// checkpoint after `convert --text-only` maps with nothing unmapped, unfilled or unexpected.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "loader/config_file.h"
#include "loader/tensor.h"
#include "mapping/arch_registry.h"
#include "mapping/planner.h"

namespace moeckpt {

struct WrapperFix {
  std::string wrapper;     // the composite entry --text-only uses
  std::string text;        // the text entry the output is
  std::string text_class;  // its class (architectures[0] of the output)
};

// nullopt when the plan is clean, when no composite wraps the checkpoint, or when --text-only
// would not make it map clean either.
std::optional<WrapperFix> wrapper_fix(const MapPlan& plan, const Json* config, std::span<const TensorInfo> tensors,
                                      const ArchRegistry& registry);

}  // namespace moeckpt
