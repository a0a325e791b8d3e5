#include "mapping/moe_layers.h"

#include <algorithm>
#include <optional>
#include <set>

#include "loader/error.h"

namespace moeckpt {
namespace {

const char* kRules[] = {"all", "first_k_dense", "sparse_step", "period", "interleave", "pattern", "layer_types",
                        "dense_prefix", "list", "window"};

std::string arg(const MoeLayerRule& r, const char* name, const char* fallback) {
  if (auto it = r.args.find(name); it != r.args.end() && it->is_string()) return it->get<std::string>();
  return fallback;
}

struct Reader {
  const ConfigView& cfg;
  const std::string& label;
  std::string* explain;
  int64_t integer(const std::string& key, int64_t dflt) const {
    const Json* v = cfg.find(key);
    if (!v) return dflt;
    auto i = cfg.get_int(key);
    if (!i) throw Error(Errc::kConfigInvalid, label, "'" + key + "' is " + v->type_name() + ", expected an integer");
    *explain += (explain->empty() ? "" : ", ") + key + "=" + std::to_string(*i);
    return *i;
  }
  // One bound, or a per-modality list of them (ERNIE-4.5-VL's [text, vision]): the widest,
  // as vLLM's Ernie4_5_VLMoeDecoderLayer takes min(start) and max(end).
  int64_t bound(const std::string& key, int64_t dflt, bool widest_high) const {
    const Json* v = cfg.find(key);
    if (!v || !v->is_array()) return integer(key, dflt);
    std::optional<int64_t> out;
    for (const auto& e : *v) {
      if (!e.is_number_integer()) throw Error(Errc::kConfigInvalid, label, "'" + key + "' holds a non-integer");
      int64_t x = e.get<int64_t>();
      out = !out ? x : (widest_high ? std::max(*out, x) : std::min(*out, x));
    }
    if (!out) return dflt;
    *explain += (explain->empty() ? "" : ", ") + key + "=" + v->dump() + " (" + (widest_high ? "max " : "min ") + std::to_string(*out) + ")";
    return *out;
  }
  std::set<int64_t> int_list(const std::string& key) const {
    std::set<int64_t> out;
    const Json* v = cfg.find(key);
    if (!v) return out;
    if (v->is_string()) return comma_list(key, v->get<std::string>());
    if (!v->is_array()) throw Error(Errc::kConfigInvalid, label, "'" + key + "' is " + v->type_name() + ", expected a list of layer indices");
    for (const auto& e : *v) {
      if (!e.is_number_integer()) throw Error(Errc::kConfigInvalid, label, "'" + key + "' holds a non-integer");
      out.insert(e.get<int64_t>());
    }
    *explain += (explain->empty() ? "" : ", ") + key + "=" + v->dump();
    return out;
  }
  // Step3 writes its MoE layers as one string, "4,5,6,...".
  std::set<int64_t> comma_list(const std::string& key, const std::string& text) const {
    std::set<int64_t> out;
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t end = text.find(',', pos);
      if (end == std::string::npos) end = text.size();
      std::string item = text.substr(pos, end - pos);
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      if (item.empty() || item.size() > 9 || item.find_first_not_of("0123456789") != std::string::npos)
        throw Error(Errc::kConfigInvalid, label, "'" + key + "' holds '" + item + "', expected comma-separated layer indices");
      out.insert(std::stoll(item));
      pos = end + 1;
    }
    *explain += (explain->empty() ? "" : ", ") + key + "=\"" + text + "\"";
    return out;
  }
};

// The config keys a rule reads (after overrides); none present means it would run on defaults only.
std::vector<std::string> rule_keys(const MoeLayerRule& r) {
  const std::string& n = r.rule;
  if (n == "first_k_dense") return {arg(r, "first_k", "first_k_dense_replace"), arg(r, "freq", "moe_layer_freq")};
  if (n == "sparse_step") return {arg(r, "step", "decoder_sparse_step"), arg(r, "mlp_only", "mlp_only_layers")};
  if (n == "period") return {arg(r, "period", "expert_layer_period"), arg(r, "offset", "expert_layer_offset")};
  if (n == "interleave") return {arg(r, "list", "moe_layers"), arg(r, "step", "interleave_moe_layer_step")};
  if (n == "pattern") return {arg(r, "key", "hybrid_override_pattern")};
  if (n == "layer_types") return {arg(r, "key", "layer_types")};
  if (n == "dense_prefix") {
    if (auto c = r.args.find("count"); c != r.args.end() && c->is_number_integer()) return {};  // a fixed count
    return {arg(r, "count", "num_dense_layers")};
  }
  if (n == "list") return {arg(r, "key", "moe_layers")};
  if (n == "window")
    return {arg(r, "start", "moe_layer_start_index"), arg(r, "end", "moe_layer_end_index"),
            arg(r, "interval", "moe_layer_interval")};
  return {};
}

// Whether the config holds any key the rule reads.
bool reads_any_key(const MoeLayerRule& r, const ConfigView& cfg) {
  auto keys = rule_keys(r);
  return std::any_of(keys.begin(), keys.end(), [&](const std::string& k) { return !k.empty() && cfg.find(k); });
}

// The rule's fallback, run because the config has none of the rule's keys; its explanation and
// its errors say so.
MoeLayers resolve_fallback(const MoeLayerRule& r, const MoeLayerRule& fb, const ConfigView& cfg, int64_t n,
                           const std::string& label) {
  std::string absent;
  for (const auto& k : rule_keys(r))
    if (!k.empty()) absent += (absent.empty() ? "" : "/") + k;
  MoeLayers out;
  try {
    out = resolve_moe_layers(fb, cfg, n, label);
  } catch (const Error& e) {
    // Say why the fallback ran: the primary keys are absent too.
    throw Error(e.code(), e.file(), "no " + absent + ", and " + e.reason(), e.tensor());
  }
  out.explanation = "no " + absent + ", so " + fb.rule + ": " + out.explanation;
  return out;
}

// One rule applied to layers 0 .. n-1; each rule reads its keys through rd_, which notes them in
// the explanation.
class LayerRule {
 public:
  LayerRule(const MoeLayerRule& r, const ConfigView& cfg, int64_t n, const std::string& label)
      : r_(r), cfg_(cfg), n_(n), label_(label), rd_{cfg, label, &out_.explanation} {}

