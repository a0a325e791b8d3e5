// Wrappers whose language model needs a mode of its text entry that another branch adds. For
// each, the substring every tensor still unmapped or unfilled contains; composite_test.cpp
// fails as soon as such a wrapper maps fully, so the entry is removed when that branch merges,
// and the tests that need a cleanly mapping fixture (param_model_test.cpp) skip it meanwhile.
#pragma once

#include <map>
#include <string>

namespace moeckpt::testing {

inline const std::map<std::string, std::string>& pending_text_modes() {
  static const std::map<std::string, std::string> m = {
      {"deepseek_ocr2", "self_attn."},  // DeepSeek-V2 MHA mode (q/k/v -> qkv_proj), branch dsv4
  };
  return m;
}

}  // namespace moeckpt::testing
