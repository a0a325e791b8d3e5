// What a SIGBUS handler needs, kept as plain data that can be read from inside it: the input
// files mapped now (a mapping whose file shrank faults with SIGBUS on the lost pages) and the
// temporary output files this process is writing (to remove them before it ends). The loader
// registers and unregisters; cli/signals.cpp's handler reads. Every read_* function is
// async-signal-safe: lock-free atomic loads of slots whose strings are never freed.
#pragma once

#include <cstddef>
#include <string>

namespace moeckpt::fault {

// A mapping of `size` bytes at base, of the file named `label` in messages.
void add_mapping(const void* base, size_t size, const std::string& label);
void remove_mapping(const void* base);
// A temporary file at `path` that must not outlive this process.
void add_temporary(const std::string& path);
void remove_temporary(const std::string& path);

// The label of the mapping holding addr, or nullptr.
const char* mapping_label_at(const void* addr);
// Calls f(path) for every registered temporary (from a signal handler: f must be
// async-signal-safe too).
void for_each_temporary(void (*f)(const char* path));

}  // namespace moeckpt::fault
