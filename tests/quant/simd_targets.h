// Running a test body once per SIMD target this CPU runs: the kernels' dynamic dispatch forced
// to each in turn, then released.
#pragma once

#include <hwy/targets.h>

#include <cstdint>

namespace moeckpt::quant {

template <typename F>
void for_each_target(F&& f) {
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(t);
    f(hwy::TargetName(t));
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace moeckpt::quant
