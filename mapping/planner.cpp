#include "mapping/planner.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

#include "loader/error.h"
#include "loader/name_index.h"
#include "mapping/config_view.h"
#include "mapping/moe_layers.h"
#include "mapping/name_template.h"

namespace moeckpt {
namespace {

// An expert pattern's named groups, by capture index (-1 when the pattern lacks one), and a
// literal every name it matches must contain (cheap to test before running the regex).
struct ExpertMatcher {
  const re2::RE2* re = nullptr;
  int ngroups = 0;
  int prefix = -1, L = -1, E = -1, proj = -1, rest = -1, fused = -1;
  std::string needle;  // the spec path's text after its last placeholder, then "."
};

ExpertMatcher make_expert_matcher(const ExpertSpec& spec, const re2::RE2& re) {
  ExpertMatcher m;
  m.re = &re;
  m.ngroups = re.NumberOfCapturingGroups();
  for (const auto& [name, idx] : re.NamedCapturingGroups()) {
    if (name == "prefix") m.prefix = idx;
    else if (name == "L") m.L = idx;
    else if (name == "E") m.E = idx;
    else if (name == "proj") m.proj = idx;
    else if (name == "rest") m.rest = idx;
    else if (name == "fused") m.fused = idx;
  }
  // The pattern is "^<path>\.(...)$" with the path's literal text quoted: whatever follows
  // the path's last "}" (all of it when there is none) occurs in the name, followed by ".".
  size_t close = spec.path.rfind('}');
  m.needle = (close == std::string::npos ? spec.path : spec.path.substr(close + 1)) + ".";
  return m;
}

// Anchored match of an expert pattern; sub[i] is group i ("" when it did not take part).
bool match_expert(const ExpertMatcher& m, std::string_view text, std::vector<re2::StringPiece>& sub) {
  if (text.find(m.needle) == std::string_view::npos) return false;
  sub.assign(static_cast<size_t>(m.ngroups) + 1, re2::StringPiece());
  return m.re->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), re2::RE2::ANCHOR_BOTH, sub.data(), m.ngroups + 1);
}

std::string_view group(const std::vector<re2::StringPiece>& sub, int idx) {
  if (idx < 0) return {};
  const re2::StringPiece& p = sub[static_cast<size_t>(idx)];
  return p.data() ? std::string_view(p.data(), p.size()) : std::string_view();
}

