#include "mapping/dsv4_rule.h"

#include "loader/error.h"

namespace moeckpt {

ExpertDtypeSetting resolve_expert_dtype(const Json& config, std::string_view label) {
  ExpertDtypeSetting s;
  auto it = config.find("expert_dtype");
  if (it == config.end() || it->is_null()) return s;
  s.explicit_in_config = true;
  if (it->is_string() && it->get<std::string>() == "fp4") return s;
  if (it->is_string() && it->get<std::string>() == "fp8") {
    s.value = ExpertDtype::kFp8;
    return s;
  }
  throw Error(Errc::kConfigInvalid, std::string(label),
              "expert_dtype is " + it->dump() + ", expected \"fp4\" or \"fp8\" (absent means \"fp4\")");
}

std::string_view expert_dtype_name(ExpertDtype d) { return d == ExpertDtype::kFp4 ? "fp4" : "fp8"; }

bool is_routed_expert_scale(std::string_view n) {
  // ... ".experts." <digits> ".w" [123] ".scale"
  constexpr std::string_view tail = ".scale";
  if (!n.ends_with(tail) || n.size() < tail.size() + 3) return false;
  n.remove_suffix(tail.size());
  if (n.size() < 3 || n[n.size() - 3] != '.' || n[n.size() - 2] != 'w' || n[n.size() - 1] < '1' || n[n.size() - 1] > '3')
    return false;
  n.remove_suffix(3);
  size_t digits = 0;
  while (digits < n.size() && n[n.size() - 1 - digits] >= '0' && n[n.size() - 1 - digits] <= '9') ++digits;
  if (digits == 0) return false;
  n.remove_suffix(digits);
  return n.ends_with(".experts.") || n == "experts.";
}

std::string apply_dsv4_scale_rule(std::string_view name, ExpertDtype experts) {
  constexpr std::string_view tail = ".scale";
  if (!name.ends_with(tail)) return std::string(name);
  std::string out(name.substr(0, name.size() - tail.size()));
  out += (is_routed_expert_scale(name) && experts == ExpertDtype::kFp4) ? ".weight_scale" : ".weight_scale_inv";
  return out;
}

}  // namespace moeckpt
