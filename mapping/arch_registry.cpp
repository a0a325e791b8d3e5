#include "mapping/arch_registry.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>

#include "loader/error.h"
#include "mapping/arch_data.h"
#include "mapping/missing_families.h"
#include "mapping/name_template.h"

namespace moeckpt {

const std::vector<std::string>& quant_companion_suffixes() {
  static const std::vector<std::string> k = {
      "weight_scale_inv", "weight_scale_2", "weight_scale", "input_scale", "scale", "weight_packed",
      "weight_zero_point", "weight_global_scale", "weight_shape", "input_global_scale", "k_scale", "v_scale",
      "qweight", "qzeros", "scales", "g_idx", "weight_g_idx", "weight_scale_inv_t", "activation_scale"};
  return k;
}

namespace {

// "_blocks.json" and any "_blocks_<group>.json": the parameter model's shared blocks, merged.
bool is_blocks_file(const std::string& file) { return file == "_blocks.json" || (file.starts_with("_blocks_") && file.ends_with(".json")); }
// "_missing.json": the engine families no entry covers (mapping/missing_families.h).
constexpr const char* kMissingFile = "_missing.json";
bool is_data_file(const std::string& file) { return is_blocks_file(file) || file == kMissingFile; }

[[noreturn]] void bad(const std::string& file, const std::string& why) {
  throw Error(Errc::kUnsupported, "mapping/archs/" + file, "malformed architecture entry: " + why);
}

std::vector<std::string> strings(const Json& j, const std::string& file, const char* field) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) bad(file, std::string("'") + field + "' must be a list of strings");
  for (const auto& s : j) {
    if (!s.is_string()) bad(file, std::string("'") + field + "' must be a list of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::string str(const Json& entry, const char* key, const std::string& file, bool required = false) {
  auto it = entry.find(key);
  if (it == entry.end() || it->is_null()) {
    if (required) bad(file, std::string("missing '") + key + "'");
    return {};
  }
  if (!it->is_string()) bad(file, std::string("'") + key + "' must be a string");
  return it->get<std::string>();
}

std::optional<ConfigField> field_by_name(const std::string& n) {
  for (int i = 0; i < kNumConfigFields; ++i)
    if (config_field_name(static_cast<ConfigField>(i)) == n) return static_cast<ConfigField>(i);
  return std::nullopt;
}

// The pattern a template also matches with quantization companions in place of ".weight".
std::string companion_regex(const std::string& tmpl, const std::string& origin) {
  std::string base = template_to_regex(tmpl, origin);  // "^...$"
  const std::string weight_tail = "\\.weight$";
  if (base.size() >= weight_tail.size() && base.compare(base.size() - weight_tail.size(), weight_tail.size(), weight_tail) == 0) {
    std::string alts;
    alts += "weight";
    for (const auto& s : quant_companion_suffixes()) alts += "|" + s;
    base.replace(base.size() - weight_tail.size(), weight_tail.size(), "\\.(?:" + alts + ")$");
  }
  return base;
}

Json parse_json(const std::string& file, const std::string& text) {
  try {
    return Json::parse(text);
  } catch (const std::exception& e) {
    bad(file, std::string("not JSON: ") + e.what());
  }
}

// The entry is an object of known keys only.
void check_keys(const Json& j, const std::string& file) {
  if (!j.is_object()) bad(file, "not an object");
  static const std::set<std::string> known = {"name", "title", "hf_architectures", "model_types", "engine_class",
                                              "engine_file", "source", "fixture", "config_section", "aliases",
                                              "moe_layers", "experts", "stacked", "mapper", "renames", "skip",
                                              "scale_rule", "tensors", "params", "param_vars", "composite", "mtp", "notes"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) bad(file, "unknown key '" + it.key() + "'");
}

// The entry's strings and lists of strings: who it is, where it comes from, its scale rule.
void read_plain_fields(const Json& j, const std::string& file, Architecture& a) {
  a.name = str(j, "name", file, true);
  if (file != a.name + ".json") bad(file, "name '" + a.name + "' does not match the file name");
  a.title = str(j, "title", file, true);
  a.hf_architectures = strings(j.value("hf_architectures", Json()), file, "hf_architectures");
  a.model_types = strings(j.value("model_types", Json()), file, "model_types");
  a.engine_class = str(j, "engine_class", file);
  a.source = str(j, "source", file, true);
  if (a.source != "transformers" && a.source != "vllm") bad(file, "'source' must be \"transformers\" or \"vllm\"");
  a.fixture = str(j, "fixture", file);
  a.config_section = str(j, "config_section", file);
  if (std::string rule = str(j, "scale_rule", file); rule == "deepseek_v4") a.scale_rule = ScaleRule::kDeepseekV4;
  else if (!rule.empty()) bad(file, "unknown scale_rule '" + rule + "'");
  a.notes = str(j, "notes", file);
}

void read_aliases(const Json& j, const std::string& file, Architecture& a) {
  auto it = j.find("aliases");
  if (it == j.end()) return;
  if (!it->is_object()) bad(file, "'aliases' must be an object");
  for (auto f = it->begin(); f != it->end(); ++f) {
    auto field = field_by_name(f.key());
    if (!field) bad(file, "unknown alias field '" + f.key() + "'");
    a.aliases[static_cast<size_t>(*field)] = strings(f.value(), file, "aliases");
  }
}

// "moe_layers": a known rule, and known fallback rules all the way down.
void read_moe_layers(const Json& j, const std::string& file, Architecture& a) {
  auto it = j.find("moe_layers");
  if (it == j.end()) return;
  if (!it->is_object() || !it->contains("rule") || !(*it)["rule"].is_string()) bad(file, "'moe_layers' needs a 'rule'");
  a.moe_layers.rule = (*it)["rule"].get<std::string>();
  if (!moe_layer_rule_known(a.moe_layers.rule)) bad(file, "unknown moe_layers rule '" + a.moe_layers.rule + "'");
  a.moe_layers.args = *it;
  if (auto e = it->find("enabled_by"); e != it->end() &&
      (!e->is_array() || e->empty() || !std::all_of(e->begin(), e->end(), [](const Json& k) { return k.is_string(); })))
    bad(file, "'moe_layers.enabled_by' must be a non-empty list of config keys");
  for (auto fb = moe_layer_fallback(a.moe_layers); fb; fb = moe_layer_fallback(*fb))
    if (!moe_layer_rule_known(fb->rule)) bad(file, "unknown moe_layers fallback rule '" + fb->rule + "'");
}

// The fused layout of an experts item: its projection names and the fused tensors.
void read_fused_experts(const Json& e, const std::string& file, ExpertSpec& s) {
  s.layout = ExpertSpec::Layout::kFused;
  // Names vLLM's expert mapping uses for this family (get_expert_mapping); defaults as most do.
  s.gate = str(e, "gate", file);
  s.up = str(e, "up", file);
  s.down = str(e, "down", file);
  if (s.gate.empty()) s.gate = "gate_proj";
  if (s.up.empty()) s.up = "up_proj";
  if (s.down.empty()) s.down = "down_proj";
  auto f = e.find("fused");
  if (f == e.end() || !f->is_object() || f->empty()) bad(file, "fused experts need a 'fused' object");
  for (auto t = f->begin(); t != f->end(); ++t) {
    if (!t.value().is_array() || t.value().size() != 2 || !t.value()[0].is_string() || !t.value()[1].is_string())
      bad(file, "fused entry '" + t.key() + "' must be [param, shard]");
    s.fused.push_back({t.key(), t.value()[0].get<std::string>(), t.value()[1].get<std::string>()});
  }
  if (auto r = e.find("required"); r != e.end()) {
    if (!r->is_array()) bad(file, "'required' must be a list of lists");
    for (const auto& alt : *r) s.required.push_back(strings(alt, file, "required"));
  }
}

// "convert": the item's two layouts. A per-expert item without one gets transformers 5's usual
// fused layout (gate_up_proj [E, 2I, H] = gate rows then up rows, down_proj [E, H, I]) under
// the same path; a fused item converts only with explicit data.
void read_expert_convert(const Json& e, const std::string& file, ExpertSpec& s) {
  auto it = e.find("convert");
  if (it == e.end() && s.layout == ExpertSpec::Layout::kFused) return;
  const Json c = it == e.end() ? Json::object() : *it;
  if (!c.is_object()) bad(file, "'convert' must be an object");
  const Json per = c.value("per_expert", Json::object()), fused = c.value("fused", Json::object());
  if (!per.is_object() || !fused.is_object()) bad(file, "'convert.per_expert' and 'convert.fused' must be objects");
  const bool per_item = s.layout == ExpertSpec::Layout::kPerExpert;
  auto name = [&](const Json& j, const char* key, const std::string& dflt) {
    if (!j.contains(key)) return dflt;
    if (!j[key].is_string()) bad(file, std::string("'convert' field '") + key + "' must be a string");
    return j[key].get<std::string>();
  };
  auto proj = [&](const std::string& p) { return per_item && !p.empty() ? p + ".weight" : std::string(); };
  ExpertConvert v;
  v.per_path = name(per, "path", per_item ? s.path : "");
  v.gate = name(per, "gate", proj(s.gate));
  v.up = name(per, "up", proj(s.up));
  v.down = name(per, "down", proj(s.down));
  if (v.up.empty() && !v.gate.empty()) std::swap(v.gate, v.up);  // one projection: not gated, whatever it is called
  v.fused_path = name(fused, "path", v.per_path);
  v.gate_up = name(fused, "gate_up", v.gate.empty() ? "up_proj" : "gate_up_proj");
  v.fused_down = name(fused, "down", "down_proj");
  for (const char* flag : {"interleave", "transposed"})
    if (fused.contains(flag) && !fused[flag].is_boolean()) bad(file, std::string("'convert.fused.") + flag + "' must be true or false");
  v.interleave = fused.value("interleave", false);
  v.transposed = fused.value("transposed", false);
  if (v.per_path.empty() || v.up.empty() || v.down.empty() || v.fused_path.empty())
    bad(file, "'convert' of a fused experts item needs per_expert.path, up and down");
  if (v.interleave && v.gate.empty()) bad(file, "'convert.fused.interleave' needs gated experts");
  if (auto r = c.find("renames"); r != c.end()) {
    if (!r->is_object()) bad(file, "'convert.renames' must be an object of templates");
    for (auto t = r->begin(); t != r->end(); ++t) {
      if (!t.value().is_string()) bad(file, "'convert.renames' must be an object of templates");
      v.renames.emplace_back(t.key(), t.value().get<std::string>());
    }
  }
  try {  // every template compiles now, not at the first convert
    for (const std::string* t : {&v.per_path, &v.fused_path}) template_to_regex(*t, "mapping/archs/" + file);
    for (const auto& [from, to] : v.renames) {
      template_to_regex(from, "mapping/archs/" + file);
      template_to_regex(to, "mapping/archs/" + file);
    }
  } catch (const Error& err) {
    bad(file, "convert: " + err.reason());
  }
  s.convert = std::move(v);
}

ExpertSpec read_expert(const Json& e, const std::string& file) {
  ExpertSpec s;
  s.path = str(e, "path", file, true);
  s.engine_path = str(e, "engine_path", file);
  if (s.engine_path.empty()) s.engine_path = s.path;
  std::string layout = str(e, "layout", file, true);
  if (layout == "per_expert") {
    s.layout = ExpertSpec::Layout::kPerExpert;
    s.gate = str(e, "gate", file);
    s.up = str(e, "up", file, true);
    s.down = str(e, "down", file, true);
  } else if (layout == "fused") {
    read_fused_experts(e, file, s);
  } else {
    bad(file, "expert layout must be per_expert or fused");
  }
  if (auto sh = e.find("shared"); sh != e.end()) {
    if (!sh->is_boolean()) bad(file, "experts 'shared' must be true or false");
    s.shared = sh->get<bool>();
  }
  if (auto ids = e.find("ids"); ids != e.end()) {
    if (s.layout != ExpertSpec::Layout::kPerExpert) bad(file, "experts 'ids' needs the per_expert layout");
    if (!ids->is_object()) bad(file, "experts 'ids' must be {\"first\": expr, \"count\": expr}");
    auto expr = [&](const char* key) {
      auto it = ids->find(key);
      if (it == ids->end() || !(it->is_string() || it->is_number_integer()))
        bad(file, std::string("experts 'ids' needs '") + key + "' (an expression or a number)");
      try {
        return std::make_shared<const Expr>(Expr::parse(it->is_string() ? it->get<std::string>() : it->dump()));
      } catch (const std::invalid_argument& err) {
        bad(file, std::string("experts 'ids.") + key + "': " + err.what());
      }
    };
    s.ids_first = expr("first");
    s.ids_count = expr("count");
    // A group of one expert list has no layout of its own to convert to (transformers' fused
    // tensors hold each group apart): the item is left as it is.
    if (e.contains("convert")) bad(file, "experts with 'ids' cannot have 'convert'");
    return s;
  }
  read_expert_convert(e, file, s);
  return s;
}

void read_experts(const Json& j, const std::string& file, Architecture& a) {
  auto it = j.find("experts");
  if (it == j.end()) return;
  if (!it->is_array()) bad(file, "'experts' must be a list");
  for (const auto& e : *it) a.experts.push_back(read_expert(e, file));
}

void read_stacked(const Json& j, const std::string& file, Architecture& a) {
  auto it = j.find("stacked");
  if (it == j.end()) return;
  if (!it->is_array()) bad(file, "'stacked' must be a list of [param, shard, id]");
  for (const auto& s : *it) {
    if (!s.is_array() || s.size() < 3 || s.size() > 4 || !s[0].is_string() || !s[1].is_string() || (s.size() == 4 && !s[3].is_string()))
      bad(file, "'stacked' items must be [param, shard, id] or [param, shard, id, when]");
    std::string id = s[2].is_string() ? s[2].get<std::string>() : s[2].dump();
    StackedParam p{s[0].get<std::string>(), s[1].get<std::string>(), id, nullptr};
    if (s.size() == 4) {
      try {
        p.when = std::make_shared<const Expr>(Expr::parse(s[3].get<std::string>()));
      } catch (const std::invalid_argument& e) {
        bad(file, "stacked '" + p.shard + "' condition: " + e.what());
      }
    }
    a.stacked.push_back(std::move(p));
  }
}

void read_rule_sets(const Json& j, const std::string& file, Architecture& a) {
  try {
    if (auto it = j.find("mapper"); it != j.end()) a.mapper = RuleSet::from_json(*it, "mapping/archs/" + file + " mapper");
    if (auto it = j.find("renames"); it != j.end()) a.renames = RuleSet::from_json(*it, "mapping/archs/" + file + " renames");
  } catch (const Error& e) {
    bad(file, e.what());
  }
}

re2::RE2::Options quiet_re2_options() {
  re2::RE2::Options o;
  o.set_log_errors(false);
  return o;
}

// One pattern per tensor template (quant companions included), compiled when first used.
void compile_tensor_templates(const std::string& file, Architecture& a) {
  std::vector<std::string> regexes;
  for (const auto& t : a.tensors) {
    try {
      regexes.push_back(companion_regex(t, "mapping/archs/" + file));
    } catch (const Error& e) {
      bad(file, e.reason());
    }
  }
  a.tensor_patterns = std::make_shared<const TemplatePatterns>("mapping/archs/" + file, std::move(regexes), a.tensors);
}

// The pattern of an experts item's checkpoint names: per-expert "<path>.<E>.<proj>.<rest>", or
// fused "<path>.<fused name>".
std::string expert_regex(const ExpertSpec& s, const std::string& file) {
  std::string path_rx = template_to_regex(s.path, file);  // "^...$"
  std::string body = path_rx.substr(1, path_rx.size() - 2);
  if (s.layout == ExpertSpec::Layout::kPerExpert) {
    std::string projs;
    for (const auto* p : {&s.gate, &s.up, &s.down}) {
      if (p->empty()) continue;
      projs += (projs.empty() ? "" : "|") + re2::RE2::QuoteMeta(*p);
    }
    return "^(?P<prefix>" + body + ")\\.(?P<E>\\d+)\\.(?P<proj>" + projs + ")\\.(?P<rest>.+)$";
  }
  std::string names;
  for (const auto& f : s.fused) names += (names.empty() ? "" : "|") + re2::RE2::QuoteMeta(f.name);
  return "^(?P<prefix>" + body + ")\\.(?P<fused>" + names + ")$";
}

void compile_expert_patterns(const std::string& file, Architecture& a) {
  const re2::RE2::Options o = quiet_re2_options();
  for (const auto& s : a.experts) {
    auto re = std::make_shared<re2::RE2>(expert_regex(s, file), o);
    if (!re->ok()) bad(file, "expert path '" + s.path + "': " + re->error());
    a.expert_res.push_back(std::move(re));
  }
}

// The (from, to) pairs of a {"prefix": from -> to} object, in order.
std::vector<std::pair<std::string, std::string>> string_pairs(const Json& j, const std::string& file, const char* what) {
  std::vector<std::pair<std::string, std::string>> out;
  if (j.is_null()) return out;
  if (!j.is_object()) bad(file, std::string("'composite.") + what + "' must be an object of strings");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string() || it.key().empty()) bad(file, std::string("'composite.") + what + "' must be an object of strings");
    out.emplace_back(it.key(), it.value().get<std::string>());
  }
  return out;
}

