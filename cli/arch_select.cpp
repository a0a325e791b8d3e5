#include "cli/arch_select.h"

#include <cstdlib>

#include "cli/output.h"
#include "loader/error.h"
#include "mapping/moe_summary.h"

namespace moeckpt::cli {

const ArchRegistry& registry() { return ArchRegistry::get(); }

void report_registry_load_errors(const Context& ctx) {
  if (!std::getenv("MOECKPT_ARCHS_DIR")) return;  // the embedded registry is checked by its tests
  for (const auto& e : registry().load_errors()) warn(ctx, "MOECKPT_ARCHS_DIR: " + e);
}

ArchChoice choose_architecture(const std::string& flag, const Json* config, const std::string& config_label) {
  const ArchRegistry& reg = registry();
  ArchChoice c;
  if (!flag.empty()) {
    c.arch = reg.find(flag);
    if (!c.arch) throw Error(Errc::kUsage, "--arch", "unknown architecture '" + flag + "' (see `moeckpt archs`)");
    c.how = "--arch";
    return c;
  }
  if (!config)
    throw Error(Errc::kUsage, "--arch", "no config.json beside the checkpoint: pass --arch NAME (see `moeckpt archs`)");
  c.arch = reg.detect(*config);
  if (!c.arch) {
    std::string archs, mt;
    if (auto it = config->find("architectures"); it != config->end()) archs = it->dump();
    if (auto it = config->find("model_type"); it != config->end()) mt = it->dump();
    throw Error(Errc::kUnsupported, config_label,
                "architectures " + (archs.empty() ? std::string("(none)") : archs) + " / model_type " +
                    (mt.empty() ? std::string("(none)") : mt) +
                    " is not in the registry: pass --arch NAME for a compatible one (see `moeckpt archs`)");
  }
  bool by_class = false;
  if (auto it = config->find("architectures"); it != config->end() && it->is_array())
    for (const auto& a : *it)
      for (const auto& h : c.arch->hf_architectures)
        if (a.is_string() && a.get<std::string>() == h) by_class = true;
  c.how = by_class ? "config.json architectures" : "config.json model_type";
  return c;
}

std::string format_layers(const std::vector<int64_t>& layers) { return format_ranges(layers); }

}  // namespace moeckpt::cli
