// Keeping or leaving out tensors by their input names: RE2 patterns that match anywhere in the
// name (convert's --only and --exclude).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loader/write_plan.h"

namespace re2 {
class RE2;
}

namespace moeckpt {

class TensorFilter {
 public:
  // Empty patterns keep everything. Throws Error(kUsage) naming only_label / exclude_label for
  // a pattern RE2 cannot compile.
  TensorFilter(const std::string& only, const std::string& exclude, std::string_view only_label = "--only",
               std::string_view exclude_label = "--exclude");
  TensorFilter(TensorFilter&&) noexcept;
  ~TensorFilter();

  bool keep(std::string_view name) const;
  // Removes the planned tensors whose source is not kept, appending their sources to dropped.
  void apply(std::vector<PlannedTensor>& tensors, std::vector<std::string>& dropped) const;

 private:
  std::unique_ptr<re2::RE2> only_, exclude_;
};

}  // namespace moeckpt
