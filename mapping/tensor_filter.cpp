#include "mapping/tensor_filter.h"

#include <re2/re2.h>

#include "loader/error.h"

namespace moeckpt {
namespace {

std::unique_ptr<re2::RE2> compile(const std::string& pattern, std::string_view label) {
  if (pattern.empty()) return nullptr;
  re2::RE2::Options o;
  o.set_log_errors(false);
  auto re = std::make_unique<re2::RE2>(pattern, o);
  if (!re->ok()) throw Error(Errc::kUsage, std::string(label), "invalid regular expression: " + re->error());
  return re;
}

}  // namespace

TensorFilter::TensorFilter(const std::string& only, const std::string& exclude, std::string_view only_label,
                           std::string_view exclude_label)
    : only_(compile(only, only_label)), exclude_(compile(exclude, exclude_label)) {}
TensorFilter::TensorFilter(TensorFilter&&) noexcept = default;
TensorFilter::~TensorFilter() = default;

bool TensorFilter::keep(std::string_view name) const {
  const re2::StringPiece n(name.data(), name.size());
  return (!only_ || re2::RE2::PartialMatch(n, *only_)) && (!exclude_ || !re2::RE2::PartialMatch(n, *exclude_));
}

void TensorFilter::apply(std::vector<PlannedTensor>& tensors, std::vector<std::string>& dropped) const {
  std::vector<PlannedTensor> kept;
  kept.reserve(tensors.size());
  for (auto& t : tensors) {
    if (keep(t.source)) kept.push_back(std::move(t));
    else dropped.push_back(t.source);
  }
  tensors = std::move(kept);
}

}  // namespace moeckpt
