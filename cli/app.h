// The moeckpt program: parses the command line, runs one command, turns errors into one line
// on stderr and an exit code (0 ok, 1 findings, 2 usage, 3 bad input, 4 output not written).
#pragma once

namespace moeckpt::cli {

int run(int argc, char** argv);

}  // namespace moeckpt::cli
