// convert --experts: the expert layout step of a conversion (mapping/expert_layout), between
// the filter and the renaming.
#pragma once

#include <string>
#include <vector>

#include "loader/checkpoint.h"
#include "loader/write_plan.h"

namespace moeckpt::cli {

// Re-lays the planned tensors (named as in IN) in layout `target` ("per-expert", "fused",
// "engine") of the architecture --arch or config.json names; adds what it did to notes.
void convert_experts(const Checkpoint& in, const std::string& target, const std::string& arch_flag, std::vector<PlannedTensor>& tensors,
                     std::vector<std::string>& notes);

}  // namespace moeckpt::cli
