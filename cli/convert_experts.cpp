#include "cli/convert_experts.h"

#include <fmt/format.h>

#include "cli/arch_select.h"
#include "loader/error.h"
#include "mapping/expert_layout.h"

namespace moeckpt::cli {

void convert_experts(const Checkpoint& in, const std::string& target, const std::string& arch_flag, std::vector<PlannedTensor>& tensors,
                     std::vector<std::string>& notes) {
  const auto t = parse_expert_target(target);
  if (!t) throw Error(Errc::kUsage, "--experts", "must be per-expert, fused or engine, not '" + target + "'");
  const Json* config = in.config() ? &*in.config() : nullptr;
  const Architecture* arch = choose_architecture(arch_flag, config, in.config_file()).arch;
  const std::string label = in.input();
  const ExpertLayoutPlan plan = plan_expert_layout(*arch, config, in.tensors(), *t, label);
  apply_expert_layout(in, plan, tensors);
  if (!plan.changed()) notes.push_back(fmt::format("--experts {}: the experts are already in that layout; nothing to re-lay", target));
  else
    notes.push_back(fmt::format("--experts {}: {} fused tensor(s) split, {} fused tensor(s) written, {} tensor(s) renamed beside them", target,
                                plan.split, plan.fused, plan.renamed));
}

}  // namespace moeckpt::cli
