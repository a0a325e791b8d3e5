#include "quant/moe_backend.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <map>

#include "quant/layouts.h"

namespace moeckpt::quant {
namespace {

constexpr uint64_t kMegaMoeTile = 128;

// Groups tensors under one reason each: the first tensor and how many.
class Reasons {
 public:
  void add(const std::string& why, const TensorInfo* t) {
    auto [it, fresh] = count_.emplace(why, 0);
    if (fresh) order_.push_back({why, t});
    ++it->second;
  }
  void into(BackendFit& fit) const {
    for (const auto& [why, t] : order_) {
      const uint64_t n = count_.at(why);
      fit.reasons.push_back(t && n > 1 ? fmt::format("{} ({} and {} more)", why, t->name, n - 1) : t ? fmt::format("{} ({})", why, t->name) : why);
      fit.first.push_back(t);
    }
    fit.ok = order_.empty();
  }

 private:
  std::map<std::string, uint64_t> count_;
  std::vector<std::pair<std::string, const TensorInfo*>> order_;
};

std::string shape_reason(uint64_t n, uint64_t k) {
  return fmt::format("expert weights [{}, {}] do not tile: MegaMoE needs both dimensions to be multiples of {}", n, k, kMegaMoeTile);
}

}  // namespace

BackendFit check_megamoe(const Checkpoint& ck, const QuantScan& scan) {
  static const RE2 kRoutedExpert(R"(\.experts\.\d+\.(w1|w2|w3|gate_proj|up_proj|down_proj)\.(weight|qweight|weight_packed)$)");
  std::map<std::string_view, const QuantTensor*> by_weight;
  for (const auto& q : scan.tensors) by_weight[q.weight->name] = &q;
  BackendFit fit{"megamoe", true, {}, {}};
  Reasons reasons;
  uint64_t experts = 0;
  for (const auto& t : ck.tensors()) {
    if (!RE2::PartialMatch(t.name, kRoutedExpert)) continue;
    ++experts;
    auto it = by_weight.find(t.name);
    const QuantTensor* q = it == by_weight.end() ? nullptr : it->second;
    if (!q) {
      reasons.add(fmt::format("expert weights are {} without FP4 scales: MegaMoE takes FP4 experts only (E2M1, an E8M0 scale per 32)",
                              dtype_name(t.dtype)),
                  &t);
      continue;
    }
    if (q->scheme != Scheme::kMxfp4Packed) {
      reasons.add(fmt::format("expert weights are {}: MegaMoE takes FP4 experts only (E2M1 with an E8M0 scale per 32 along K)",
                              scheme_name(q->scheme)),
                  &t);
      continue;
    }
    const uint64_t n = q->shape.size() >= 2 ? q->shape[q->shape.size() - 2] : 1, k = q->shape.back();
    if (q->block_cols != kMxGroup) reasons.add(fmt::format("expert scales cover {} elements, MegaMoE reads one per {}", q->block_cols, kMxGroup), q->scale);
    if (n % kMegaMoeTile || k % kMegaMoeTile) reasons.add(shape_reason(n, k), &t);
  }
  if (!experts) reasons.add("no routed expert weights (.experts.<e>.w1/w2/w3 or gate/up/down_proj) found", nullptr);
  reasons.into(fit);
  return fit;
}

BackendFit megamoe_fit(std::string_view expert_dtype, uint64_t hidden, uint64_t moe_intermediate) {
  BackendFit fit{"megamoe", true, {}, {}};
  if (expert_dtype != "fp4") {
    fit.reasons.push_back(fmt::format("expert_dtype is {}: MegaMoE takes FP4 experts only", expert_dtype));
    fit.first.push_back(nullptr);
  }
  if (hidden % kMegaMoeTile || moe_intermediate % kMegaMoeTile) {
    fit.reasons.push_back(fmt::format("hidden_size {} and moe_intermediate_size {} must be multiples of {}", hidden, moe_intermediate, kMegaMoeTile));
    fit.first.push_back(nullptr);
  }
  fit.ok = fit.reasons.empty();
  return fit;
}

Findings backend_findings(const Checkpoint& ck, std::string_view backend) {
  Findings f;
  if (backend != "megamoe") return f;
  const BackendFit fit = check_megamoe(ck, scan_quantized(ck));
  for (size_t i = 0; i < fit.reasons.size(); ++i) {
    const TensorInfo* t = fit.first[i];
    f.push_back(error("E-MOE-BACKEND", "megamoe: " + fit.reasons[i], t ? ck.file_label(t->file) : ck.input(), t ? t->name.str() : std::string()));
  }
  return f;
}

}  // namespace moeckpt::quant
