// Malformed safetensors files (the rules of moeckpt-formats(7), SAFETENSORS FILES), each with the
// error it must produce.
// Shared by the loader unit tests and the CLI tests (one line, exit 3, from every command).
#pragma once

#include <string>
#include <vector>

#include "loader/error.h"

namespace moeckpt::testing {

struct MalformedCase {
  std::string name;   // short id, used as the file name
  std::string bytes;  // the whole file
  Errc code;          // the error the loader must raise
  std::string needle; // a phrase the message must contain
};

std::vector<MalformedCase> malformed_safetensors_cases();

}  // namespace moeckpt::testing
