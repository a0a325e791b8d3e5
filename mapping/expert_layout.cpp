#include "mapping/expert_layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "loader/error.h"
#include "mapping/config_view.h"
#include "mapping/name_template.h"

namespace moeckpt {
namespace {

using Groups = std::map<std::string, std::string>;

std::optional<Groups> match(const re2::RE2& re, const std::string& s) {
  const int n = re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> sub(static_cast<size_t>(n) + 1);
  if (!re.Match(s, 0, s.size(), re2::RE2::ANCHOR_BOTH, sub.data(), n + 1)) return std::nullopt;
  Groups g;
  for (const auto& [name, idx] : re.NamedCapturingGroups()) {
    const re2::StringPiece& p = sub[static_cast<size_t>(idx)];
    g[name] = p.data() ? std::string(p.data(), p.size()) : std::string();
  }
  return g;
}

// The unanchored body of a template's pattern, to build longer patterns from.
std::string body(const std::string& tmpl, std::string_view origin) {
  const std::string rx = template_to_regex(tmpl, origin);
  return rx.substr(1, rx.size() - 2);
}

long long layer_of(const Groups& g) {
  auto it = g.find("L");
  return it == g.end() || it->second.empty() ? -1 : std::stoll(it->second);
}

bool plain_float(DType t) { return t == DType::kBF16 || t == DType::kF16 || t == DType::kF32; }

std::string alternatives(std::initializer_list<const std::string*> names) {
  std::string out;
  for (const std::string* n : names)
    if (!n->empty()) out += (out.empty() ? "" : "|") + re2::RE2::QuoteMeta(*n);
  return out;
}

class LayoutPlanner {
 public:
  LayoutPlanner(const Architecture& arch, const Json* config, std::span<const TensorInfo> tensors, std::string_view label)
      : arch_(arch), tensors_(tensors), label_(label), names_(tensors.size()), prefix_(tensors.size()), consumed_(tensors.size(), false) {
    for (size_t i = 0; i < tensors.size(); ++i) names_[i] = text_name(tensors[i].name, prefix_[i]);
    if (config) {
      ConfigView view(*config, arch.aliases, arch.config_section);
      if (auto e = view.get(ConfigField::kNumExperts)) num_experts_ = *e;
    }
  }

  ExpertLayoutPlan run(ExpertTarget target) {
    for (const auto& spec : arch_.experts) {
      const bool want_per = target == ExpertTarget::kPerExpert || (target == ExpertTarget::kEngine && spec.layout == ExpertSpec::Layout::kPerExpert);
      // Per-expert with no other layout (an id group of one expert list, ERNIE-4.5-VL's): as it
      // is for per-expert and engine; fusing finds its tensors unplaced and refuses them.
      if (!spec.convert && spec.layout == ExpertSpec::Layout::kPerExpert) continue;
      if (!spec.convert) {
        // fused already, and the only layout known for these experts (unless an alternative
        // spec of the same path converts them)
        if (target == ExpertTarget::kPerExpert && !sibling(spec, [](const ExpertSpec& o) { return o.convert.has_value(); })) refuse_unconvertible(spec);
        continue;
      }
      // Specs of one path are alternative layouts the engine reads both of (GLM-4.5V): engine
      // keeps whichever the checkpoint has.
      if (target == ExpertTarget::kEngine && sibling(spec, [&](const ExpertSpec& o) { return o.layout != spec.layout; })) continue;
      if (want_per) split(*spec.convert);
      else fuse(*spec.convert);
      rename(*spec.convert, !want_per);
    }
    if (target == ExpertTarget::kFused) refuse_unplaced_per_expert();
    return finish();
  }

 private:
  // Another spec of the same path for which pred holds.
  template <typename Pred>
  bool sibling(const ExpertSpec& spec, Pred pred) const {
    for (const auto& o : arch_.experts)
      if (&o != &spec && o.path == spec.path && pred(o)) return true;
    return false;
  }

  // Under one of a composite's tower prefixes: copied as it is (Qwen3-Omni's talker has
  // per-expert experts of its own, which the engine's thinker class does not load).
  bool in_tower(const std::string& name) const {
    if (!arch_.composite) return false;
    return std::any_of(arch_.composite->towers.begin(), arch_.composite->towers.end(),
                       [&](const auto& t) { return name.starts_with(t.first); });
  }