  MoeLayers run() {
    const std::string& rule = r_.rule;
    if (rule == "all") add_if([](int64_t) { return true; });
    else if (rule == "first_k_dense") first_k_dense();
    else if (rule == "sparse_step") sparse_step();
    else if (rule == "period") period();
    else if (rule == "interleave") interleave();
    else if (rule == "pattern") pattern();
    else if (rule == "layer_types") layer_types();
    else if (rule == "dense_prefix") dense_prefix();
    else if (rule == "list") list();
    else if (rule == "window") window();
    else throw Error(Errc::kUnsupported, label_, "unknown MoE layer rule '" + rule + "'");
    if (out_.explanation.empty()) out_.explanation = rule == "all" ? "every layer" : "defaults";
    return std::move(out_);
  }

 private:
  template <typename Pred>
  void add_if(Pred pred) {
    for (int64_t i = 0; i < n_; ++i)
      if (pred(i)) out_.layers.push_back(i);
  }
  [[noreturn]] void not_positive(const char* override_name, const char* key) const {
    throw Error(Errc::kConfigInvalid, label_, arg(r_, override_name, key) + " must be positive");
  }

  void first_k_dense() {
    int64_t k = rd_.integer(arg(r_, "first_k", "first_k_dense_replace"), 0);
    int64_t freq = rd_.integer(arg(r_, "freq", "moe_layer_freq"), 1);
    if (freq <= 0) not_positive("freq", "moe_layer_freq");
    add_if([&](int64_t i) { return i >= k && i % freq == 0; });
  }
  void sparse_step() {
    int64_t step = rd_.integer(arg(r_, "step", "decoder_sparse_step"), 1);
    auto dense = rd_.int_list(arg(r_, "mlp_only", "mlp_only_layers"));
    if (step <= 0) not_positive("step", "decoder_sparse_step");
    add_if([&](int64_t i) { return !dense.count(i) && (i + 1) % step == 0; });
  }
  void period() {
    int64_t period = rd_.integer(arg(r_, "period", "expert_layer_period"), 1);
    int64_t offset = rd_.integer(arg(r_, "offset", "expert_layer_offset"), 0);
    if (period <= 0) not_positive("period", "expert_layer_period");
    add_if([&](int64_t i) { return i % period == offset; });
  }
  void interleave() {
    std::string list_key = arg(r_, "list", "moe_layers");
    if (cfg_.find(list_key) && cfg_.find(list_key)->is_array()) {
      auto set = rd_.int_list(list_key);
      add_if([&](int64_t i) { return set.count(i) > 0; });
    } else {
      int64_t step = rd_.integer(arg(r_, "step", "interleave_moe_layer_step"), 1);
      if (step <= 0) not_positive("step", "interleave_moe_layer_step");
      add_if([&](int64_t i) { return (i + 1) % step == 0; });
    }
  }
  void pattern() {
    std::string key = arg(r_, "key", "hybrid_override_pattern");
    std::string ch = arg(r_, "char", "E");
    const Json* v = cfg_.find(key);
    if (!v || !v->is_string()) throw Error(Errc::kConfigInvalid, label_, "'" + key + "' must be a string of layer kinds");
    std::string p = v->get<std::string>();
    out_.explanation = key + "=" + p;
    add_if([&](int64_t i) { return static_cast<size_t>(i) < p.size() && ch.find(p[static_cast<size_t>(i)]) != std::string::npos; });
  }
  void layer_types() {
    std::string key = arg(r_, "key", "layer_types");
    const Json* v = cfg_.find(key);
    if (!v || !v->is_array()) throw Error(Errc::kConfigInvalid, label_, "'" + key + "' must be a list of layer kinds");
    // Entries compare as JSON values: strings ("sparse") or flags (MiMo's moe_layer_freq [0, 1, ...]).
    std::vector<Json> values;
    if (auto it = r_.args.find("values"); it != r_.args.end() && it->is_array()) values.assign(it->begin(), it->end());
    out_.explanation = key;
    add_if([&](int64_t i) {
      if (static_cast<size_t>(i) >= v->size()) return false;
      const Json& e = (*v)[static_cast<size_t>(i)];
      return std::any_of(values.begin(), values.end(), [&](const Json& x) { return x == e; });
    });
  }
  void dense_prefix() {
    // "count" names a config key, or is a fixed number (Step3: one dense layer unless the config says otherwise).
    int64_t k = 0;
    if (auto c = r_.args.find("count"); c != r_.args.end() && c->is_number_integer()) {
      k = c->get<int64_t>();
      out_.explanation = "first " + std::to_string(k) + " dense";
    } else {
      k = rd_.integer(arg(r_, "count", "num_dense_layers"), 0);
    }
    add_if([&](int64_t i) { return i >= k; });
  }
  void list() {
    auto set = rd_.int_list(arg(r_, "key", "moe_layers"));
    add_if([&](int64_t i) { return set.count(i) > 0; });
  }
  void window() {
    int64_t start = rd_.bound(arg(r_, "start", "moe_layer_start_index"), 0, false);
    int64_t end = rd_.bound(arg(r_, "end", "moe_layer_end_index"), n_ - 1, true);
    int64_t interval = rd_.integer(arg(r_, "interval", "moe_layer_interval"), 1);
    if (interval <= 0) not_positive("interval", "moe_layer_interval");
    add_if([&](int64_t i) { return i >= start && i <= end && (i + 1) % interval == 0; });
  }

