#include "mapping/planner.h"

#include <re2/re2.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "loader/error.h"
#include "mapping/config_view.h"
#include "mapping/moe_layers.h"
#include "mapping/name_template.h"

namespace moeckpt {
namespace {

// Named groups of an anchored match; empty when it does not match.
std::map<std::string, std::string> match_named(const re2::RE2& re, std::string_view text) {
  int n = re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> sub(static_cast<size_t>(n) + 1);
  std::map<std::string, std::string> out;
  if (!re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), re2::RE2::ANCHOR_BOTH, sub.data(), n + 1))
    return out;
  out["$"] = std::string(text);
  for (const auto& [name, idx] : re.NamedCapturingGroups())
    out[name] = std::string(sub[static_cast<size_t>(idx)].data() ? sub[static_cast<size_t>(idx)] : re2::StringPiece());
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  size_t p = 0;
  while ((p = s.find(from, p)) != std::string::npos) {
    s.replace(p, from.size(), to);
    p += to.size();
  }
  return s;
}

int64_t layer_index(std::string_view name) {
  size_t pos = 0;
  while ((pos = name.find("layers.", pos)) != std::string_view::npos) {
    if (pos == 0 || name[pos - 1] == '.') {
      size_t i = pos + 7;
      int64_t v = 0;
      size_t start = i;
      while (i < name.size() && name[i] >= '0' && name[i] <= '9' && v < (INT64_MAX / 10 - 9)) v = v * 10 + (name[i++] - '0');
      if (i > start && i < name.size() && name[i] == '.') return v;
    }
    pos += 7;
  }
  return -1;
}

bool is_quant_weight_dtype(DType d) { return dtype_is_fp8(d); }

// The scale suffix an FP8 weight is expected to have under this config.
std::string expected_fp8_scale(const Architecture& arch, const Json* config) {
  if (arch.scale_rule == "deepseek_v4") return "scale";
  if (config) {
    if (auto q = config->find("quantization_config"); q != config->end() && q->is_object()) {
      auto m = q->find("quant_method");
      std::string method = m != q->end() && m->is_string() ? m->get<std::string>() : "";
      auto b = q->find("weight_block_size");
      if (method == "fp8" && (b == q->end() || b->is_null())) return "weight_scale";
      if (method == "modelopt" || method == "compressed-tensors") return "weight_scale";
    }
  }
  return "weight_scale_inv";
}

}  // namespace

