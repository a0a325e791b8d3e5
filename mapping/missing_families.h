// The vLLM MoE families the registry does not cover, each with the reason: data, in
// mapping/archs/_missing.json (moeckpt archs --missing prints it).
#pragma once

#include <string>
#include <vector>

#include "loader/config_file.h"

namespace moeckpt {

struct MissingFamily {
  std::string file;    // the engine's model file, e.g. "vllm/model_executor/models/dbrx.py"
  std::string cls;     // the class it registers, e.g. "DbrxForCausalLM"
  std::string reason;  // why no entry covers it
};

// Parses _missing.json: {"notes": "...", "missing": [{"file", "class", "reason"}, ...]}. Throws
// std::invalid_argument saying what is wrong (unknown key, empty field, a class listed twice).
std::vector<MissingFamily> parse_missing_families(const Json& j);

}  // namespace moeckpt
