// Where a PATH is opened: a local checkpoint, or a URL with the options of moeckpt(1),
// REMOTE CHECKPOINTS (--timeout, --revision, HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE). Every
// command but convert opens its input here.
#pragma once

#include <string>

#include "cli/context.h"
#include "loader/checkpoint.h"
#include "loader/config_file.h"

namespace moeckpt::cli {

// Reads the environment into ctx.remote (after parsing, with --timeout and --revision in).
void setup_remote(Context& ctx);
Checkpoint open_checkpoint(const Context& ctx, const std::string& path, OpenOptions options = {});
// A config file by path or URL (experts --config).
Json open_config(const Context& ctx, const std::string& path);

}  // namespace moeckpt::cli
