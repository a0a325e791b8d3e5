#include "mapping/param_model.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "mapping/name_template.h"

namespace moeckpt {
namespace {

[[noreturn]] void malformed(const std::string& where, const std::string& why) { throw std::invalid_argument(where + ": " + why); }

Expr expr_of(const Json& j, const std::string& where) {
  std::string text;
  if (j.is_string()) text = j.get<std::string>();
  else if (j.is_number_integer()) text = std::to_string(j.get<int64_t>());
  else malformed(where, "an expression must be a string or an integer");
  try {
    return Expr::parse(text);
  } catch (const std::invalid_argument& e) {
    malformed(where, e.what());
  }
}

ExprVars vars_of(const Json& j, const std::string& where) {
  ExprVars out;
  if (j.is_null()) return out;
  if (!j.is_object()) malformed(where, "'vars' must be an object of expressions");
  for (auto it = j.begin(); it != j.end(); ++it) out.emplace_back(it.key(), expr_of(it.value(), where + " var " + it.key()));
  return out;
}

uint8_t layers_of(const Json& j, const std::string& where) {
  static const std::pair<const char*, uint8_t> names[] = {
      {"decoder", kLayersDecoder}, {"moe", kLayersMoe}, {"dense", kLayersDense}, {"mtp", kLayersMtp}};
  uint8_t bits = 0;
  auto one = [&](const Json& s) {
    if (!s.is_string()) malformed(where, "'layers' must be a string or a list of strings");
    for (const auto& [n, b] : names)
      if (s.get<std::string>() == n) return void(bits |= b);
    malformed(where, "unknown layer set '" + s.get<std::string>() + "' (decoder, moe, dense, mtp)");
  };
  if (j.is_array()) for (const auto& s : j) one(s);
  else one(j);
  return bits;
}

ParamKind kind_of(const Json& j, const std::string& where) {
  std::string k = j.is_string() ? j.get<std::string>() : "";
  if (k == "tensor") return ParamKind::kTensor;
  if (k == "linear") return ParamKind::kLinear;
  if (k == "any") return ParamKind::kAny;
  malformed(where, "'kind' must be \"tensor\", \"linear\" or \"any\"");
}

void check_item_keys(const Json& item, const std::string& where, bool use) {
  static const std::set<std::string> spec_keys = {"name", "shape", "when", "ignored", "why", "layers", "kind", "optional"};
  static const std::set<std::string> use_keys = {"use", "P", "when", "layers", "vars"};
  const auto& known = use ? use_keys : spec_keys;
  for (auto it = item.begin(); it != item.end(); ++it)
    if (!known.count(it.key())) malformed(where, "unknown key '" + it.key() + "'");
}

// What a "use" item passes to each spec of its block.
struct UseContext {
  std::string prefix;
  bool has_layers = false;
  uint8_t layers = 0;
  std::vector<Expr> when;
  std::shared_ptr<const ExprVars> vars;
};

std::string replace_prefix(std::string name, const std::string& prefix) {
  for (size_t p; (p = name.find("{P}")) != std::string::npos;) name.replace(p, 3, prefix);
  return name;
}

ParamSpec spec_of(const Json& item, const std::string& where, const UseContext* use) {
  if (!item.is_object()) malformed(where, "a parameter must be an object");
  check_item_keys(item, where, false);
  ParamSpec s;
  s.origin = where;
  auto name = item.find("name");
  if (name == item.end() || !name->is_string() || name->get<std::string>().empty()) malformed(where, "missing 'name'");
  s.name = use ? replace_prefix(name->get<std::string>(), use->prefix) : name->get<std::string>();
  if (s.name.find("{P}") != std::string::npos) malformed(where, "{P} outside a block");
  try {
    template_to_regex(s.name, where);  // the same template syntax as "tensors"
  } catch (const std::exception& e) {
    malformed(where, e.what());
  }
  for (const char* ph : {"{E}", "{N}", "{*}"})
    if (s.name.find(ph) != std::string::npos) malformed(where, std::string(ph) + " has no value in a parameter name");
  if (auto sh = item.find("shape"); sh != item.end()) {
    if (!sh->is_array() || sh->empty()) malformed(where, "'shape' must be a non-empty list");
    for (const auto& d : *sh) s.shape.push_back(expr_of(d, where + " shape"));
  }
  if (use) s.when = use->when;
  if (auto w = item.find("when"); w != item.end()) s.when.push_back(expr_of(*w, where + " when"));
  if (auto ig = item.find("ignored"); ig != item.end()) {
    s.ignored = expr_of(*ig, where + " ignored");
    auto why = item.find("why");
    if (why == item.end() || !why->is_string()) malformed(where, "'ignored' needs a 'why'");
    s.ignored_why = why->get<std::string>();
  }
  if (auto l = item.find("layers"); l != item.end()) s.layers = layers_of(*l, where);
  else if (use && use->has_layers) s.layers = use->layers;
  bool templated = s.name.find("{L}") != std::string::npos;
  if (templated != (s.layers != kLayersNone)) malformed(where, templated ? "{L} needs 'layers'" : "'layers' needs {L} in the name");
  if (auto k = item.find("kind"); k != item.end()) s.kind = kind_of(*k, where);
  if (auto o = item.find("optional"); o != item.end()) {
    if (!o->is_boolean()) malformed(where, "'optional' must be true or false");
    s.optional = o->get<bool>();
  }
  if (use) s.vars = use->vars;
  return s;
}

void add_use(const Json& item, const std::string& where, const ParamBlocks& blocks, std::vector<ParamSpec>& out) {
  check_item_keys(item, where, true);
  const Json& u = item["use"];
  if (!u.is_string()) malformed(where, "'use' must name a block");
  auto b = std::find_if(blocks.blocks.begin(), blocks.blocks.end(), [&](const auto& x) { return x.first == u.get<std::string>(); });
  if (b == blocks.blocks.end()) malformed(where, "unknown block '" + u.get<std::string>() + "'");
  UseContext ctx;
  if (auto p = item.find("P"); p != item.end()) {
    if (!p->is_string()) malformed(where, "'P' must be a string");
    ctx.prefix = p->get<std::string>();
  }
  if (auto l = item.find("layers"); l != item.end()) ctx.has_layers = true, ctx.layers = layers_of(*l, where);
  if (auto w = item.find("when"); w != item.end()) ctx.when.push_back(expr_of(*w, where + " when"));
  ctx.vars = std::make_shared<const ExprVars>(vars_of(item.value("vars", Json()), where));
  size_t i = 0;
  for (const auto& spec : b->second) out.push_back(spec_of(spec, where + " (block " + b->first + "[" + std::to_string(i++) + "])", &ctx));
}

// A config value as an expression value: numbers, booleans, strings and null; lists and
// objects are undefined.
ExprValue from_json(const Json* j) {
  if (!j) return {};
  if (j->is_number_integer()) return {j->get<int64_t>()};
  if (j->is_number_unsigned()) {
    uint64_t u = j->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return {};
    return {static_cast<int64_t>(u)};
  }
  if (j->is_number_float()) return {j->get<double>()};
  if (j->is_boolean()) return {j->get<bool>()};
  if (j->is_string()) return {j->get<std::string>()};
  if (j->is_null()) return {nullptr};
  return {};
}

// Names, innermost first: the use item's variables, the model's (entry, then _blocks.json),
// the canonical fields over the entry's aliases, then config keys (dotted for nesting). A
// variable being evaluated names the config key of the same name, not itself.
class Scope {
 public:
  Scope(const ParamModel& m, const ConfigView& c, const ExprVars* local, int64_t layer)
      : m_(m), c_(c), local_(local), layer_(layer) {}

