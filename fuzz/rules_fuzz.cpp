// Rules files: parse (line-numbered errors, RE2 compilation, group translation) and apply the
// rules to a few names; RE2 keeps every match linear.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "loader/error.h"
#include "mapping/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto rules = moeckpt::RuleSet::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    for (const char* n : {"model.layers.0.mlp.experts.3.gate_proj.weight", "lm_head.weight", "", "a.b.c.scale"}) rules.apply(n);
  } catch (const moeckpt::Error&) {
  }
  return 0;
}
