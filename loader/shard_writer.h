// Writing a WritePlan into an output directory: shards written under temporary names in
// parallel, committed (fsync + rename) one by one as they complete; the index, sidecar files
// and config.json last, so a directory with a config.json is a finished checkpoint.
//
// Worker shares: with worker_count > 1 each worker writes only its shards (worker_shards) plus
// a plan file; finalize_output() then writes the index and config once every shard is there.
// Resume keeps shards whose size and header match the plan. The writer takes its collaborators
// (a stop flag, a progress sink) so it never prints and tests can drive it with fakes.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "loader/checkpoint.h"
#include "loader/write_plan.h"

namespace moeckpt {

inline constexpr const char* kPlanFile = ".moeckpt-plan.json";

// Where the writer reports bytes as they are written (a progress bar, a test's counter).
// add() is called from several threads.
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void start(const std::string& label, uint64_t total_bytes) = 0;
  virtual void add(uint64_t bytes) = 0;
  virtual void finish() = 0;
};

struct WriterOptions {
  std::filesystem::path output;
  unsigned threads = 0;  // 0: all cores
  bool resume = false, overwrite = false;
  unsigned worker_index = 0, worker_count = 1;  // 0-based index of count workers
  // When it turns true the writer stops, removes its temporaries and throws kOutputWrite.
  const std::atomic<bool>* stop = nullptr;
};

struct WriteReport {
  size_t shards_written = 0;
  size_t shards_kept = 0;  // finished by an earlier run (resume) or checked by finalize
  uint64_t bytes_written = 0;
  bool finalized = false;  // index and config written
  double seconds = 0;
};

// Refuses an OUT that is IN, lies inside IN (or IN inside it), or is not a directory.
// Throws Error(kUsage) or Error(kOutputExists).
void check_output_dir(const Checkpoint& in, const std::filesystem::path& out);

// Writes this worker's shards of plan (every shard for a single worker), then, for a single
// worker, the index, sidecar files and config. Throws Error: kOutputExists for an OUT holding
// files this plan would not write, kOutputWrite for a failed or interrupted write; a
// producer's error as it is. Finished shards stay for a resume; temporaries are removed.
WriteReport write_plan(const Checkpoint& in, const WritePlan& plan, const WriterOptions& options, ProgressSink* progress);

// The dependent step of a worker split: checks every shard the plan file names (size, header
// checksum), then writes the index, sidecar files and config. Throws Error.
WriteReport finalize_output(const std::filesystem::path& out);

}  // namespace moeckpt
