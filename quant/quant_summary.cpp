#include "quant/quant_summary.h"

#include <algorithm>
#include <map>

namespace moeckpt::quant {
namespace {

// The modules of the checkpoint's plain (unquantized) 2-D weights that the config ignores.
std::vector<std::string> ignored(const Checkpoint& ck, const QuantConfig& cfg) {
  std::vector<std::string> out;
  if (cfg.ignore.empty()) return out;
  for (const auto& t : ck.tensors()) {
    if (t.shape.size() != 2 || !t.name.ends_with(".weight")) continue;
    std::string module = t.name.substr(0, t.name.size() - 7);
    if (cfg.ignored(module)) out.push_back(std::move(module));
  }
  return out;
}

}  // namespace

QuantSummary summarize_quantization(const Checkpoint& ck, bool megamoe) {
  QuantSummary s;
  s.config = read_quant_config(ck);
  std::map<Scheme, SchemeSummary> by;
  auto count = [&](const QuantTensor& q) {
    SchemeSummary& e = by[q.scheme];
    e.scheme = q.scheme;
    ++e.weights;
    e.bits = std::max(e.bits, q.bits);
    if (q.scheme == Scheme::kBlockFp8) e.block = {q.block_rows, q.block_cols};
    else if (q.block_rows == 1 && q.scheme != Scheme::kPerChannelFp8) e.group_sizes.push_back(q.block_cols);
    e.zero_points = e.zero_points || (q.zero && q.scheme != Scheme::kGptq) || (q.scheme == Scheme::kGptq && !s.config.groups.empty() &&
                                                                                 !s.config.groups[0].weights.symmetric);
    // GPTQ writes a g_idx even without activation order (then it is k / group); its config says.
    const bool gptq_desc_act = !s.config.groups.empty() && s.config.groups[0].weights.actorder;
    e.act_order = e.act_order || (q.scheme == Scheme::kGptq ? gptq_desc_act : q.g_idx != nullptr);
  };
  // MegaMoE's check reads the whole list; the summary alone counts as the scan goes.
  QuantScan scan;
  if (megamoe) {
    scan = scan_quantized(ck, s.config);
    s.megamoe = check_megamoe(ck, scan);
    for (const auto& q : scan.tensors) count(q);
  } else {
    scan = scan_quantized(ck, s.config, count);
  }
  for (auto& [scheme, e] : by) {
    std::sort(e.group_sizes.begin(), e.group_sizes.end());
    e.group_sizes.erase(std::unique(e.group_sizes.begin(), e.group_sizes.end()), e.group_sizes.end());
    s.schemes.push_back(std::move(e));
  }
  for (const auto& f : scan.findings) s.errors += f.severity == Severity::kError;
  s.ignored_modules = ignored(ck, s.config);
  return s;
}

}  // namespace moeckpt::quant
