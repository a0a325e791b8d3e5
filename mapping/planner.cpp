#include "mapping/planner.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

#include "loader/error.h"
#include "loader/name_index.h"
#include "mapping/config_view.h"
#include "mapping/moe_layers.h"
#include "mapping/mtp_select.h"
#include "mapping/name_template.h"
#include "mapping/renamer.h"

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

bool is_quant_weight_dtype(DType d) { return dtype_is_fp8(d); }

// The scale suffix an FP8 weight is expected to have under this config.
std::string expected_fp8_scale(const Architecture& arch, const Json* config) {
  if (arch.scale_rule == ScaleRule::kDeepseekV4) return "scale";
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

// What filled which parameter: (spec, layer, expert, shard) and (spec, layer, fused name),
// collected as they come and sorted once (shard ids: 0 w1, 1 w3, 2 w2).
using ExpertKey = std::tuple<size_t, int64_t, int64_t, int>;
using FusedKey = std::tuple<size_t, int64_t, std::string>;

// One tensor's entry while it is being resolved, with what it fills.
struct Resolved {
  PlanEntry e;
  bool expert = false;  // matched an expert pattern
  bool fill_expert = false, fill_fused = false;
  ExpertKey expert_key;
  size_t fused_spec = 0;
  std::string_view fused_name;
};

class Planner {
 public:
  Planner(const Architecture& arch, const Json* config, std::span<const TensorInfo> tensors, const PlanOptions& opt)
      : arch_(arch), config_(config), tensors_(tensors), opt_(opt), by_name_(tensors) {
    plan_.arch = &arch;
  }

  MapPlan run() {
    read_config();
    select_stacked();
    resolve_id_groups();
    Renamer renamer(&arch_, opt_.user_rules, config_, opt_.config_label);
    renamer_ = &renamer;
    plan_.expert_dtype = renamer.expert_dtype();
    if (plan_.expert_dtype && !config_) plan_.notes.push_back("no config.json: expert_dtype taken as \"fp4\", its default");
    note_what_is_not_checked();
    map_tensors();
    check_param_model();
    std::sort(expert_filled_.begin(), expert_filled_.end());
    std::sort(fused_present_.begin(), fused_present_.end());
    unfilled_experts();
    unfilled_stacked_shards();
    unfilled_scales();
    std::sort(plan_.unfilled.begin(), plan_.unfilled.end(), [](const UnfilledEntry& a, const UnfilledEntry& b) {
      return std::tie(a.layer, a.param, a.expert_id, a.shard_id, a.packed, a.expected) <
             std::tie(b.layer, b.param, b.expert_id, b.shard_id, b.packed, b.expected);
    });
    // Gaps are named as the checkpoint would name them (a composite's prefixes put back).
    for (auto& u : plan_.unfilled) u.expected = renamer.checkpoint_name(u.expected);
    note_unmapped_prefix();
    // The parameter model and the stacked-shard check may name one gap each.
    plan_.unfilled.erase(std::unique(plan_.unfilled.begin(), plan_.unfilled.end(), [](const UnfilledEntry& a, const UnfilledEntry& b) {
      return std::tie(a.param, a.expert_id, a.shard_id, a.packed, a.expected) == std::tie(b.param, b.expert_id, b.shard_id, b.packed, b.expected);
    }), plan_.unfilled.end());
    return std::move(plan_);
  }

 private:
  // When most tensors are unmapped under one prefix, the likely cause in one line: a language
  // model saved under a multimodal wrapper's names, loaded by a composite entry. The wrapper's
  // prefix is looked for first (its head, lm_head.weight, is often unmapped beside it, so the
  // names' common prefix alone can be empty).
  void note_unmapped_prefix() {
    if (plan_.unmapped.size() * 2 < tensors_.size() || plan_.unmapped.empty()) return;
    auto under = [&](const std::string& prefix) {
      return std::to_string(std::count_if(plan_.unmapped.begin(), plan_.unmapped.end(), [&](const std::string& n) { return n.starts_with(prefix); })) +
             " of " + std::to_string(tensors_.size()) + " tensors are under '" + prefix + "', which no tensor family of " + arch_.name + " matches";
    };
    for (const auto& a : ArchRegistry::get().all()) {
      if (!a.composite || a.composite->text != arch_.name) continue;
      for (const auto& pair : a.composite->in_prefixes) {
        const std::string& from = pair.first;
        auto n = std::count_if(plan_.unmapped.begin(), plan_.unmapped.end(), [&](const std::string& x) { return x.starts_with(from); });
        if (static_cast<size_t>(n) * 2 < tensors_.size()) continue;
        plan_.notes.push_back(under(from) + ": a language model saved under its multimodal wrapper's names, which " + a.name + " (" +
                              (a.hf_architectures.empty() ? a.title : a.hf_architectures.front()) + ") loads; try --arch " + a.name);
        return;
      }
    }
    std::string prefix = plan_.unmapped.front();
    for (const auto& n : plan_.unmapped) {
      size_t i = 0;
      while (i < prefix.size() && i < n.size() && prefix[i] == n[i]) ++i;
      prefix.resize(i);
    }
    prefix.resize(prefix.rfind('.') == std::string::npos ? 0 : prefix.rfind('.') + 1);
    if (!prefix.empty()) plan_.notes.push_back(under(prefix));
  }

  // Expert count, layer count and the MoE layers, from config.json.
  void read_config() {
    if (!config_) return;
    std::vector<std::vector<std::string>> aliases(arch_.aliases.begin(), arch_.aliases.end());
    view_.emplace(*config_, aliases, arch_.config_section);
    if (auto v = view_->get(ConfigField::kNumExperts)) plan_.num_experts = v->value;
    if (auto v = view_->get(ConfigField::kNumLayers)) plan_.num_layers = v->value;
    if (plan_.num_layers) {
      MoeLayers ml = resolve_moe_layers(arch_.moe_layers, *view_, *plan_.num_layers, opt_.config_label);
      plan_.moe_layers = std::move(ml.layers);
      plan_.moe_layers_explanation = arch_.moe_layers.rule + ": " + ml.explanation;
    }
  }

  // The stacked mappings the engine uses under this config: those without a condition, and
  // those whose condition holds (against an empty config when there is none).
  void select_stacked() {
    const Json empty = Json::object();
    std::optional<ConfigView> none;
    if (!view_) none.emplace(empty);
    const ConfigView& v = view_ ? *view_ : *none;
    for (const auto& s : arch_.stacked)
      if (!s.when || eval_param_expr(*s.when, arch_.params, v).truthy()) stacked_.push_back(&s);
  }

  // Each "ids" item's [first, first + count) under this config (against an empty one without
  // config.json, which leaves them undefined: such an item then takes no tensor).
  void resolve_id_groups() {
    const Json empty = Json::object();
    std::optional<ConfigView> none;
    if (!view_) none.emplace(empty);
    const ConfigView& v = view_ ? *view_ : *none;
    groups_.assign(arch_.experts.size(), std::nullopt);
    for (size_t si = 0; si < arch_.experts.size(); ++si) {
      const ExpertSpec& spec = arch_.experts[si];
      if (!spec.ids_first) continue;
      auto first = eval_param_expr(*spec.ids_first, arch_.params, v).as_int();
      auto count = eval_param_expr(*spec.ids_count, arch_.params, v).as_int();
      if (first && count && *first >= 0 && *count > 0 && *count <= (1 << 20)) groups_[si] = std::make_pair(*first, *count);
      else
        plan_.notes.push_back("experts " + spec.engine_path + ": ids first '" + spec.ids_first->text() + "', count '" +
                              spec.ids_count->text() + "' are undefined for this config: its experts are not mapped");
    }
  }

  void note_what_is_not_checked() {
    if (!view_) {
      plan_.notes.push_back("no config.json: expert and layer completeness not checked");
    } else if (!plan_.num_experts) {
      std::string s;
      for (const auto& a : view_->aliases(ConfigField::kNumExperts)) s += (s.empty() ? "" : ", ") + a;
      plan_.notes.push_back("config names no routed-expert count (tried " + s + "): expert completeness not checked");
    } else if (!plan_.num_layers) {
      plan_.notes.push_back("config names no layer count: expert completeness not checked");
    }
  }

  void map_tensors() {
    plan_.entries.reserve(tensors_.size());
    matchers_.reserve(arch_.experts.size());
    for (size_t si = 0; si < arch_.experts.size(); ++si) matchers_.push_back(make_expert_matcher(arch_.experts[si], *arch_.expert_res[si]));
    for (const auto& t : tensors_) map_tensor(t);
  }

  // Steps 1-3 of the renamer, skip, expert/stacked/direct resolution, step 4, then whether a
  // tensor family of the architecture knows the name.
  void map_tensor(const TensorInfo& t) {
    auto name = renamer_->user(t.name, name_buf_);
    if (name) {
      if (const std::string* tower = renamer_->tower(*name)) {
        plan_.towers.emplace_back(t.name, *tower);
        return;
      }
    }
    auto n1 = name ? renamer_->engine(*name, n1_buf_) : std::nullopt;
    if (!n1) {
      plan_.dropped.push_back(t.name);
      return;
    }
    if (engine_skips(*n1)) {
      plan_.skipped.emplace_back(t.name, "the engine does not load it");
      return;
    }
    Resolved r;
    r.e.checkpoint = t.name;
    r.e.layer = layer_index(*n1);
    r.e.mtp = is_mtp_name(*n1, plan_.num_layers);
    resolve_param(*n1, r);
    auto renamed = renamer_->load_time(r.e.param);
    if (!renamed) {
      plan_.skipped.emplace_back(t.name, "dropped by the engine's load-time renames");
      return;
    }
    r.e.param = std::move(*renamed);
    // Known: an expert tensor, or one a template of the architecture matches (by its name
    // after the user's rules, before the mapper).
    if (!r.expert && !arch_.matches_tensor(*name)) {
      plan_.unmapped.push_back(t.name);
      return;
    }
    if (!r.e.grouped && expert_beyond_config(r.e)) return;
    // Only tensors the architecture knows count as filling a parameter.
    if (r.fill_expert) expert_filled_.push_back(r.expert_key);
    if (r.fill_fused) fused_present_.emplace_back(r.fused_spec, r.e.layer, std::string(r.fused_name));
    if (r.e.kind == "stacked") stacked_present_[r.e.param].insert(r.e.packed);
    plan_.entries.push_back(std::move(r.e));
    user_names_.emplace_back(*name);
  }

  // A routed expert the config does not have (LongCat-Flash's zero experts as transformers
  // writes them, say): the engine's expert mapping covers ids 0 .. num_experts - 1 only, so it
  // has no parameter for the tensor and vLLM fails on it.
  bool expert_beyond_config(const PlanEntry& e) {
    if (e.kind != "expert" || e.mtp || e.shared || !e.expert_id || !plan_.num_experts || *e.expert_id < *plan_.num_experts) return false;
    const std::string key = view_->get(ConfigField::kNumExperts)->key;
    plan_.unexpected.push_back(e.checkpoint);
    plan_.param_findings.push_back(
        {"E-PARAM-UNEXPECTED", e.checkpoint,
         "expert " + std::to_string(*e.expert_id) + " is beyond the config's " + std::to_string(*plan_.num_experts) + " routed experts ('" +
             key + "'): the engine's expert mapping covers experts 0-" + std::to_string(*plan_.num_experts - 1) +
             " and has no parameter for it"});
    return true;
  }

  // What the engine calls the parameter a checkpoint-side name would fill (the name as it
  // would be after the user's rules): map_tensor's resolution without a tensor.
  std::optional<std::pair<std::string, std::string>> engine_name(std::string_view name) {
    std::string buf;
    auto n1 = renamer_->engine(name, buf);
    if (!n1 || engine_skips(*n1)) return std::nullopt;
    Resolved r;
    resolve_param(*n1, r);
    auto renamed = renamer_->load_time(r.e.param);
    if (!renamed) return std::nullopt;
    return std::make_pair(std::move(*renamed), r.e.packed);
  }

  // Every parameter the architecture's model implies, against the mapped tensors.
  void check_param_model() {
    if (arch_.params.empty()) {
      plan_.notes.push_back(arch_.name + " has no parameter model yet: only experts, stacked shards and scales are checked for completeness");
      return;
    }
    if (!view_ || !plan_.num_layers) return;  // note_what_is_not_checked said why
    ParamCheckInput in;
    in.model = &arch_.params;
    in.config = &*view_;
    in.layers = {*plan_.num_layers, plan_.moe_layers};
    in.layers_key = view_->get(ConfigField::kNumLayers)->key;
    in.entries = &plan_.entries;
    in.user_names = &user_names_;
    in.tensor = [this](size_t i) { return by_name_.find(plan_.entries[i].checkpoint); };
    in.engine_name = [this](std::string_view n) { return engine_name(n); };
    ParamCheckResult r = check_params(in);
    plan_.param_model = true;
    plan_.params_expected = r.expected;
    plan_.unfilled.insert(plan_.unfilled.end(), r.unfilled.begin(), r.unfilled.end());
    plan_.unexpected.insert(plan_.unexpected.end(), r.unexpected.begin(), r.unexpected.end());
    plan_.param_findings.insert(plan_.param_findings.end(), r.findings.begin(), r.findings.end());
    plan_.notes.insert(plan_.notes.end(), r.notes.begin(), r.notes.end());
  }

  // The engine's skip list (substrings of mapped names).
  bool engine_skips(std::string_view n1) const {
    return std::any_of(arch_.skip.begin(), arch_.skip.end(), [&](const std::string& s) { return n1.find(s) != std::string_view::npos; });
  }

  // The parameter a mapped name fills: an expert's, a stacked one, or the name itself.
  void resolve_param(std::string_view n1, Resolved& r) {
    if (resolve_expert(n1, r) || resolve_stacked(n1, r)) return;
    r.e.param = n1;
    r.e.kind = "direct";
  }

  // "<path>.<e>.<proj>.<rest>" -> "<path>.w13_<rest>" / "<path>.w2_<rest>".
  void per_expert(const ExpertSpec& spec, const ExpertMatcher& m, size_t si, int64_t L, Resolved& r) const {
    PlanEntry& e = r.e;
    std::string_view proj = group(sub_, m.proj), rest = group(sub_, m.rest), prefix = group(sub_, m.prefix);
    // An id group lives under its own engine module (ERNIE-4.5-VL's text_experts / vision_experts).
    std::string grouped_prefix;
    if (groups_[si]) prefix = grouped_prefix = expand_template(spec.engine_path, L);
    bool down = proj == spec.down;
    std::string_view mid = down ? ".w2_" : ".w13_";
    e.param.reserve(prefix.size() + mid.size() + rest.size());
    e.param.append(prefix).append(mid).append(rest);
    e.expert_id = to_int64(group(sub_, m.E)) - (groups_[si] ? groups_[si]->first : 0);
    e.shard_id = down ? "w2" : (proj == spec.gate ? "w1" : "w3");
    e.kind = "expert";
    if (rest == "weight" || rest == "weight_packed" || rest == "qweight") {
      r.fill_expert = true;
      r.expert_key = std::make_tuple(si, L, *e.expert_id, down ? 2 : (proj == spec.gate ? 0 : 1));
    }
  }

  // A fused 3-D expert tensor -> its parameter under the engine path.
  void fused_expert(const ExpertSpec& spec, const ExpertMatcher& m, size_t si, int64_t L, Resolved& r) const {
    std::string_view fname = group(sub_, m.fused);
    for (const auto& f : spec.fused) {
      if (f.name != fname) continue;
      r.e.param = expand_template(spec.engine_path, L) + "." + f.param;
      r.e.shard_id = f.shard;
    }
    r.e.kind = "fused_expert";
    r.fill_fused = true;
    r.fused_spec = si;
    r.fused_name = fname;
  }

  bool resolve_expert(std::string_view n1, Resolved& r) {
    for (size_t si = 0; si < arch_.experts.size(); ++si) {
      const ExpertSpec& spec = arch_.experts[si];
      const ExpertMatcher& m = matchers_[si];
      if (!match_expert(m, n1, sub_)) continue;
      if (spec.ids_first) {  // an id group takes only its own checkpoint indices
        if (!groups_[si]) continue;
        const int64_t x = to_int64(group(sub_, m.E));
        if (x < groups_[si]->first || x >= groups_[si]->first + groups_[si]->second) continue;
        r.e.grouped = true;
      }
      std::string_view gl = group(sub_, m.L);
      const int64_t L = !gl.empty() ? to_int64(gl) : r.e.layer;
      r.e.layer = L;
      if (spec.layout == ExpertSpec::Layout::kPerExpert) per_expert(spec, m, si, L, r);
      else fused_expert(spec, m, si, L, r);
      r.e.shared = spec.shared;
      r.expert = true;
      return true;
    }
    return false;
  }

  // The first (param, shard) whose shard name occurs in the name replaces it.
  bool resolve_stacked(std::string_view n1, Resolved& r) const {
    for (const StackedParam* s : stacked_) {
      if (n1.find(s->shard) == std::string_view::npos) continue;
      r.e.param = replace_all(std::string(n1), s->shard, s->param);
      r.e.packed = s->id;
      r.e.kind = "stacked";
      return true;
    }
    return false;
  }

  bool filled(size_t si, int64_t L, int64_t x, int shard) const {
    return std::binary_search(expert_filled_.begin(), expert_filled_.end(), std::make_tuple(si, L, x, shard));
  }
  bool fused_has(size_t si, int64_t L, const std::string& a) const {
    return std::binary_search(fused_present_.begin(), fused_present_.end(), std::make_tuple(si, L, a));
  }

  void unfilled_per_expert(const ExpertSpec& spec, size_t si, int64_t L, int64_t n) {
    int64_t first = 0;
    if (spec.ids_first) {
      if (!groups_[si]) return;  // resolve_id_groups said why
      first = groups_[si]->first;
      n = groups_[si]->second;
    }
    struct P {
      const std::string* name;
      const char* shard;
      const char* param;
      int key;
    };
    const P projs[] = {{&spec.gate, "w1", "w13_weight", 0}, {&spec.up, "w3", "w13_weight", 1}, {&spec.down, "w2", "w2_weight", 2}};
    const std::string path = expand_template(spec.path, L);
    const std::string engine = spec.ids_first ? expand_template(spec.engine_path, L) : path;
    for (int64_t x = 0; x < n; ++x) {
      for (const auto& p : projs) {
        if (p.name->empty() || filled(si, L, x, p.key)) continue;
        plan_.unfilled.push_back({engine + "." + p.param, x, p.shard, "", path + "." + std::to_string(first + x) + "." + *p.name + ".weight",
                                  "MoE layer " + std::to_string(L) + " has no such expert weight", L});
      }
    }
  }

  void unfilled_fused(const ExpertSpec& spec, size_t si, int64_t L) {
    const std::string path = expand_template(spec.path, L);
    for (const auto& alts : spec.required) {
      bool any = std::any_of(alts.begin(), alts.end(), [&](const std::string& a) { return fused_has(si, L, a); });
      if (any || alts.empty()) continue;
      std::string param, shard;
      for (const auto& f : spec.fused)
        if (f.name == alts.front()) param = f.param, shard = f.shard;
      plan_.unfilled.push_back({expand_template(spec.engine_path, L) + "." + param, std::nullopt, shard, "", path + "." + alts.front(),
                                "MoE layer " + std::to_string(L) + " has no fused expert tensor", L});
    }
  }

  // Whether any tensor of spec si sits in layer L.
  bool spec_present(size_t si, int64_t L) const {
    auto e = std::lower_bound(expert_filled_.begin(), expert_filled_.end(), ExpertKey(si, L, std::numeric_limits<int64_t>::min(), std::numeric_limits<int>::min()));
    if (e != expert_filled_.end() && std::get<0>(*e) == si && std::get<1>(*e) == L) return true;
    auto f = std::lower_bound(fused_present_.begin(), fused_present_.end(), FusedKey(si, L, std::string()));
    return f != fused_present_.end() && std::get<0>(*f) == si && std::get<1>(*f) == L;
  }

  // Specs that share a path are alternative layouts of one set of experts (GLM-4.5V's per-expert
  // release and transformers' fused save): per layer, the one the checkpoint uses is expected,
  // the first when it uses none.
  bool expected_in_layer(size_t si, int64_t L) const {
    const std::string& path = arch_.experts[si].path;
    size_t first = si, used = SIZE_MAX;
    for (size_t sj = 0; sj < arch_.experts.size(); ++sj) {
      // Id groups of one path are different experts, not alternative layouts.
      if (arch_.experts[sj].path != path || arch_.experts[sj].ids_first || arch_.experts[si].ids_first) continue;
      first = std::min(first, sj);
      if (used == SIZE_MAX && spec_present(sj, L)) used = sj;
    }
    return si == (used != SIZE_MAX ? used : first);
  }

  // Experts the config implies.
  void unfilled_experts() {
    if (!plan_.num_experts || *plan_.num_experts <= 0 || plan_.moe_layers.empty()) return;
    const int64_t n = std::min<int64_t>(*plan_.num_experts, 1 << 20);
    for (int64_t L : plan_.moe_layers) {
      for (size_t si = 0; si < arch_.experts.size(); ++si) {
        const ExpertSpec& spec = arch_.experts[si];
        if (!expected_in_layer(si, L)) continue;
        if (spec.layout == ExpertSpec::Layout::kPerExpert) unfilled_per_expert(spec, si, L, n);
        else unfilled_fused(spec, si, L);
      }
    }
  }

  // The other shards of stacked parameters.
  void unfilled_stacked_shards() {
    std::map<std::string, std::vector<const StackedParam*>> stacked_by_param;
    for (const StackedParam* s : stacked_) stacked_by_param[s->param].push_back(s);
    for (const auto& present : stacked_present_) {
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
          plan_.unfilled.push_back({param, std::nullopt, "", id, expected, "stacked parameter is missing a shard", layer_index(param)});
        }
        break;
      }
    }
  }

  // Whether stem + suffix names a tensor (one buffer for every probe).
  bool has(std::string_view stem, std::string_view suffix) {
    probe_.assign(stem).append(suffix);
    return by_name_.find(probe_) != nullptr;
  }

  // The scale an entry's quantized weight needs and lacks: (stem, suffix), or nothing.
  // MXFP4 blocks without scales are reported here directly.
  std::optional<std::pair<std::string, std::string>> missing_scale(const PlanEntry& e, const std::string& fp8_scale) {
    const TensorInfo* t = by_name_.find(e.checkpoint);
    std::string_view cn = e.checkpoint;
    if (is_quant_weight_dtype(t->dtype) && cn.ends_with(".weight")) {
      std::string_view stem = cn.substr(0, cn.size() - 7);
      if (has(stem, ".weight_scale_inv") || has(stem, ".weight_scale") || has(stem, ".scale")) return std::nullopt;
      return std::make_pair(std::string(stem), fp8_scale);
    }
    if (plan_.expert_dtype && plan_.expert_dtype->value == ExpertDtype::kFp4 && e.kind == "expert" &&
        (t->dtype == DType::kI8 || t->dtype == DType::kU8) && cn.ends_with(".weight")) {
      std::string_view stem = cn.substr(0, cn.size() - 7);
      if (has(stem, ".scale")) return std::nullopt;
      return std::make_pair(std::string(stem), std::string("scale"));
    }
    if (cn.ends_with("_blocks") && t->dtype == DType::kU8) {
      std::string scales = std::string(cn.substr(0, cn.size() - 7)) + "_scales";
      if (!by_name_.find(scales))
        plan_.unfilled.push_back({e.param, e.expert_id, e.shard_id, e.packed, scales, "MXFP4 blocks without their scales", e.layer});
    }
    return std::nullopt;
  }

  // Scales that quantized weights need.
  void unfilled_scales() {
    const std::string fp8_scale = expected_fp8_scale(arch_, config_);
    for (const auto& e : plan_.entries) {
      auto miss = missing_scale(e, fp8_scale);
      if (!miss) continue;
      const auto& [base, want] = *miss;
      std::string expected = base + "." + want;
      std::string mapped_scale = plan_.expert_dtype ? renamer_->scale_name(expected).substr(base.size() + 1) : want;
      std::string param = e.param;
      if (param.ends_with("weight")) param = param.substr(0, param.size() - 6) + mapped_scale;
      plan_.unfilled.push_back({param, e.expert_id, e.shard_id, e.packed, expected,
                                std::string("quantized ") + std::string(dtype_name(by_name_.find(e.checkpoint)->dtype)) +
                                    " weight without its scale",
                                e.layer});
    }
  }

  const Architecture& arch_;
  const Json* config_;
  std::span<const TensorInfo> tensors_;
  const PlanOptions& opt_;
  const TensorNameIndex by_name_;  // checkpoint name -> tensor, for companions and completeness
  const Renamer* renamer_ = nullptr;
  std::optional<ConfigView> view_;
  MapPlan plan_;
  std::vector<ExpertMatcher> matchers_;
  std::vector<const StackedParam*> stacked_;  // the stacked mappings this config selects
  std::vector<std::optional<std::pair<int64_t, int64_t>>> groups_;  // per experts item: its "ids" [first, first + count)
  std::vector<re2::StringPiece> sub_;
  std::string name_buf_, n1_buf_, probe_;
  std::vector<std::string> user_names_;  // parallel to plan_.entries: the name after the user's rules
  std::vector<ExpertKey> expert_filled_;
  std::vector<FusedKey> fused_present_;
  std::map<std::string, std::set<std::string>> stacked_present_;  // param -> shard ids
};

}  // namespace

std::vector<EngineParam> engine_parameters(const MapPlan& plan) {
  std::map<std::string_view, EngineParam> by;
  for (size_t i = 0; i < plan.entries.size(); ++i) {
    EngineParam& p = by[plan.entries[i].param];
    p.fillers.push_back(i);
  }
  for (size_t i = 0; i < plan.unfilled.size(); ++i) by[plan.unfilled[i].param].unfilled.push_back(i);
  std::vector<EngineParam> out;
  out.reserve(by.size());
  for (auto& [name, p] : by) {
    p.param = std::string(name);
    out.push_back(std::move(p));
  }
  return out;
}

MapPlan plan_mapping(const Architecture& arch, const Json* config, std::span<const TensorInfo> tensors,
                     const PlanOptions& opt) {
  return Planner(arch, config, tensors, opt).run();
}

}  // namespace moeckpt