RuleSet prefix_rules(const std::vector<std::pair<std::string, std::string>>& pairs, const std::string& file) {
  Json doc = {{"prefix", Json::object()}};
  for (const auto& [from, to] : pairs) doc["prefix"][from] = to;
  try {
    return RuleSet::from_json(doc, "mapping/archs/" + file + " composite");
  } catch (const Error& e) {
    bad(file, e.what());
  }
}

// A composite entry takes every mapping field of its language-model entry and keeps its own
// identity (names, classes, engine class, fixture, notes).
Architecture resolve_composite(Architecture& wrapper, Architecture a) {
  const std::string text_section = a.config_section;
  for (std::string Architecture::*f : {&Architecture::name, &Architecture::title, &Architecture::engine_class, &Architecture::source,
                  &Architecture::fixture, &Architecture::notes})
    a.*f = wrapper.*f;
  a.hf_architectures = std::move(wrapper.hf_architectures);
  a.model_types = std::move(wrapper.model_types);
  a.raw = std::move(wrapper.raw);
  a.config_section = !wrapper.config_section.empty() ? wrapper.config_section : !text_section.empty() ? text_section : "text_config";
  a.composite = wrapper.composite;
  // The wrapper's own tensor families and parameters (its head, say, where the language model
  // is a bare text model) join the language model's.
  if (!wrapper.tensors.empty()) {
    a.tensors.insert(a.tensors.end(), wrapper.tensors.begin(), wrapper.tensors.end());
    compile_tensor_templates(a.name + ".json", a);
  }
  a.params.specs.insert(a.params.specs.end(), wrapper.params.specs.begin(), wrapper.params.specs.end());
  a.params.vars.insert(a.params.vars.begin(), wrapper.params.vars.begin(), wrapper.params.vars.end());
  return a;
}

