// The registry's JSON entries as compiled into the binary (generated archs_data.cpp).
#pragma once

#include <vector>

namespace moeckpt {

struct EmbeddedArch {
  const char* file;  // "mixtral.json"
  const char* json;
};

const std::vector<EmbeddedArch>& embedded_archs();

}  // namespace moeckpt
