#include "quant/quant_config.h"

#include <re2/re2.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "loader/error.h"

namespace moeckpt::quant {
namespace {

QuantMethod method_of(const std::string& m) {
  if (m == "fp8") return QuantMethod::kFp8;
  if (m == "mxfp4") return QuantMethod::kMxfp4;
  if (m == "compressed-tensors") return QuantMethod::kCompressedTensors;
  if (m == "modelopt" || m == "modelopt_fp4") return QuantMethod::kModelopt;
  if (m == "gptq") return QuantMethod::kGptq;
  if (m == "awq") return QuantMethod::kAwq;
  return QuantMethod::kOther;
}

// Reads optional fields of the right type; a present field of the wrong type is a problem.
class Fields {
 public:
  Fields(const Json& obj, std::string where, std::vector<std::string>& problems) : obj_(obj), where_(std::move(where)), problems_(problems) {}
  uint64_t uint(const char* key, uint64_t dflt) const {
    const Json* v = get(key);
    if (!v) return dflt;
    if (v->is_number_integer() && v->get<int64_t>() == -1) return 0;  // GPTQ/AWQ group_size -1: per channel
    if (v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() >= 0)) return v->get<uint64_t>();
    return bad(key, "a non-negative integer"), dflt;
  }
  bool boolean(const char* key, bool dflt) const {
    const Json* v = get(key);
    if (!v) return dflt;
    if (v->is_boolean()) return v->get<bool>();
    return bad(key, "true or false"), dflt;
  }
  std::string str(const char* key) const {
    const Json* v = get(key);
    if (!v) return {};
    if (v->is_string()) return v->get<std::string>();
    return bad(key, "a string"), std::string();
  }
  std::vector<std::string> strings(const char* key) const {
    std::vector<std::string> out;
    const Json* v = get(key);
    if (!v) return out;
    if (!v->is_array()) return bad(key, "a list of strings"), out;
    for (const auto& e : *v) {
      if (!e.is_string()) return bad(key, "a list of strings"), std::vector<std::string>{};
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  const Json* object(const char* key) const {
    const Json* v = get(key);
    if (v && !v->is_object()) return bad(key, "an object"), nullptr;
    return v;
  }

 private:
  const Json* get(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }
  void bad(const char* key, const char* want) const { problems_.push_back(where_ + "." + key + " must be " + want); }
  const Json& obj_;
  std::string where_;
  std::vector<std::string>& problems_;
};

WeightArgs weight_args(const Json& w, const std::string& where, std::vector<std::string>& problems) {
  Fields f(w, where, problems);
  WeightArgs a;
  a.bits = static_cast<unsigned>(f.uint("num_bits", 0));
  a.type = f.str("type");
  a.strategy = f.str("strategy");
  a.group_size = f.uint("group_size", 0);
  a.symmetric = f.boolean("symmetric", true);
  // actorder is a string ("group", "weight", "dynamic") or a boolean in older files.
  if (auto it = w.find("actorder"); it != w.end() && !it->is_null())
    a.actorder = it->is_boolean() ? it->get<bool>() : it->is_string();
  if (auto it = w.find("block_structure"); it != w.end() && !it->is_null()) {
    if (it->is_array() && it->size() == 2 && (*it)[0].is_number_unsigned() && (*it)[1].is_number_unsigned()) {
      a.block_rows = (*it)[0].get<uint64_t>();
      a.block_cols = (*it)[1].get<uint64_t>();
    } else if (unsigned r = 0, c = 0; it->is_string() && std::sscanf(it->get<std::string>().c_str(), "%ux%u", &r, &c) == 2) {
      a.block_rows = r;
      a.block_cols = c;
    } else {
      problems.push_back(where + ".block_structure must be two positive integers such as [128, 128]");
    }
  }
  return a;
}

void compressed_tensors(const Json& q, QuantConfig& c) {
  Fields f(q, "quantization_config", c.problems);
  c.format = f.str("format");
  c.ignore = f.strings("ignore");
  const Json* groups = f.object("config_groups");
  if (!groups) return;
  for (const auto& [name, g] : groups->items()) {
    const std::string where = "quantization_config.config_groups." + name;
    if (!g.is_object()) {
      c.problems.push_back(where + " must be an object");
      continue;
    }
    Fields gf(g, where, c.problems);
    QuantGroup qg;
    qg.name = name;
    qg.targets = gf.strings("targets");
    if (const Json* w = gf.object("weights")) qg.weights = weight_args(*w, where + ".weights", c.problems);
    if (const Json* in = gf.object("input_activations")) {
      auto d = in->find("dynamic");
      // dynamic: false (static per-tensor scales) or "local" (NVFP4: a stored global scale).
      qg.static_inputs = d == in->end() || d->is_null() || (d->is_boolean() && !d->get<bool>()) || (d->is_string() && *d == "local");
    }
    c.groups.push_back(std::move(qg));
  }
}

// ModelOpt writes its settings at the top of quantization_config or under "quantization"
// (hf_quant_config.json's shape, also copied into config.json by some exports).
void modelopt(const Json& q, QuantConfig& c) {
  const Json& body = q.contains("quantization") && q["quantization"].is_object() ? q["quantization"] : q;
  Fields f(body, "quantization_config", c.problems);
  c.format = f.str("quant_algo");
  c.ignore = f.strings("exclude_modules");
  QuantGroup g;
  g.name = "modelopt";
  g.targets = {"Linear"};
  // ModelOpt's algorithm names are matched upper-cased, as vLLM does.
  std::string algo = c.format;
  for (char& ch : algo) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  // FP8 and NVFP4 (W4A4) exports store input_scale for every quantized linear; W4A16_NVFP4 is
  // weight-only (activations stay BF16/F16), so it has none.
  g.static_inputs = algo != "W4A16_NVFP4";
  if (algo == "NVFP4" || algo == "W4A16_NVFP4") g.weights = {4, "float", "tensor_group", f.uint("group_size", 16), true, false};
  else if (algo == "FP8") g.weights = {8, "float", "tensor", 0, true, false};
  c.groups.push_back(std::move(g));
}

void gptq_awq(const Json& q, QuantConfig& c) {
  Fields f(q, "quantization_config", c.problems);
  QuantGroup g;
  g.name = c.method_name;
  g.targets = {"Linear"};
  g.weights.bits = static_cast<unsigned>(f.uint("bits", c.method == QuantMethod::kAwq ? 4 : 0));
  g.weights.type = "int";
  g.weights.group_size = f.uint("group_size", 0);
  g.weights.strategy = g.weights.group_size ? "group" : "channel";
  if (c.method == QuantMethod::kGptq) {
    g.weights.symmetric = f.boolean("sym", true);
    g.weights.actorder = f.boolean("desc_act", false);
  } else {
    g.weights.symmetric = !f.boolean("zero_point", true);
    c.ignore = f.strings("modules_to_not_convert");
  }
  c.groups.push_back(std::move(g));
}

// Python re.match semantics: anchored at the start only. Patterns are few and asked about
// for every tensor, so each is compiled once per thread.
bool re_match(std::string_view pattern, std::string_view name) {
  thread_local std::map<std::string, std::unique_ptr<RE2>, std::less<>> cache;
  auto it = cache.find(pattern);
  if (it == cache.end()) {
    RE2::Options o;
    o.set_log_errors(false);
    it = cache.emplace(std::string(pattern), std::make_unique<RE2>("(?:" + std::string(pattern) + ")", o)).first;
  }
  re2::StringPiece sp(name.data(), name.size());
  return it->second->ok() && RE2::Consume(&sp, *it->second);
}

// ModelOpt's exclude_modules: shell wildcards ('*' any run, '?' one character).
bool wildcard_match(std::string_view pat, std::string_view s) {
  size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == s[i])) {
      ++p, ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++, mark = i;
    } else if (star != std::string_view::npos) {
      p = star + 1, i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

bool is_class_name(std::string_view t) { return !t.empty() && t[0] >= 'A' && t[0] <= 'Z' && t.find('.') == std::string_view::npos; }

}  // namespace

bool QuantConfig::ignored(std::string_view module) const {
  for (const auto& pat : ignore) {
    if (method == QuantMethod::kAwq) {
      if (module.find(pat) != std::string_view::npos) return true;  // AutoAWQ: substring
    } else if (method == QuantMethod::kModelopt) {
      if (wildcard_match(pat, module)) return true;
    } else if (pat.rfind("re:", 0) == 0) {
      if (re_match(std::string_view(pat).substr(3), module)) return true;
    } else if (pat == module) {
      return true;
    }
  }
  return false;
}

const QuantGroup* QuantConfig::group_for(std::string_view module) const {
  for (const auto& g : groups)
    for (const auto& t : g.targets) {
      // Class targets: only Linear is known from names alone, and it names every linear layer.
      if (is_class_name(t) ? t == "Linear" : t.rfind("re:", 0) == 0 ? re_match(std::string_view(t).substr(3), module) : t == module)
        return &g;
    }
  return nullptr;
}

QuantConfig parse_quant_config(const Json& q, std::string file) {
  QuantConfig c;
  c.file = std::move(file);
  if (!q.is_object()) return c;
  auto m = q.find("quant_method");
  if (m == q.end() || !m->is_string()) {
    // hf_quant_config.json has no quant_method: its producer says ModelOpt.
    if (!q.contains("quantization")) return c;
    c.method_name = "modelopt";
  } else {
    c.method_name = m->get<std::string>();
  }
  c.method = method_of(c.method_name);
  switch (c.method) {
    case QuantMethod::kCompressedTensors: compressed_tensors(q, c); break;
    case QuantMethod::kModelopt: modelopt(q, c); break;
    case QuantMethod::kGptq:
    case QuantMethod::kAwq: gptq_awq(q, c); break;
    default: break;
  }
  return c;
}

QuantConfig read_quant_config(const Checkpoint& ck) {
  if (ck.config() && ck.config()->is_object()) {
    const Json& cfg = *ck.config();
    for (const char* key : {"quantization_config", "compression_config"})
      if (auto it = cfg.find(key); it != cfg.end() && it->is_object()) return parse_quant_config(*it, ck.config_file());
    if (auto tc = cfg.find("text_config"); tc != cfg.end() && tc->is_object())
      if (auto it = tc->find("quantization_config"); it != tc->end() && it->is_object()) return parse_quant_config(*it, ck.config_file());
  }
  std::error_code ec;
  const std::filesystem::path hf = ck.directory() / "hf_quant_config.json";
  if (ck.directory().empty() || !std::filesystem::is_regular_file(hf, ec)) return {};
  const std::string label = (std::filesystem::path(ck.config_file()).parent_path() / "hf_quant_config.json").string();
  return parse_quant_config(read_config(hf, label), label);
}

}  // namespace moeckpt::quant