void read_composite(const Json& j, const std::string& file, Architecture& a) {
  auto it = j.find("composite");
  if (it == j.end()) return;
  if (!it->is_object()) bad(file, "'composite' must be an object");
  for (auto k = it->begin(); k != it->end(); ++k)
    if (k.key() != "text" && k.key() != "checkpoint_prefix" && k.key() != "engine_prefix" && k.key() != "towers")
      bad(file, "unknown key 'composite." + k.key() + "'");
  auto c = std::make_shared<CompositeSpec>();
  c->text = str(*it, "text", file, true);
  c->in_prefixes = string_pairs(it->value("checkpoint_prefix", Json()), file, "checkpoint_prefix");
  c->checkpoint_in = prefix_rules(c->in_prefixes, file);
  c->engine_out = prefix_rules(string_pairs(it->value("engine_prefix", Json()), file, "engine_prefix"), file);
  c->towers = string_pairs(it->value("towers", Json()), file, "towers");
  c->own = a.tensor_patterns;  // the wrapper's own "tensors", read just before
  a.composite = std::move(c);
}

// "mtp": {"checkpoint_prefix": {"mtp.": "layers."}, "renames": {...}, "engine_class", "engine_file"}.
void read_mtp(const Json& j, const std::string& file, Architecture& a) {
  auto it = j.find("mtp");
  if (it == j.end()) return;
  if (!it->is_object()) bad(file, "'mtp' must be an object");
  for (auto k = it->begin(); k != it->end(); ++k)
    if (k.key() != "checkpoint_prefix" && k.key() != "renames" && k.key() != "engine_class" && k.key() != "engine_file")
      bad(file, "unknown key 'mtp." + k.key() + "'");
  auto m = std::make_shared<MtpSpec>();
  auto prefix = it->find("checkpoint_prefix");
  if (prefix == it->end() || !prefix->is_object() || prefix->size() != 1 || !prefix->begin().value().is_string() ||
      prefix->begin().key().empty())
    bad(file, "'mtp.checkpoint_prefix' must be one {from: to} pair");
  m->from = prefix->begin().key();
  m->to = prefix->begin().value().get<std::string>();
  m->engine_class = str(*it, "engine_class", file);
  m->engine_file = str(*it, "engine_file", file);
  try {
    if (auto r = it->find("renames"); r != it->end()) m->renames = RuleSet::from_json(*r, "mapping/archs/" + file + " mtp.renames");
  } catch (const Error& e) {
    bad(file, e.what());
  }
  a.mtp = std::move(m);
}