  ExprValue resolve(std::string_view name) {
    if (name == "L" && layer_ >= 0) return {layer_};
    if (!name.empty() && name.back() == ']') return element(name);
    bool busy = std::find(busy_.begin(), busy_.end(), name) != busy_.end();
    if (!busy) {
      for (const ExprVars* vars : {local_, &m_.vars}) {
        if (!vars) continue;
        for (const auto& [k, e] : *vars)
          if (k == name) return eval_var(k, e);
      }
    }
    for (int f = 0; f < kNumConfigFields; ++f) {
      if (config_field_name(static_cast<ConfigField>(f)) != name) continue;
      auto v = c_.get(static_cast<ConfigField>(f));
      return v ? ExprValue{v->value} : ExprValue{};
    }
    if (name.ends_with(kExprLengthSuffix)) {
      const Json* j = lookup(name.substr(0, name.size() - kExprLengthSuffix.size()));
      if (!j || !(j->is_array() || j->is_object())) return {};
      return {static_cast<int64_t>(j->size())};
    }
    return from_json(lookup(name));
  }

 private:
  ExprValue eval_var(const std::string& k, const Expr& e) {
    if (busy_.size() > 32) return {};
    busy_.push_back(k);
    ExprValue v = e.eval([this](std::string_view n) { return resolve(n); });
    busy_.pop_back();
    return v;
  }

