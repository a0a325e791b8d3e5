#include "mapping/layout_fix.h"

#include "loader/error.h"
#include "mapping/expert_layout.h"

namespace moeckpt {

bool expert_layout_fixes(const Architecture& arch, const Json* config, std::span<const TensorInfo> tensors, const PlanOptions& options) {
  ExpertLayoutPlan layout;
  try {
    layout = plan_expert_layout(arch, config, tensors, ExpertTarget::kEngine, options.config_label);
  } catch (const Error&) {
    return false;  // convert would refuse too: nothing to suggest
  }
  if (!layout.changed()) return false;
  const std::vector<TensorInfo> after = layout_tensor_infos(layout);
  const MapPlan plan = plan_mapping(arch, config, after, options);
  return plan.unmapped.empty() && plan.unfilled.empty() && plan.unexpected.empty();
}

}  // namespace moeckpt