MapPlan plan_mapping(const Architecture& arch, const Json* config, std::span<const TensorInfo> tensors,
                     const PlanOptions& opt) {
  MapPlan plan;
  plan.arch = &arch;
  std::optional<ConfigView> view;
  if (config) {
    std::vector<std::vector<std::string>> aliases(arch.aliases.begin(), arch.aliases.end());
    view.emplace(*config, aliases, arch.config_section);
    if (auto v = view->get(ConfigField::kNumExperts)) plan.num_experts = v->value;
    if (auto v = view->get(ConfigField::kNumLayers)) plan.num_layers = v->value;
    if (plan.num_layers) {
      MoeLayers ml = resolve_moe_layers(arch.moe_layers, *view, *plan.num_layers, opt.config_label);
      plan.moe_layers = std::move(ml.layers);
      plan.moe_layers_explanation = arch.moe_layers.rule + ": " + ml.explanation;
    }
  }
  if (arch.scale_rule == "deepseek_v4") {
    plan.expert_dtype = config ? resolve_expert_dtype(*config, opt.config_label) : ExpertDtypeSetting{};
    if (!config) plan.notes.push_back("no config.json: expert_dtype taken as \"fp4\", its default");
  }
  if (!view) plan.notes.push_back("no config.json: expert and layer completeness not checked");
  else if (!plan.num_experts)
    plan.notes.push_back("config names no routed-expert count (tried " +
                         [&] {
                           std::string s;
                           for (const auto& a : view->aliases(ConfigField::kNumExperts)) s += (s.empty() ? "" : ", ") + a;
                           return s;
                         }() + "): expert completeness not checked");
  else if (!plan.num_layers)
    plan.notes.push_back("config names no layer count: expert completeness not checked");

  // Checkpoint name -> tensor, for companions and completeness.
  std::unordered_map<std::string_view, const TensorInfo*> by_name;
  by_name.reserve(tensors.size() * 2);
  plan.entries.reserve(tensors.size());
  for (const auto& t : tensors) by_name.emplace(t.name, &t);

  std::set<std::tuple<size_t, int64_t, int64_t, std::string>> expert_filled;  // spec, layer, expert, shard
  std::set<std::tuple<size_t, int64_t, std::string>> fused_present;           // spec, layer, fused name
  std::map<std::string, std::set<std::string>> stacked_present;               // param -> shard ids
  std::unordered_set<std::string> mapped_names;                               // post-mapper names seen

  for (const auto& t : tensors) {
    std::string name = t.name;
    if (opt.user_rules) {
      auto r = opt.user_rules->apply(name);
      if (!r) {
        plan.dropped.push_back(t.name);
        continue;
      }
      name = *r;
    }
    bool known = arch.match_tensor(name).has_value();
    auto mapped = arch.mapper.apply(name);
    if (!mapped) {
      plan.dropped.push_back(t.name);
      continue;
    }
    std::string n1 = *mapped;
    if (plan.expert_dtype) n1 = apply_dsv4_scale_rule(n1, plan.expert_dtype->value);
    mapped_names.insert(n1);
    int64_t layer = layer_index(n1);
    bool mtp = n1.starts_with("mtp.") || n1.find(".mtp.") != std::string::npos ||
               (plan.num_layers && layer >= *plan.num_layers);

    if (std::any_of(arch.skip.begin(), arch.skip.end(), [&](const std::string& s) { return n1.find(s) != std::string::npos; })) {
      plan.skipped.emplace_back(t.name, "the engine does not load it");
      continue;
    }
    PlanEntry e;
    std::optional<std::tuple<size_t, int64_t, int64_t, std::string>> fill_expert;
    std::optional<std::tuple<size_t, int64_t, std::string>> fill_fused;
    e.checkpoint = t.name;
    e.layer = layer;
    e.mtp = mtp;
    bool done = false;
    for (size_t si = 0; si < arch.experts.size() && !done; ++si) {
      const ExpertSpec& spec = arch.experts[si];
      auto g = match_named(*arch.expert_res[si], n1);
      if (g.empty()) continue;
      int64_t L = g.count("L") && !g["L"].empty() ? std::stoll(g["L"]) : layer;
      e.layer = L;
      if (spec.layout == ExpertSpec::Layout::kPerExpert) {
        const std::string& proj = g["proj"];
        bool down = proj == spec.down;
        e.param = g["prefix"] + (down ? ".w2_" : ".w13_") + g["rest"];
        e.expert_id = std::stoll(g["E"]);
        e.shard_id = down ? "w2" : (proj == spec.gate ? "w1" : "w3");
        e.kind = "expert";
        const std::string& rest = g["rest"];
        if (rest == "weight" || rest == "weight_packed" || rest == "qweight")
          fill_expert = std::make_tuple(si, L, *e.expert_id, e.shard_id);
      } else {
        const std::string& fname = g["fused"];
        for (const auto& f : spec.fused) {
          if (f.name != fname) continue;
          e.param = expand_template(spec.engine_path, L) + "." + f.param;
          e.shard_id = f.shard;
        }
        e.kind = "fused_expert";
        fill_fused = std::make_tuple(si, L, fname);
      }
      known = true;
      done = true;
    }
    if (!done) {
      for (const auto& s : arch.stacked) {
        if (n1.find(s.shard) == std::string::npos) continue;
        e.param = replace_all(n1, s.shard, s.param);
        e.packed = s.id;
        e.kind = "stacked";
        done = true;
        break;
      }
    }
    if (!done) {
      e.param = n1;
      e.kind = "direct";
    }
    if (!arch.renames.empty()) {
      auto r = arch.renames.apply(e.param);
      if (!r) {
        plan.skipped.emplace_back(t.name, "dropped by the engine's load-time renames");
        continue;
      }
      e.param = *r;
    }
    if (!known) {
      plan.unmapped.push_back(t.name);
      continue;
    }
    // Only tensors the architecture knows count as filling a parameter.
    if (fill_expert) expert_filled.insert(*fill_expert);
    if (fill_fused) fused_present.insert(*fill_fused);
    if (e.kind == "stacked") stacked_present[e.param].insert(e.packed);
    plan.entries.push_back(std::move(e));
  }

  // Unfilled: experts the config implies.
  if (plan.num_experts && *plan.num_experts > 0 && !plan.moe_layers.empty()) {
    const int64_t n = std::min<int64_t>(*plan.num_experts, 1 << 20);
    for (int64_t L : plan.moe_layers) {
      for (size_t si = 0; si < arch.experts.size(); ++si) {
        const ExpertSpec& spec = arch.experts[si];
        std::string path = expand_template(spec.path, L);
        if (spec.layout == ExpertSpec::Layout::kPerExpert) {
          struct P {
            const std::string* name;
            const char* shard;
            const char* param;
          };
          const P projs[] = {{&spec.gate, "w1", "w13_weight"}, {&spec.up, "w3", "w13_weight"}, {&spec.down, "w2", "w2_weight"}};
          for (int64_t x = 0; x < n; ++x) {
            for (const auto& p : projs) {
              if (p.name->empty() || expert_filled.count({si, L, x, p.shard})) continue;
              plan.unfilled.push_back({path + "." + p.param, x, p.shard, "",
                                       path + "." + std::to_string(x) + "." + *p.name + ".weight",
                                       "MoE layer " + std::to_string(L) + " has no such expert weight", L});
            }
          }
        } else {
          for (const auto& alts : spec.required) {
            bool any = std::any_of(alts.begin(), alts.end(), [&](const std::string& a) { return fused_present.count({si, L, a}); });
            if (any || alts.empty()) continue;
            std::string param, shard;
            for (const auto& f : spec.fused)
              if (f.name == alts.front()) param = f.param, shard = f.shard;
            plan.unfilled.push_back({expand_template(spec.engine_path, L) + "." + param, std::nullopt, shard, "",
                                     path + "." + alts.front(), "MoE layer " + std::to_string(L) + " has no fused expert tensor", L});
          }
        }
      }
    }
  }

  // Unfilled: the other shards of stacked parameters.
  std::map<std::string, std::vector<const StackedParam*>> stacked_by_param;
  for (const auto& s : arch.stacked) stacked_by_param[s.param].push_back(&s);
  for (const auto& present : stacked_present) {
    const std::string& param = present.first;
    const std::set<std::string>& ids = present.second;  // (clang 14 cannot capture structured bindings)
    // Which stacked family produced it: the one whose param name occurs in it.
    for (const auto& [pname, members] : stacked_by_param) {
      if (param.find(pname) == std::string::npos) continue;
      bool ours = std::any_of(members.begin(), members.end(), [&](const StackedParam* m) { return ids.count(m->id); });
      if (!ours) continue;
      std::set<std::string> need;
      for (const auto* m : members) need.insert(m->id);
      for (const auto& id : need) {
        if (ids.count(id)) continue;
        const StackedParam* m = *std::find_if(members.begin(), members.end(), [&](const StackedParam* s) { return s->id == id; });
        std::string expected = replace_all(param, pname, m->shard);
        plan.unfilled.push_back({param, std::nullopt, "", id, expected, "stacked parameter is missing a shard", layer_index(param)});
      }
      break;
    }
  }

  // Unfilled: scales that quantized weights need.
  const std::string fp8_scale = expected_fp8_scale(arch, config);
  for (const auto& e : plan.entries) {
    const TensorInfo* t = by_name.at(e.checkpoint);
    std::string_view cn = e.checkpoint;
    std::string base, want;
    if (is_quant_weight_dtype(t->dtype) && cn.ends_with(".weight")) {
      base = std::string(cn.substr(0, cn.size() - 7));
      if (by_name.count(base + ".weight_scale_inv") || by_name.count(base + ".weight_scale") || by_name.count(base + ".scale"))
        continue;
      want = fp8_scale;
    } else if (plan.expert_dtype && plan.expert_dtype->value == ExpertDtype::kFp4 && e.kind == "expert" &&
               (t->dtype == DType::kI8 || t->dtype == DType::kU8) && cn.ends_with(".weight")) {
      base = std::string(cn.substr(0, cn.size() - 7));
      if (by_name.count(base + ".scale")) continue;
      want = "scale";
    } else if (cn.ends_with("_blocks") && t->dtype == DType::kU8) {
      std::string scales = std::string(cn.substr(0, cn.size() - 7)) + "_scales";
      if (by_name.count(scales)) continue;
      plan.unfilled.push_back({e.param, e.expert_id, e.shard_id, e.packed, scales, "MXFP4 blocks without their scales", e.layer});
      continue;
    } else {
      continue;
    }
    std::string expected = base + "." + want;
    std::string mapped_scale = want;
    if (plan.expert_dtype) mapped_scale = apply_dsv4_scale_rule(expected, plan.expert_dtype->value).substr(base.size() + 1);
    std::string param = e.param;
    if (param.ends_with("weight")) param = param.substr(0, param.size() - 6) + mapped_scale;
    plan.unfilled.push_back({param, e.expert_id, e.shard_id, e.packed, expected,
                             std::string("quantized ") + std::string(dtype_name(t->dtype)) + " weight without its scale", e.layer});
  }

  std::sort(plan.unfilled.begin(), plan.unfilled.end(), [](const UnfilledEntry& a, const UnfilledEntry& b) {
    return std::tie(a.layer, a.param, a.expert_id, a.shard_id, a.packed, a.expected) <
           std::tie(b.layer, b.param, b.expert_id, b.shard_id, b.packed, b.expected);
  });
  return plan;
}

}  // namespace moeckpt