  // A composite wrapper's checkpoint names, in its text entry's names (the registry's
  // templates): "model.language_model.layers..." is "model.layers..."; prefix keeps the pair.
  std::string text_name(const std::string& name, std::pair<std::string, std::string>& prefix) const {
    if (arch_.composite)
      for (const auto& [from, to] : arch_.composite->in_prefixes)
        if (name.starts_with(from)) {
          prefix = {from, to};
          return to + name.substr(from.size());
        }
    return name;
  }
  // And back, for what the plan writes.
  static std::string checkpoint_name(const std::string& name, const std::pair<std::string, std::string>& prefix) {
    if (prefix.first.empty() || !name.starts_with(prefix.second)) return name;
    return prefix.first + name.substr(prefix.second.size());
  }

  [[noreturn]] void fail(Errc code, const TensorInfo& t, const std::string& why) const { throw Error(code, std::string(label_), why, t.name); }

  void refuse_unconvertible(const ExpertSpec& spec) const {
    const re2::RE2 re("^" + body(spec.path, "mapping/archs/" + arch_.name + ".json") + "\\..+$");
    for (size_t i = 0; i < tensors_.size(); ++i)
      if (re2::RE2::FullMatch(names_[i], re))
        fail(Errc::kUnsupported, tensors_[i], fmt::format("{} reads these experts fused ({}) and no per-expert layout is known for them", arch_.name,
                                                spec.path));
  }

  // Per-expert tensors that no spec's names took (DeepSeek V4's original release names,
  // layers.N.ffn.experts.E.w1, beside a spec for transformers' model.layers...): fusing would
  // leave them as they are while saying the experts are fused, so refuse.
  void refuse_unplaced_per_expert() const {
    static const re2::RE2 per(R"(.*\.experts\.\d+\..+)");
    for (size_t i = 0; i < tensors_.size(); ++i)
      if (!consumed_[i] && !in_tower(tensors_[i].name) && re2::RE2::FullMatch(names_[i], per))
        fail(Errc::kUnsupported, tensors_[i],
             fmt::format("is a per-expert tensor under names no fused layout of {} describes: it cannot be fused", arch_.name));
  }

  void check_plain(const TensorInfo& t, const char* what) const {
    if (!plain_float(t.dtype))
      fail(Errc::kUnsupported, t,
           fmt::format("{} is {}: moeckpt re-lays BF16/F16/F32 experts only (their scales would have to move with them); "
                       "dequantize first (--dequant bf16) or leave --experts out",
                       what, dtype_name(t.dtype)));
  }

  // A tensor beside the experts' weights under their names (a scale, a bias, a zero point) that
  // the new layout has no place for: refused rather than dropped. pattern: an RE2 of its names.
  void refuse_companions(const std::string& pattern, const std::set<size_t>& taken) const {
    const re2::RE2 re(pattern);
    for (size_t i = 0; i < tensors_.size(); ++i)
      if (!taken.count(i) && !consumed_[i] && re2::RE2::FullMatch(names_[i], re))
        fail(Errc::kUnsupported, tensors_[i],
             "lies beside expert weights that change layout and has no place in the new one (a scale, bias or zero "
             "point): dequantize first (--dequant bf16) or leave --experts out");
  }

  uint64_t experts_for(const TensorInfo& t, uint64_t seen) const {
    if (!num_experts_) return seen;
    if (static_cast<uint64_t>(num_experts_->value) != seen)
      fail(Errc::kShapeInvalid, t, fmt::format("holds {} experts but config.json {} = {}", seen, num_experts_->key, num_experts_->value));
    return seen;
  }