  // "base[i]" (param_expr.cpp asks so for base[expr]): a character of a string value (a
  // variable's or the config's), or an entry of a config list; undefined out of range.
  ExprValue element(std::string_view name) {
    size_t open = name.rfind('[');
    if (open == std::string_view::npos) return {};
    std::string_view base = name.substr(0, open);
    size_t i = std::stoull(std::string(name.substr(open + 1, name.size() - open - 2)));
    ExprValue v = resolve(base);
    if (auto* s = std::get_if<std::string>(&v.v)) return i < s->size() ? ExprValue{std::string(1, (*s)[i])} : ExprValue{};
    const Json* j = lookup(base);
    if (j && j->is_array() && i < j->size()) return from_json(&(*j)[i]);
    return {};
  }

  const Json* lookup(std::string_view name) const {
    size_t dot = name.find('.');
    const Json* j = c_.find(name.substr(0, dot));
    while (j && dot != std::string_view::npos) {
      size_t next = name.find('.', dot + 1);
      std::string key(name.substr(dot + 1, next == std::string_view::npos ? std::string_view::npos : next - dot - 1));
      if (j->is_array()) {
        // a list element: "layer_types.3" (from layer_types[L])
        if (key.empty() || key.size() > 9 || key.find_first_not_of("0123456789") != std::string::npos) return nullptr;
        size_t i = std::stoul(key);
        j = i < j->size() ? &(*j)[i] : nullptr;
      } else {
        if (!j->is_object()) return nullptr;
        auto it = j->find(key);
        j = it == j->end() ? nullptr : &*it;
      }
      dot = next;
    }
    return j;
  }

  const ParamModel& m_;
  const ConfigView& c_;
  const ExprVars* local_;
  int64_t layer_;
  std::vector<std::string> busy_;
};

bool holds(const std::vector<Expr>& when, Scope& scope) {
  return std::all_of(when.begin(), when.end(), [&](const Expr& e) { return e.eval([&](std::string_view n) { return scope.resolve(n); }).truthy(); });
}

std::vector<int64_t> layers_for(uint8_t bits, const LayerPlan& lp, int64_t mtp) {
  std::vector<int64_t> out;
  if (bits & (kLayersDecoder | kLayersMoe | kLayersDense)) {
    for (int64_t l = 0; l < lp.num_layers; ++l) {
      bool moe = std::binary_search(lp.moe_layers.begin(), lp.moe_layers.end(), l);
      if ((bits & kLayersDecoder) || (moe && (bits & kLayersMoe)) || (!moe && (bits & kLayersDense))) out.push_back(l);
    }
  }
  if (bits & kLayersMtp)
    for (int64_t i = 0; i < mtp; ++i) out.push_back(lp.num_layers + i);
  return out;
}

void expand_spec(const ParamSpec& s, const ParamModel& m, const ConfigView& c, const LayerPlan& lp, int64_t mtp, ExpectedSet& out) {
  std::vector<int64_t> layers = s.layers == kLayersNone ? std::vector<int64_t>{-1} : layers_for(s.layers, lp, mtp);
  const std::vector<std::string> names = expand_alternatives(s.name);
  for (int64_t L : layers) {
    Scope scope(m, c, s.vars.get(), L);
    if (!holds(s.when, scope)) continue;
    ExpectedTensor t;
    t.kind = s.kind;
    t.layer = L;
    t.mtp = L >= lp.num_layers;
    t.optional = s.optional;
    for (const auto& d : s.shape) {
      t.shape.push_back(d.eval([&](std::string_view n) { return scope.resolve(n); }).as_int());
      t.dims.push_back(d.text());
    }
    if (s.ignored && s.ignored->eval([&](std::string_view n) { return scope.resolve(n); }).truthy()) {
      t.ignored = true;
      t.ignored_why = s.ignored_why;
    }
    for (const auto& n : names) {
      t.name = L >= 0 ? expand_template(n, L) : n;
      out.tensors.push_back(t);
    }
  }
}

}  // namespace

std::vector<std::string> expand_alternatives(const std::string& tmpl) {
  std::vector<std::string> out = {""};
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t open = tmpl.find('{', i);
    if (open == std::string::npos) {
      for (auto& s : out) s += tmpl.substr(i);
      break;
    }
    size_t close = tmpl.find('}', open);
    if (close == std::string::npos) throw std::invalid_argument("unbalanced '{' in " + tmpl);
    std::string inner = tmpl.substr(open + 1, close - open - 1);
    for (auto& s : out) s += tmpl.substr(i, open - i);
    if (inner.find(',') == std::string::npos) {
      for (auto& s : out) s += "{" + inner + "}";  // a placeholder: kept
    } else {
      std::vector<std::string> alts;
      for (size_t p = 0;;) {
        size_t q = inner.find(',', p);
        alts.push_back(inner.substr(p, q == std::string::npos ? std::string::npos : q - p));
        if (q == std::string::npos) break;
        p = q + 1;
      }
      if (out.size() * alts.size() > 4096) throw std::invalid_argument("too many alternatives in " + tmpl);
      std::vector<std::string> next;
      for (const auto& s : out)
        for (const auto& a : alts) next.push_back(s + a);
      out = std::move(next);
    }
    i = close + 1;
  }
  return out;
}

