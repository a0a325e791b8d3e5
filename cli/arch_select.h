// Picking the architecture for a command: --arch, else config.json's architectures/model_type.
#pragma once

#include <string>
#include <vector>

#include "cli/context.h"
#include "loader/config_file.h"
#include "mapping/arch_registry.h"

namespace moeckpt::cli {

struct ArchChoice {
  const Architecture* arch = nullptr;
  std::string how;   // "--arch", "config.json architectures", "config.json model_type"
  std::string note;  // which key drove the choice when architectures and model_type disagree
};

const ArchRegistry& registry();
// With MOECKPT_ARCHS_DIR set, the entries it could not load, as warnings (once, at start-up).
void report_registry_load_errors(const Context& ctx);

// By config.json alone; arch null when the registry knows neither its class nor its model_type.
ArchChoice detect_architecture(const Json& config);
// "architectures [...] / model_type ... is not in the registry: pass --arch NAME ..."
std::string unknown_architecture(const Json& config);

// Throws Error(kUsage) for an unknown --arch or when neither --arch nor a config is given,
// Error(kUnsupported) when the config names an architecture the registry lacks.
ArchChoice choose_architecture(const std::string& arch_flag, const Json* config, const std::string& config_label);

// "0-3, 5" for layer lists.
std::string format_layers(const std::vector<int64_t>& layers);

}  // namespace moeckpt::cli
