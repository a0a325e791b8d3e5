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

std::string unknown_architecture(const Json& config) {
  std::string archs, mt;
  if (auto it = config.find("architectures"); it != config.end()) archs = it->dump();
  if (auto it = config.find("model_type"); it != config.end()) mt = it->dump();
  return "architectures " + (archs.empty() ? std::string("(none)") : archs) + " / model_type " +
         (mt.empty() ? std::string("(none)") : mt) +
         " is not in the registry: pass --arch NAME for a compatible one (see `moeckpt archs`)";
}

ArchChoice detect_architecture(const Json& config) {
  ArchRegistry::Detection d = registry().detect_explained(config);
  ArchChoice c;
  c.arch = d.arch;
  if (!c.arch) return c;
  c.how = d.by_class ? "config.json architectures" : "config.json model_type";
  c.note = std::move(d.note);
  return c;
}

ArchChoice choose_architecture(const std::string& flag, const Json* config, const std::string& config_label) {
  ArchChoice c;
  if (!flag.empty()) {
    c.arch = registry().find(flag);
    if (!c.arch) throw Error(Errc::kUsage, "--arch", "unknown architecture '" + flag + "' (see `moeckpt archs`)");
    c.how = "--arch";
    return c;
  }
  if (!config)
    throw Error(Errc::kUsage, "--arch", "no config.json beside the checkpoint: pass --arch NAME (see `moeckpt archs`)");
  c = detect_architecture(*config);
  if (!c.arch) throw Error(Errc::kUnsupported, config_label, unknown_architecture(*config));
  return c;
}

std::string format_layers(const std::vector<int64_t>& layers) { return format_ranges(layers); }

}  // namespace moeckpt::cli