  const MoeLayerRule& r_;
  const ConfigView& cfg_;
  const int64_t n_;
  const std::string& label_;
  MoeLayers out_;
  Reader rd_;  // notes what it reads in out_.explanation
};

// "enabled_by": config flags of which one must be true for any layer to hold experts (Gemma 4's
// enable_moe_block / use_second_mlp_block); an absent flag is false, as the engine reads it.
std::optional<MoeLayers> disabled_by_flags(const MoeLayerRule& r, const ConfigView& cfg) {
  auto it = r.args.find("enabled_by");
  if (it == r.args.end() || !it->is_array()) return std::nullopt;
  std::string names;
  for (const auto& k : *it) {
    if (!k.is_string()) continue;
    const Json* v = cfg.find(k.get<std::string>());
    if (v && v->is_boolean() && v->get<bool>()) return std::nullopt;
    names += (names.empty() ? "" : "/") + k.get<std::string>();
  }
  MoeLayers out;
  out.explanation = names + " not set: no MoE block";
  return out;
}

}  // namespace

std::optional<MoeLayerRule> moe_layer_fallback(const MoeLayerRule& r) {
  auto it = r.args.find("fallback");
  if (it == r.args.end() || !it->is_object()) return std::nullopt;
  MoeLayerRule fb;
  fb.args = *it;
  if (auto rule = it->find("rule"); rule != it->end() && rule->is_string()) fb.rule = rule->get<std::string>();
  else fb.rule.clear();
  return fb;
}

bool moe_layer_rule_known(const std::string& rule) {
  return std::find(std::begin(kRules), std::end(kRules), rule) != std::end(kRules);
}

MoeLayers resolve_moe_layers(const MoeLayerRule& r, const ConfigView& cfg, int64_t n, const std::string& label) {
  if (auto off = disabled_by_flags(r, cfg)) return *off;
  if (auto fb = moe_layer_fallback(r); fb && !reads_any_key(r, cfg)) return resolve_fallback(r, *fb, cfg, n, label);
  return LayerRule(r, cfg, n, label).run();
}

}  // namespace moeckpt
