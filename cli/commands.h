// One function per subcommand: adds it to the app, with its options and its callback.
// Each lives in cli/cmd_<name>.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace moeckpt::cli {

void register_inspect(CLI::App& app, Context& ctx);
void register_map(CLI::App& app, Context& ctx);
void register_experts(CLI::App& app, Context& ctx);
void register_archs(CLI::App& app, Context& ctx);
void register_convert(CLI::App& app, Context& ctx);
void register_validate(CLI::App& app, Context& ctx);
void register_tensor(CLI::App& app, Context& ctx);
void register_diff(CLI::App& app, Context& ctx);

}  // namespace moeckpt::cli