ParamBlocks parse_param_blocks(const Json& j) {
  ParamBlocks b;
  if (!j.is_object()) malformed("_blocks.json", "not an object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "vars" && it.key() != "blocks" && it.key() != "notes") malformed("_blocks.json", "unknown key '" + it.key() + "'");
  b.vars = vars_of(j.value("vars", Json()), "_blocks.json");
  const Json& blocks = j.value("blocks", Json::object());
  if (!blocks.is_object()) malformed("_blocks.json", "'blocks' must be an object");
  for (auto it = blocks.begin(); it != blocks.end(); ++it) {
    if (!it.value().is_array()) malformed("_blocks.json", "block '" + it.key() + "' must be a list");
    b.blocks.emplace_back(it.key(), it.value());
  }
  // Every block spec is checked here, used or not, so that a broken block fails the load.
  UseContext probe;
  for (const auto& [name, specs] : b.blocks)
    for (size_t i = 0; i < specs.size(); ++i) {
      probe.has_layers = specs[i].is_object() && !specs[i].contains("layers") &&
                         specs[i].value("name", std::string()).find("{L}") != std::string::npos;
      probe.layers = kLayersDecoder;
      spec_of(specs[i], "_blocks.json " + name + "[" + std::to_string(i) + "]", &probe);
    }
  return b;
}

ParamModel parse_param_model(const Json& params, const Json& vars, const ParamBlocks& blocks) {
  ParamModel m;
  if (params.is_null()) return m;
  if (!params.is_array()) malformed("params", "must be a list");
  m.vars = vars_of(vars, "param_vars");
  m.vars.insert(m.vars.end(), blocks.vars.begin(), blocks.vars.end());
  for (size_t i = 0; i < params.size(); ++i) {
    std::string where = "params[" + std::to_string(i) + "]";
    const Json& item = params[i];
    if (item.is_object() && item.contains("use")) add_use(item, where, blocks, m.specs);
    else m.specs.push_back(spec_of(item, where, nullptr));
  }
  return m;
}

ExpectedSet expand_params(const ParamModel& model, const ConfigView& config, const LayerPlan& layers) {
  ExpectedSet out;
  Scope scope(model, config, nullptr, -1);
  if (auto n = scope.resolve("mtp_layers").as_int())
    out.mtp_layers = std::clamp<int64_t>(*n, 0, config_field_limit(ConfigField::kNumLayers));
  for (const auto& s : model.specs) expand_spec(s, model, config, layers, out.mtp_layers, out);
  return out;
}

ExprValue eval_param_expr(const Expr& e, const ParamModel& model, const ConfigView& config, const ExprVars* local, int64_t layer) {
  Scope scope(model, config, local, layer);
  return e.eval([&](std::string_view n) { return scope.resolve(n); });
}

}  // namespace moeckpt