  // Fused 3-D tensors -> per-expert matrices.
  void split(const ExpertConvert& c) {
    const std::string origin = "mapping/archs/" + arch_.name + ".json";
    const re2::RE2 re("^(?P<x_prefix>" + body(c.fused_path, origin) + ")\\.(?P<x_leaf>" + alternatives({&c.gate_up, &c.fused_down}) + ")$");
    for (size_t i = 0; i < tensors_.size(); ++i) {
      if (consumed_[i]) continue;
      auto g = match(re, names_[i]);
      if (!g) continue;
      const TensorInfo& t = tensors_[i];
      if (t.shape.size() != 3)
        fail(Errc::kShapeInvalid, t, fmt::format("is a fused expert tensor and must be 3-D [experts, rows, columns], not {}", shape_string(t.shape)));
      check_plain(t, "this fused expert tensor");
      const uint64_t E = experts_for(t, t.shape[0]);
      const std::string per = expand_template(c.per_path, layer_of(*g));
      std::vector<std::pair<std::string, ExpertPart>> parts = split_parts(c, t, (*g)["x_leaf"] == c.gate_up);
      refuse_companions(re2::RE2::QuoteMeta((*g)["x_prefix"] + "." + (*g)["x_leaf"]) + ".+", {i});
      for (uint64_t e = 0; e < E; ++e)
        for (const auto& [proj, part] : parts) {
          LayoutTensor o;
          o.name = checkpoint_name(fmt::format("{}.{}.{}", per, e, proj), prefix_[i]);
          o.dtype = t.dtype;
          o.shape = part_shape(part, t.shape[1], t.shape[2]);
          o.kind = LayoutTensor::Kind::kSplit;
          o.inputs = {{&t}};
          o.parts = {part};
          o.expert = e;
          o.what = fmt::format("split {} expert {}{}", t.name.substr(t.name.rfind('.') + 1), e, part_label(c, part, parts.size()));
          added_.push_back(std::move(o));
        }
      consumed_[i] = true;
      ++split_;
    }
  }

  // The per-expert parts of one fused tensor: gate and up (halves or interleaved), up alone, or down.
  std::vector<std::pair<std::string, ExpertPart>> split_parts(const ExpertConvert& c, const TensorInfo& t, bool gate_up) const {
    const uint64_t axis = c.transposed ? 1 : 0, n = t.shape[1 + axis];
    if (!gate_up) {
      const uint64_t down_axis = c.transposed ? 1 : 0;
      return {{c.down, ExpertPart{down_axis, 0, 1, t.shape[1 + down_axis], c.transposed}}};
    }
    if (c.gate.empty()) return {{c.up, ExpertPart{axis, 0, 1, n, c.transposed}}};
    if (n % 2)
      fail(Errc::kShapeInvalid, t, fmt::format("dim {} is {}, odd: it cannot hold a gate and an up projection of one width", 1 + axis, n));
    const uint64_t half = n / 2;
    if (c.interleave) return {{c.gate, ExpertPart{axis, 0, 2, half, c.transposed}}, {c.up, ExpertPart{axis, 1, 2, half, c.transposed}}};
    return {{c.gate, ExpertPart{axis, 0, 1, half, c.transposed}}, {c.up, ExpertPart{axis, half, 1, half, c.transposed}}};
  }

  static std::string part_label(const ExpertConvert& c, const ExpertPart& p, size_t nparts) {
    if (nparts < 2) return c.transposed ? " (transposed)" : "";
    const bool gate = p.offset == 0;
    if (c.interleave) return gate ? " (gate: even rows)" : " (up: odd rows)";
    return gate ? " (gate half)" : " (up half)";
  }

  // Per-expert matrices -> fused 3-D tensors, one layer at a time.
  void fuse(const ExpertConvert& c) {
    const std::string origin = "mapping/archs/" + arch_.name + ".json";
    const re2::RE2 re("^(?P<x_prefix>" + body(c.per_path, origin) + ")\\.(?P<x_e>\\d+)\\.(?P<x_proj>" +
                      alternatives({&c.gate, &c.up, &c.down}) + ")$");
    // prefix -> proj -> expert -> input index
    std::map<std::string, std::map<std::string, std::map<uint64_t, size_t>>> layers;
    std::map<std::string, long long> layer_index;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      if (consumed_[i]) continue;
      auto g = match(re, names_[i]);
      if (!g) continue;
      layers[(*g)["x_prefix"]][(*g)["x_proj"]][std::stoull((*g)["x_e"])] = i;
      layer_index[(*g)["x_prefix"]] = layer_of(*g);
    }
    for (auto& [prefix, projs] : layers) {
      std::set<size_t> taken;
      for (const auto& [proj, ex] : projs)
        for (const auto& [e, i] : ex) taken.insert(i);
      refuse_companions(re2::RE2::QuoteMeta(prefix) + "\\.\\d+\\..*", taken);
      const std::string fused = expand_template(c.fused_path, layer_index[prefix]);
      const auto& wrap = prefix_[*taken.begin()];
      if (c.gate.empty()) fuse_one(c, prefix, projs, {c.up}, checkpoint_name(fused + "." + c.gate_up, wrap), true);
      else fuse_one(c, prefix, projs, {c.gate, c.up}, checkpoint_name(fused + "." + c.gate_up, wrap), true);
      fuse_one(c, prefix, projs, {c.down}, checkpoint_name(fused + "." + c.fused_down, wrap), false);
      for (size_t i : taken) consumed_[i] = true;
    }
  }