// std::stoll of a run of digits (what the patterns capture), with its out_of_range on overflow.
int64_t to_int64(std::string_view digits) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec == std::errc::result_out_of_range) throw std::out_of_range("stoll");
  if (ec != std::errc() || ptr != digits.data() + digits.size()) {
    return std::stoll(std::string(digits));  // not a plain run of digits: keep stoll's reading
  }
  return v;
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
  const TensorNameIndex by_name(tensors);
  plan.entries.reserve(tensors.size());

  // What filled which parameter: (spec, layer, expert, shard) and (spec, layer, fused name),
  // collected as they come and sorted once (shard ids: 0 w1, 1 w3, 2 w2).
  std::vector<std::tuple<size_t, int64_t, int64_t, int>> expert_filled;
  std::vector<std::tuple<size_t, int64_t, std::string>> fused_present;
  std::map<std::string, std::set<std::string>> stacked_present;  // param -> shard ids

  std::vector<ExpertMatcher> matchers;
  matchers.reserve(arch.experts.size());
  for (size_t si = 0; si < arch.experts.size(); ++si) matchers.push_back(make_expert_matcher(arch.experts[si], *arch.expert_res[si]));
  std::vector<re2::StringPiece> sub;
  std::string name_buf, n1_buf;

  for (const auto& t : tensors) {
    std::string_view name = t.name;
    if (opt.user_rules) {
      auto r = opt.user_rules->apply(name);
      if (!r) {
        plan.dropped.push_back(t.name);
        continue;
      }
      name_buf = std::move(*r);
      name = name_buf;
    }
    // An empty mapper maps every name to itself.
    std::string_view n1 = name;
    if (!arch.mapper.empty()) {
      auto mapped = arch.mapper.apply(name);
      if (!mapped) {
        plan.dropped.push_back(t.name);
        continue;
      }
      n1_buf = std::move(*mapped);
      n1 = n1_buf;
    }
    if (plan.expert_dtype) {
      std::string scaled = apply_dsv4_scale_rule(n1, plan.expert_dtype->value);
      n1_buf = std::move(scaled);
      n1 = n1_buf;
    }
    int64_t layer = layer_index(n1);
    bool mtp = n1.starts_with("mtp.") || n1.find(".mtp.") != std::string_view::npos ||
               (plan.num_layers && layer >= *plan.num_layers);

    if (std::any_of(arch.skip.begin(), arch.skip.end(), [&](const std::string& s) { return n1.find(s) != std::string_view::npos; })) {
      plan.skipped.emplace_back(t.name, "the engine does not load it");
      continue;
    }
    PlanEntry e;
    bool fill_expert = false, fill_fused = false;
    std::tuple<size_t, int64_t, int64_t, int> expert_key;
    std::string_view fused_name;
    size_t fused_spec = 0;
    e.checkpoint = t.name;
    e.layer = layer;
    e.mtp = mtp;
    bool done = false;
    for (size_t si = 0; si < arch.experts.size() && !done; ++si) {
      const ExpertSpec& spec = arch.experts[si];
      const ExpertMatcher& m = matchers[si];
      if (!match_expert(m, n1, sub)) continue;
      std::string_view gl = group(sub, m.L);
      int64_t L = !gl.empty() ? to_int64(gl) : layer;
      e.layer = L;
      if (spec.layout == ExpertSpec::Layout::kPerExpert) {
        std::string_view proj = group(sub, m.proj), rest = group(sub, m.rest), prefix = group(sub, m.prefix);
        bool down = proj == spec.down;
        std::string_view mid = down ? ".w2_" : ".w13_";
        e.param.reserve(prefix.size() + mid.size() + rest.size());
        e.param.append(prefix).append(mid).append(rest);
        e.expert_id = to_int64(group(sub, m.E));
        e.shard_id = down ? "w2" : (proj == spec.gate ? "w1" : "w3");
        e.kind = "expert";
        if (rest == "weight" || rest == "weight_packed" || rest == "qweight") {
          fill_expert = true;
          expert_key = std::make_tuple(si, L, *e.expert_id, down ? 2 : (proj == spec.gate ? 0 : 1));
        }
      } else {
        std::string_view fname = group(sub, m.fused);
        for (const auto& f : spec.fused) {
          if (f.name != fname) continue;
          e.param = expand_template(spec.engine_path, L) + "." + f.param;
          e.shard_id = f.shard;
        }
        e.kind = "fused_expert";
        fill_fused = true;
        fused_spec = si;
        fused_name = fname;
      }
      done = true;
    }
    const bool expert = done;
    if (!done) {
      for (const auto& s : arch.stacked) {
        if (n1.find(s.shard) == std::string_view::npos) continue;
        e.param = replace_all(std::string(n1), s.shard, s.param);
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
    // Known: an expert tensor, or one a template of the architecture matches (by its name
    // after the user's rules, before the mapper).
    if (!expert && !arch.matches_tensor(name)) {
      plan.unmapped.push_back(t.name);
      continue;
    }
    // Only tensors the architecture knows count as filling a parameter.
    if (fill_expert) expert_filled.push_back(expert_key);
    if (fill_fused) fused_present.emplace_back(fused_spec, e.layer, std::string(fused_name));
    if (e.kind == "stacked") stacked_present[e.param].insert(e.packed);
    plan.entries.push_back(std::move(e));
  }
  std::sort(expert_filled.begin(), expert_filled.end());
  std::sort(fused_present.begin(), fused_present.end());
  auto filled = [&](size_t si, int64_t L, int64_t x, int shard) {
    return std::binary_search(expert_filled.begin(), expert_filled.end(), std::make_tuple(si, L, x, shard));
  };
  auto fused_has = [&](size_t si, int64_t L, const std::string& a) {
    return std::binary_search(fused_present.begin(), fused_present.end(), std::make_tuple(si, L, a));
  };

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
            int key;
          };
          const P projs[] = {{&spec.gate, "w1", "w13_weight", 0}, {&spec.up, "w3", "w13_weight", 1}, {&spec.down, "w2", "w2_weight", 2}};
          for (int64_t x = 0; x < n; ++x) {
            for (const auto& p : projs) {
              if (p.name->empty() || filled(si, L, x, p.key)) continue;
              plan.unfilled.push_back({path + "." + p.param, x, p.shard, "",
                                       path + "." + std::to_string(x) + "." + *p.name + ".weight",
                                       "MoE layer " + std::to_string(L) + " has no such expert weight", L});
            }
          }
        } else {
          for (const auto& alts : spec.required) {
            bool any = std::any_of(alts.begin(), alts.end(), [&](const std::string& a) { return fused_has(si, L, a); });
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
  std::string probe;
  for (const auto& e : plan.entries) {
    const TensorInfo* t = by_name.find(e.checkpoint);
    std::string_view cn = e.checkpoint;
    std::string base, want;
    // Whether base + suffix names a tensor (one buffer for every probe).
    auto has = [&](std::string_view stem, std::string_view suffix) {
      probe.assign(stem).append(suffix);
      return by_name.find(probe) != nullptr;
    };
    if (is_quant_weight_dtype(t->dtype) && cn.ends_with(".weight")) {
      std::string_view stem = cn.substr(0, cn.size() - 7);
      if (has(stem, ".weight_scale_inv") || has(stem, ".weight_scale") || has(stem, ".scale")) continue;
      base = std::string(stem);
      want = fp8_scale;
    } else if (plan.expert_dtype && plan.expert_dtype->value == ExpertDtype::kFp4 && e.kind == "expert" &&
               (t->dtype == DType::kI8 || t->dtype == DType::kU8) && cn.ends_with(".weight")) {
      std::string_view stem = cn.substr(0, cn.size() - 7);
      if (has(stem, ".scale")) continue;
      base = std::string(stem);
      want = "scale";
    } else if (cn.ends_with("_blocks") && t->dtype == DType::kU8) {
      std::string scales = std::string(cn.substr(0, cn.size() - 7)) + "_scales";
      if (by_name.find(scales)) continue;
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
