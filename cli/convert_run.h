// Executing a ConvertPlan: shards written under temporary names in parallel, committed
// (fsync + rename) one by one as they complete; the index, copied files and config.json last.
// With --worker I/N each worker writes only its shards plus a plan file; `--finalize OUT`
// then writes the index and config once every shard is there.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "cli/context.h"
#include "cli/convert_build.h"
#include "cli/convert_plan.h"

namespace moeckpt::cli {

inline constexpr const char* kPlanFile = ".moeckpt-plan.json";

struct RunReport {
  size_t shards_written = 0;
  size_t shards_kept = 0;  // finished by an earlier run (--resume)
  uint64_t bytes_written = 0;
  bool finalized = false;  // index and config written
  double seconds = 0;
};

// Checks OUT against IN and the options (exists, non-empty, inside IN, ...). Throws Error.
void check_output_dir(const Checkpoint& in, const ConvertOptions& options);

RunReport run_convert(const Checkpoint& in, const ConvertPlan& plan, const ConvertOptions& options, const Context& ctx);

// `moeckpt convert --finalize OUT`.
RunReport finalize_convert(const std::filesystem::path& out, const Context& ctx);

// Set by SIGINT/SIGTERM: workers stop, temporary files are removed.
void install_interrupt_handlers();

}  // namespace moeckpt::cli