  // The experts of every part in order 0 .. E-1, all of one shape and dtype.
  std::vector<std::vector<const TensorInfo*>> gather(const std::string& prefix, std::map<std::string, std::map<uint64_t, size_t>>& projs,
                                                     const std::vector<std::string>& names) const {
    const TensorInfo* first = nullptr;
    for (const auto& n : names)
      if (!projs[n].empty()) first = &tensors_[projs[n].begin()->second];
    if (!first) throw Error(Errc::kUnsupported, std::string(label_), fmt::format("{}: experts have no {} tensors to fuse", prefix, names.back()));
    uint64_t E = 0;
    for (const auto& n : names)
      if (!projs[n].empty()) E = std::max(E, projs[n].rbegin()->first + 1);
    if (num_experts_) E = static_cast<uint64_t>(num_experts_->value);
    std::vector<std::vector<const TensorInfo*>> parts;
    for (const auto& n : names) {
      std::vector<const TensorInfo*> v;
      for (const auto& [e, i] : projs[n])
        if (e >= E) fail(Errc::kShapeInvalid, tensors_[i], fmt::format("expert {} is past the {} experts the config gives", e, E));
      for (uint64_t e = 0; e < E; ++e) {
        auto it = projs[n].find(e);
        if (it == projs[n].end())
          throw Error(Errc::kUnsupported, std::string(label_), fmt::format("{}.{}.{} is missing: fusing needs every expert", prefix, e, n));
        const TensorInfo& t = tensors_[it->second];
        check_plain(t, "this expert weight");
        if (t.shape.size() != 2 || t.shape != first->shape || t.dtype != first->dtype)
          fail(Errc::kShapeInvalid, t, fmt::format("is {} {}, but {} is {} {}: every expert must be the same 2-D matrix", dtype_name(t.dtype),
                                                   shape_string(t.shape), first->name, dtype_name(first->dtype), shape_string(first->shape)));
        v.push_back(&t);
      }
      parts.push_back(std::move(v));
    }
    return parts;
  }

  void fuse_one(const ExpertConvert& c, const std::string& prefix, std::map<std::string, std::map<uint64_t, size_t>>& projs,
                const std::vector<std::string>& names, const std::string& out_name, bool gate_up) {
    LayoutTensor o;
    o.inputs = gather(prefix, projs, names);
    const TensorInfo& p = *o.inputs[0][0];
    const uint64_t E = o.inputs[0].size(), rows = p.shape[0], cols = p.shape[1];  // P = [out, in]
    const uint64_t axis = c.transposed ? 1 : 0, n = rows * names.size();
    for (size_t k = 0; k < names.size(); ++k)
      o.parts.push_back(c.interleave && gate_up ? ExpertPart{axis, k, 2, rows, c.transposed} : ExpertPart{axis, k * rows, 1, rows, c.transposed});
    o.shape = c.transposed ? std::vector<uint64_t>{E, cols, n} : std::vector<uint64_t>{E, n, cols};
    o.name = out_name;
    o.dtype = p.dtype;
    o.kind = LayoutTensor::Kind::kFuse;
    std::string from;
    for (const auto& nm : names) from += (from.empty() ? "" : " + ") + nm;
    o.what = fmt::format("fuse {}.{{0..{}}}.{}{}{}", prefix, E - 1, from, names.size() > 1 ? (c.interleave ? " (interleaved)" : " (gate, up)") : "",
                         c.transposed ? " (transposed)" : "");
    added_.push_back(std::move(o));
    ++fused_;
  }

  // Tensors beside the experts whose names move with the layout (the router).
  void rename(const ExpertConvert& c, bool to_fused) {
    const std::string origin = "mapping/archs/" + arch_.name + ".json";
    for (const auto& [per, fused] : c.renames) {
      const re2::RE2 re(template_to_regex(to_fused ? per : fused, origin));
      for (size_t i = 0; i < tensors_.size(); ++i) {
        if (consumed_[i]) continue;
        auto g = match(re, names_[i]);
        if (!g) continue;
        names_[i] = expand_template(to_fused ? fused : per, layer_of(*g));
        ++renamed_;
      }
    }
  }

