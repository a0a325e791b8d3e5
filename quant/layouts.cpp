#include "quant/layouts.h"

namespace moeckpt::quant {

const SchemeLayout& scheme_layout(Scheme s) {
  for (const auto& l : kSchemeLayouts)
    if (l.scheme == s) return l;
  return kSchemeLayouts[0];  // unreachable: the table lists every Scheme
}

const QuantizeLayout& quantize_layout(QuantizeTarget t) {
  for (const auto& l : kQuantizeLayouts)
    if (l.target == t) return l;
  return kQuantizeLayouts[0];  // unreachable: the table lists every target
}

}  // namespace moeckpt::quant