void read_params(const Json& j, const std::string& file, const ParamBlocks& blocks, Architecture& a) {
  try {
    a.params = parse_param_model(j.value("params", Json()), j.value("param_vars", Json()), blocks);
  } catch (const std::invalid_argument& e) {
    bad(file, e.what());
  }
}

Architecture parse_entry(const std::string& file, const std::string& text, const ParamBlocks& blocks) {
  Architecture a;
  a.raw = parse_json(file, text);
  const Json& j = a.raw;
  check_keys(j, file);
  read_plain_fields(j, file, a);
  read_aliases(j, file, a);
  read_moe_layers(j, file, a);
  read_experts(j, file, a);
  read_stacked(j, file, a);
  read_rule_sets(j, file, a);
  a.skip = strings(j.value("skip", Json()), file, "skip");
  a.tensors = strings(j.value("tensors", Json()), file, "tensors");
  compile_tensor_templates(file, a);
  compile_expert_patterns(file, a);
  read_params(j, file, blocks, a);
  read_composite(j, file, a);
  read_mtp(j, file, a);
  return a;
}

// A family listed as missing that an entry claims (by its HF class or its engine class) is a
// contradiction in the data: refused like a malformed entry.
void load_missing(const std::vector<std::pair<std::string, std::string>>& entries,
                  const std::vector<Architecture>& archs, bool lenient,
                  std::vector<MissingFamily>& out, std::vector<std::string>& errors) {
  for (const auto& [file, text] : entries) {
    if (file != kMissingFile) continue;
    try {
      try {
        out = parse_missing_families(parse_json(file, text));
      } catch (const std::invalid_argument& e) {
        bad(file, e.what());
      }
      for (const auto& m : out)
        for (const auto& a : archs)
          if (a.engine_class == m.cls || std::find(a.hf_architectures.begin(), a.hf_architectures.end(), m.cls) != a.hf_architectures.end())
            bad(file, "'" + m.cls + "' is listed as missing but entry '" + a.name + "' covers it");
    } catch (const Error& e) {
      if (!lenient) throw;
      errors.push_back(e.what());
      out.clear();
    }
  }
}

}  // namespace

