#include "mapping/wrapper_fix.h"

#include <vector>

#include "loader/error.h"
#include "mapping/text_only.h"

namespace moeckpt {
namespace {

bool clean(const MapPlan& p) { return p.unmapped.empty() && p.unfilled.empty() && p.unexpected.empty(); }

}  // namespace

std::optional<WrapperFix> wrapper_fix(const MapPlan& plan, const Json* config, std::span<const TensorInfo> tensors,
                                      const ArchRegistry& registry) {
  if (clean(plan) || !config || !plan.arch) return std::nullopt;
  std::vector<std::string> names;
  names.reserve(tensors.size());
  for (const auto& t : tensors) names.push_back(t.name);
  try {
    const WrapperChoice w = find_wrapper(*plan.arch, registry, names, "config.json");
    const Extraction x = text_only(w, *config, names, "config.json");
    std::vector<TensorInfo> renamed;
    renamed.reserve(tensors.size());
    for (const auto& t : tensors) {
      auto it = x.names.find(t.name);
      if (it != x.names.end() && !it->second.to) continue;
      renamed.push_back(t);
      if (it != x.names.end()) renamed.back().name = *it->second.to;
    }
    if (!clean(plan_mapping(*w.text, &x.config, renamed))) return std::nullopt;
    return WrapperFix{w.wrapper->name, w.text->name, w.text->hf_architectures.empty() ? w.text->name : w.text->hf_architectures.front()};
  } catch (const Error&) {
    return std::nullopt;  // --text-only would refuse this checkpoint: no fix to suggest
  }
}

}  // namespace moeckpt
