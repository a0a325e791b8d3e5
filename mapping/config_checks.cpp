#include "mapping/config_checks.h"

#include "loader/error.h"
#include "mapping/config_view.h"
#include "mapping/dsv4_rule.h"
#include "mapping/expert_mapping.h"

namespace moeckpt {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool positive_int(const Json& j) { return (j.is_number_integer() || j.is_number_unsigned()) && j.get<int64_t>() > 0; }

}  // namespace

Findings check_quantization_config(const Json& q, const std::string& label) {
  Findings f;
  if (!q.is_object()) {
    f.push_back(error("E-QUANT-CONFIG", std::string("quantization_config is ") + q.type_name() + ", expected an object", label));
    return f;
  }
  auto m = q.find("quant_method");
  if (m == q.end() || !m->is_string()) {
    f.push_back(error("E-QUANT-METHOD", "quantization_config has no quant_method string", label));
    return f;
  }
  const std::string method = m->get<std::string>();
  if (method == "fp8") {
    if (auto it = q.find("fmt"); it != q.end() && !(it->is_string() && (*it == "e4m3" || *it == "e5m2")))
      f.push_back(error("E-QUANT-FMT", "quantization_config.fmt is " + it->dump() + ", expected \"e4m3\" or \"e5m2\"", label));
    if (auto it = q.find("weight_block_size"); it != q.end() && !it->is_null()) {
      if (!it->is_array() || it->size() != 2 || !positive_int((*it)[0]) || !positive_int((*it)[1]))
        f.push_back(error("E-QUANT-BLOCK", "quantization_config.weight_block_size is " + it->dump() +
                                               ", expected two positive integers such as [128, 128]", label));
    }
    if (auto it = q.find("activation_scheme"); it != q.end() && !(it->is_string() && (*it == "dynamic" || *it == "static")))
      f.push_back(error("E-QUANT-ACTIVATION", "quantization_config.activation_scheme is " + it->dump() +
                                                  ", expected \"dynamic\" or \"static\"", label));
  } else if (method == "mxfp4") {
    if (auto it = q.find("modules_to_not_convert"); it != q.end() && !it->is_null() && !it->is_array())
      f.push_back(error("E-QUANT-CONFIG", "quantization_config.modules_to_not_convert must be a list of module names", label));
  } else if (method == "modelopt") {
    auto algo = q.find("quant_algo");
    if (algo == q.end() && q.contains("quantization") && q["quantization"].is_object()) algo = q["quantization"].find("quant_algo");
    if (algo == q.end() || !algo->is_string())
      f.push_back(error("E-QUANT-CONFIG", "modelopt quantization_config has no quant_algo (e.g. \"NVFP4\", \"FP8\")", label));
    if (auto it = q.find("group_size"); it != q.end() && !positive_int(*it))
      f.push_back(error("E-QUANT-BLOCK", "quantization_config.group_size is " + it->dump() + ", expected a positive integer", label));
  } else if (method == "compressed-tensors") {
    if (!q.contains("config_groups") || !q["config_groups"].is_object())
      f.push_back(error("E-QUANT-CONFIG", "compressed-tensors quantization_config has no config_groups object", label));
  } else if (method == "gptq" || method == "awq") {
    auto bits = q.find("bits");
    if (bits == q.end() || !positive_int(*bits))
      f.push_back(error("E-QUANT-CONFIG", method + " quantization_config has no positive integer bits", label));
    // group_size -1 means one group per output channel.
    if (auto it = q.find("group_size"); it != q.end() && !(positive_int(*it) || (it->is_number_integer() && it->get<int64_t>() == -1)))
      f.push_back(error("E-QUANT-BLOCK", "quantization_config.group_size is " + it->dump() + ", expected a positive integer or -1", label));
  } else {
    f.push_back(warning("W-QUANT-METHOD-UNKNOWN", "quant_method \"" + method + "\" is not one moeckpt checks (fp8, mxfp4, modelopt, compressed-tensors, gptq, awq)", label));
  }
  return f;
}