std::optional<size_t> Architecture::match_tensor(std::string_view tensor) const {
  return tensor_patterns ? tensor_patterns->match(tensor) : std::nullopt;
}

bool Architecture::matches_tensor(std::string_view tensor) const { return tensor_patterns && tensor_patterns->matches(tensor); }

ArchRegistry ArchRegistry::from_entries(const std::vector<std::pair<std::string, std::string>>& entries,
                                        bool lenient, bool compile_on_use) {
  ArchRegistry r;
  std::set<std::string> names, classes, types;
  ParamBlocks blocks;
  std::map<std::string, const std::pair<std::string, std::string>*> by_file;  // entry name -> (file, text)
  for (const auto& e : entries) by_file[e.first.substr(0, e.first.size() - std::min<size_t>(e.first.size(), 5))] = &e;
  for (const auto& [file, text] : entries) {
    if (!is_blocks_file(file)) continue;
    try {
      ParamBlocks more = parse_param_blocks(parse_json(file, text));
      for (auto& b : more.blocks) {
        if (std::any_of(blocks.blocks.begin(), blocks.blocks.end(), [&](const auto& x) { return x.first == b.first; }))
          bad(file, "block '" + b.first + "' is defined twice");
        blocks.blocks.push_back(std::move(b));
      }
      for (auto& v : more.vars) {
        if (std::any_of(blocks.vars.begin(), blocks.vars.end(), [&](const auto& x) { return x.first == v.first; }))
          bad(file, "block variable '" + v.first + "' is defined twice");
        blocks.vars.push_back(std::move(v));
      }
    } catch (const std::invalid_argument& e) {
      bad(file, e.what());  // every entry may use a block: these files are never lenient
    }
  }
  for (const auto& [file, text] : entries) {
    if (is_data_file(file)) continue;
    try {
      Architecture a = parse_entry(file, text, blocks);
      if (!compile_on_use) a.tensor_patterns->compile();
      if (names.count(a.name)) bad(file, "duplicate name '" + a.name + "'");
      for (const auto& c : a.hf_architectures)
        if (classes.count(c)) bad(file, "architecture class '" + c + "' is claimed by two entries");
      for (const auto& t : a.model_types)
        if (types.count(t)) bad(file, "model_type '" + t + "' is claimed by two entries");
      names.insert(a.name);
      classes.insert(a.hf_architectures.begin(), a.hf_architectures.end());
      types.insert(a.model_types.begin(), a.model_types.end());
      r.archs_.push_back(std::move(a));
    } catch (const Error& e) {
      if (!lenient) throw;
      r.load_errors_.push_back(e.what());
    }
  }
  std::set<std::string> unresolved;
  for (auto& a : r.archs_) {
    if (!a.composite) continue;
    auto text = std::find_if(r.archs_.begin(), r.archs_.end(), [&](const Architecture& t) { return t.name == a.composite->text; });
    std::string why = text == r.archs_.end() ? "names no entry '" + a.composite->text + "'"
                      : text->composite  ? "names '" + a.composite->text + "', itself a composite entry"
                                         : "";
    if (why.empty()) {
      // A fresh parse of the language-model entry (an Architecture owns its compiled rules).
      const auto* src = by_file.at(text->name);
      a = resolve_composite(a, parse_entry(src->first, src->second, blocks));
      continue;
    }
    Error e(Errc::kUnsupported, "mapping/archs/" + a.name + ".json", "malformed architecture entry: 'composite.text' " + why);
    if (!lenient) throw e;
    r.load_errors_.push_back(e.what());
    unresolved.insert(a.name);
  }
  // A composite whose language model could not be had is dropped, its error kept.
  r.archs_.erase(std::remove_if(r.archs_.begin(), r.archs_.end(), [&](const Architecture& a) { return unresolved.count(a.name) > 0; }),
                 r.archs_.end());
  std::sort(r.archs_.begin(), r.archs_.end(), [](const Architecture& x, const Architecture& y) { return x.name < y.name; });
  load_missing(entries, r.archs_, lenient, r.missing_, r.load_errors_);
  return r;
}

