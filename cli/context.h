// Options every command shares (moeckpt(1), GLOBAL OPTIONS) and the exit code the command sets
// (moeckpt-formats(7), EXIT STATUS).
#pragma once

#include <string>

#include "loader/remote_source.h"

namespace moeckpt::cli {

struct Context {
  bool json = false;     // one deterministic JSON document on stdout
  bool quiet = false;    // no progress, no warnings
  int verbose = 0;       // -v: debug log lines on stderr
  std::string color = "auto";
  bool color_stdout = false;
  bool color_stderr = false;
  bool stderr_is_tty = false;
  int exit_code = 0;
  RemoteOptions remote;  // a URL PATH: --timeout, --revision and the environment (cli/remote.h)
};

}  // namespace moeckpt::cli