Findings check_config(const Json& config, const std::string& label, const Architecture* arch, bool moe_expected,
                      const ParallelOptions& parallel) {
  Findings f;
  std::vector<std::vector<std::string>> aliases;
  if (arch) aliases.assign(arch->aliases.begin(), arch->aliases.end());
  ConfigView v(config, aliases, arch ? arch->config_section : std::string());
  for (const auto& p : v.problems())
    f.push_back(error("E-CONFIG-TYPE", "'" + p.key + "' " + p.message, label));
  if (auto it = config.find("architectures"); it != config.end() && !it->is_null()) {
    bool ok = it->is_array();
    if (ok)
      for (const auto& a : *it) ok = ok && a.is_string();
    if (!ok) f.push_back(error("E-CONFIG-TYPE", "'architectures' must be a list of class names", label));
  }
  if (auto it = config.find("model_type"); it != config.end() && !it->is_string())
    f.push_back(error("E-CONFIG-TYPE", "'model_type' must be a string", label));
  // An error, as map's refusal is: validate never passes what map cannot plan.
  if (!arch)
    f.push_back(error("E-ARCH-UNKNOWN",
                      "the architecture is not in moeckpt's registry, so how an engine loads it cannot be checked (map refuses it); "
                      "config and tensors were checked with generic rules only; pass --arch NAME for a compatible entry",
                      label));

  bool moe = moe_expected || (arch && !arch->experts.empty()) || v.get(ConfigField::kNumExperts) || v.get(ConfigField::kTopK);
  auto bad_type = [&](ConfigField fld) {
    for (const auto& p : v.problems())
      if (p.field == fld) return true;
    return false;
  };
  auto experts = v.get(ConfigField::kNumExperts);
  auto topk = v.get(ConfigField::kTopK);
  // A spelling other families use that this architecture's engine class does not read: said,
  // so that the fix (rename the key) is plain.
  auto unread = [&](ConfigField fld) {
    std::string out;
    const auto& tried = v.aliases(fld);
    for (const auto& k : default_aliases(fld))
      if (std::find(tried.begin(), tried.end(), k) == tried.end() && v.find(k))
        out += (out.empty() ? "" : ", ") + std::string("'") + k + "'";
    if (out.empty() || !arch) return out;
    return "; the config has " + out + ", which " + (arch->engine_class.empty() ? arch->name : arch->engine_class) + " does not read";
  };
  if (moe) {
    if (!experts && !bad_type(ConfigField::kNumExperts))
      f.push_back(error("E-EXPERTS-MISSING",
                        "no routed-expert count: tried " + join(v.aliases(ConfigField::kNumExperts)) + unread(ConfigField::kNumExperts), label));
    if (!topk && !bad_type(ConfigField::kTopK))
      f.push_back(error("E-TOPK-MISSING", "no top-k: tried " + join(v.aliases(ConfigField::kTopK)) + unread(ConfigField::kTopK), label));
  }
  if (experts && experts->value == 0)
    f.push_back(error("E-EXPERTS-ZERO", "'" + experts->key + "' is 0: a MoE model needs at least one routed expert", label));
  if (topk && topk->value == 0) f.push_back(error("E-TOPK-RANGE", "'" + topk->key + "' is 0: each token must go to at least one expert", label));
  if (topk && experts && experts->value > 0 && topk->value > experts->value)
    f.push_back(error("E-TOPK-RANGE", "top-k " + std::to_string(topk->value) + " ('" + topk->key + "') is more than the " +
                                          std::to_string(experts->value) + " routed experts ('" + experts->key + "')", label));
  for (ConfigField fld : {ConfigField::kHiddenSize, ConfigField::kNumLayers, ConfigField::kMoeIntermediateSize,
                          ConfigField::kNumAttentionHeads}) {
    auto r = v.get(fld);
    if (r && r->value == 0) f.push_back(error("E-SIZE-INVALID", "'" + r->key + "' is 0", label));
  }
  if (auto s = v.get(ConfigField::kNumSharedExperts); s && experts && s->value > 64)
    f.push_back(warning("W-SHARED-EXPERTS", "'" + s->key + "' is " + std::to_string(s->value) + ", unusually many shared experts", label));

  if (arch && arch->scale_rule == ScaleRule::kDeepseekV4) {
    try {
      resolve_expert_dtype(config, label);
    } catch (const Error& e) {
      f.push_back(error("E-EXPERT-DTYPE-INVALID", e.reason(), label));
    }
  }
  if (auto q = config.find("quantization_config"); q != config.end() && !q->is_null()) {
    auto qf = check_quantization_config(*q, label);
    f.insert(f.end(), qf.begin(), qf.end());
  }
  if ((parallel.tp > 0 || parallel.ep > 0) && experts && experts->value > 0) {
    PlacementInput in;
    in.num_logical = experts->value;
    in.tp = parallel.tp > 0 ? parallel.tp : 1;
    in.ep = parallel.ep > 0 ? parallel.ep : 1;
    if (auto r = v.get(ConfigField::kMoeIntermediateSize)) in.moe_intermediate_size = r->value;
    if (auto r = v.get(ConfigField::kNumAttentionHeads)) in.num_attention_heads = r->value;
    if (auto r = v.get(ConfigField::kNumKeyValueHeads)) in.num_key_value_heads = r->value;
    if (auto q = config.find("quantization_config"); q != config.end() && q->is_object())
      if (auto b = q->find("weight_block_size"); b != q->end() && b->is_array() && b->size() == 2 && positive_int((*b)[0]))
        in.block_n = (*b)[0].get<int64_t>();
    try {
      plan_placement(in);
    } catch (const Error& e) {
      f.push_back(error("E-PARALLEL-DIVISIBILITY", e.reason(), label));
    }
  }
  return f;
}

}  // namespace moeckpt