const ArchRegistry& ArchRegistry::get() {
  static const ArchRegistry r = [] {
    std::vector<std::pair<std::string, std::string>> entries;
    if (const char* dir = std::getenv("MOECKPT_ARCHS_DIR"); dir != nullptr && *dir != '\0') {
      std::vector<std::filesystem::path> files;
      std::error_code ec;
      for (const auto& f : std::filesystem::directory_iterator(dir, ec))
        if (f.path().extension() == ".json") files.push_back(f.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) entries.emplace_back(f.filename().string(), read_text_file(f));
      return from_entries(entries, true);
    }
    for (const auto& e : embedded_archs()) entries.emplace_back(e.file, e.json);
    return from_entries(entries, false, true);
  }();
  return r;
}

const Architecture* ArchRegistry::find(std::string_view name) const {
  for (const auto& a : archs_)
    if (a.name == name) return &a;
  for (const auto& a : archs_)
    for (const auto& c : a.hf_architectures)
      if (c == name) return &a;
  for (const auto& a : archs_)
    for (const auto& t : a.model_types)
      if (t == name) return &a;
  return nullptr;
}

const Architecture* ArchRegistry::detect(const Json& config) const { return detect_explained(config).arch; }

ArchRegistry::Detection ArchRegistry::detect_explained(const Json& config) const {
  const Architecture* by_class = nullptr;
  std::string cls, classes;
  if (auto it = config.find("architectures"); it != config.end() && it->is_array()) {
    for (const auto& c : *it) {
      if (!c.is_string()) continue;
      classes += (classes.empty() ? "" : ", ") + c.get<std::string>();
      for (const auto& a : archs_)
        for (const auto& h : a.hf_architectures)
          if (!by_class && h == c.get<std::string>()) by_class = &a, cls = h;
    }
  }
  const Architecture* by_type = nullptr;
  std::string mt;
  if (auto it = config.find("model_type"); it != config.end() && it->is_string()) {
    mt = it->get<std::string>();
    for (const auto& a : archs_)
      for (const auto& t : a.model_types)
        if (!by_type && t == mt) by_type = &a;
  }
  Detection d;
  d.arch = by_class ? by_class : by_type;
  if (!d.arch) return d;
  d.by_class = by_class != nullptr;
  if (by_class && by_type && by_type != by_class)
    d.note = "architectures " + cls + " chose " + by_class->name + " over model_type '" + mt + "' (entry " + by_type->name + ")";
  else if (by_class && !by_type && !mt.empty())
    d.note = "architectures " + cls + " chose " + by_class->name + "; model_type '" + mt + "' names no entry";
  else if (!by_class && !classes.empty())
    d.note = "model_type '" + mt + "' chose " + by_type->name + "; architectures " + classes + " name no entry";
  return d;
}

}  // namespace moeckpt
