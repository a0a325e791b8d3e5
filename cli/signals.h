// SIGINT/SIGTERM as a flag the shard writer polls (WriterOptions::stop): workers stop, the
// temporaries are removed, finished shards stay for --resume.
#pragma once

#include <atomic>

namespace moeckpt::cli {

// Also ignores SIGXFSZ, so a file-size limit is a write error (exit 4), not a kill.
void install_interrupt_handlers();
const std::atomic<bool>& interrupted();

// SIGBUS: an input file shrank under its mapping (another process truncated it). The handler
// prints one line naming the file (loader/fault_registry.h), removes this process's temporary
// files (finished shards stay, for --resume) and exits 3.
void install_fault_handler();

}  // namespace moeckpt::cli
