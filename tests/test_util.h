// Helpers shared by the unit tests: paths to testdata/, temporary directories, file I/O,
// and running the real binary.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "loader/error.h"
#include "loader/tensor.h"

namespace moeckpt::testing {

// A TensorName for a test's own TensorInfo: the string is kept until the process ends (a
// TensorInfo views its name; a checkpoint keeps its own).
TensorName kept_name(std::string name);

std::filesystem::path testdata(std::string_view rel = {});
std::filesystem::path source_dir(std::string_view rel = {});
std::string moeckpt_binary();

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, std::string_view bytes);
// name -> file bytes for every regular file in dir (no subdirectories).
std::map<std::string, std::string> snapshot(const std::filesystem::path& dir);

// The code of the Error f throws; a test failure when it throws none.
inline Errc code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return Errc::kUsage;
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs the moeckpt binary with args (no shell), capturing stdout and stderr. cwd defaults to
// the source tree, so relative testdata/ paths work and golden output does not depend on
// where the build directory is.
RunResult run_moeckpt(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                      const std::string& cwd = MOECKPT_SOURCE_DIR);

struct RunOptions {
  std::vector<std::string> env;       // extra NAME=value entries
  std::string cwd = MOECKPT_SOURCE_DIR;
  long long fsize_limit = -1;         // RLIMIT_FSIZE in bytes for the child, if >= 0
  int kill_after_ms = -1;             // SIGKILL the child after this long, if >= 0
};
// As run_moeckpt, with resource limits or a deadline. exit_code is 128 + signal when killed.
RunResult run_moeckpt_with(const std::vector<std::string>& args, const RunOptions& options);

// A safetensors file built in memory: header JSON text (raw, so tests can make it malformed)
// followed by data bytes.
std::string safetensors_bytes(std::string_view header_json, std::string_view data);

}  // namespace moeckpt::testing