  ExpertLayoutPlan finish() {
    ExpertLayoutPlan plan;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      if (consumed_[i]) continue;
      LayoutTensor o;
      o.name = checkpoint_name(names_[i], prefix_[i]);
      o.dtype = tensors_[i].dtype;
      o.shape = tensors_[i].shape;
      o.kind = o.name == tensors_[i].name ? LayoutTensor::Kind::kKeep : LayoutTensor::Kind::kRename;
      o.inputs = {{&tensors_[i]}};
      if (o.kind == LayoutTensor::Kind::kRename) o.what = "rename from " + tensors_[i].name;
      plan.tensors.push_back(std::move(o));
    }
    for (auto& a : added_) plan.tensors.push_back(std::move(a));
    std::sort(plan.tensors.begin(), plan.tensors.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    for (size_t k = 1; k < plan.tensors.size(); ++k)
      if (plan.tensors[k].name == plan.tensors[k - 1].name)
        throw Error(Errc::kDuplicateName, std::string(label_),
                    "the new expert layout would write this name twice (the checkpoint holds both layouts?)", plan.tensors[k].name);
    plan.split = split_;
    plan.fused = fused_;
    plan.renamed = renamed_;
    return plan;
  }

  const Architecture& arch_;
  std::span<const TensorInfo> tensors_;
  std::string_view label_;
  std::optional<ResolvedInt> num_experts_;
  std::vector<std::string> names_;  // in the text entry's names (composites)
  std::vector<std::pair<std::string, std::string>> prefix_;  // the wrapper prefix each had, or empty
  std::vector<bool> consumed_;
  std::vector<LayoutTensor> added_;
  size_t split_ = 0, fused_ = 0, renamed_ = 0;
};

}  // namespace

std::optional<ExpertTarget> parse_expert_target(std::string_view s) {
  if (s == "per-expert") return ExpertTarget::kPerExpert;
  if (s == "fused") return ExpertTarget::kFused;
  if (s == "engine") return ExpertTarget::kEngine;
  return std::nullopt;
}

ExpertLayoutPlan plan_expert_layout(const Architecture& arch, const Json* config, std::span<const TensorInfo> tensors,
                                    ExpertTarget target, std::string_view label) {
  return LayoutPlanner(arch, config, tensors, label).run(target);
}

std::shared_ptr<const TensorProducer> layout_producer(const Checkpoint& in, const LayoutTensor& t) {
  switch (t.kind) {
    case LayoutTensor::Kind::kSplit: return make_split_producer(in, *t.inputs[0][0], t.expert, t.parts[0], t.what);
    case LayoutTensor::Kind::kFuse: return make_fuse_producer(in, t.inputs, t.parts, t.shape, t.what);
    case LayoutTensor::Kind::kKeep:
    case LayoutTensor::Kind::kRename: break;
  }
  return nullptr;  // the caller keeps its own producer (a copy) for kept and renamed tensors
}

void apply_expert_layout(const Checkpoint& in, const ExpertLayoutPlan& plan, std::vector<PlannedTensor>& tensors) {
  std::map<std::string, PlannedTensor*> by_source;
  for (auto& t : tensors) by_source[t.source] = &t;
  std::vector<PlannedTensor> out;
  out.reserve(plan.tensors.size());
  for (const auto& t : plan.tensors) {
    bool present = true;
    for (const auto& part : t.inputs)
      for (const TensorInfo* i : part) present = present && by_source.count(i->name);
    if (!present) continue;  // filtered out (--only, --exclude): so is what it would become
    if (t.kind == LayoutTensor::Kind::kKeep || t.kind == LayoutTensor::Kind::kRename) {
      PlannedTensor p = *by_source[t.inputs[0][0]->name];
      p.out.name = t.name;
      out.push_back(std::move(p));
      continue;
    }
    PlannedTensor p;
    p.out = WriterTensor{t.name, t.dtype, t.shape, checked_nbytes(t.shape, t.dtype).value_or(0)};
    p.source = t.inputs[0][0]->name;
    p.producer = layout_producer(in, t);
    out.push_back(std::move(p));
  }
  tensors = std::move(out);
}

std::vector<TensorInfo> layout_tensor_infos(const ExpertLayoutPlan& plan) {
  std::vector<TensorInfo> out;
  out.reserve(plan.tensors.size());
  for (const auto& t : plan.tensors) {
    TensorInfo i;
    i.name = t.name;
    i.dtype = t.dtype;
    i.shape = t.shape;
    i.nbytes = checked_nbytes(t.shape, t.dtype).value_or(0);
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace moeckpt
