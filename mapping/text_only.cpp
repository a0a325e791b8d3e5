#include "mapping/text_only.h"

#include <re2/re2.h>

#include <algorithm>
#include <map>

#include "loader/error.h"

namespace moeckpt {
namespace {

const std::string* tower_of(const CompositeSpec& c, std::string_view name) {
  for (const auto& [prefix, what] : c.towers)
    if (name.starts_with(prefix)) return &what;
  return nullptr;
}

const std::pair<std::string, std::string>* prefix_of(const CompositeSpec& c, std::string_view name) {
  for (const auto& p : c.in_prefixes)
    if (name.starts_with(p.first)) return &p;
  return nullptr;
}

bool wrapper_own(const CompositeSpec& c, std::string_view name) {
  return c.own && c.own->matches(name);
}

std::string json_kind(const Json& j) {
  return j.is_null() ? "null" : j.is_array() ? "a list" : j.is_string() ? "a string" : j.is_boolean() ? "a boolean" : "a number";
}

// The text sub-config ("text_config", or a dotted path such as "thinker_config.text_config").
Json text_section(const WrapperChoice& w, const Json& config, std::string_view label) {
  if (w.config_is_text) return config;
  const std::string section = w.wrapper->config_section.empty() ? "text_config" : w.wrapper->config_section;
  const Json* cur = &config;
  size_t start = 0;
  while (true) {
    size_t dot = section.find('.', start);
    std::string key = section.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    auto it = cur->is_object() ? cur->find(key) : cur->end();
    if (!cur->is_object() || it == cur->end())
      throw Error(Errc::kConfigInvalid, std::string(label),
                  "--text-only: no '" + section + "': the language model's config is what its config.json must hold");
    cur = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!cur->is_object())
    throw Error(Errc::kConfigInvalid, std::string(label), "--text-only: '" + section + "' is " + json_kind(*cur) + ", not an object");
  return *cur;
}

std::string escape_dots(std::string_view s) {
  std::string out;
  for (char ch : s) out += ch == '.' ? std::string("\\.") : std::string(1, ch);
  return out;
}

// One module pattern of a quantization_config list: a plain module name, or "re:" + a regex.
std::optional<std::string> rename_module_pattern(const std::string& p, const CompositeSpec& c) {
  std::string_view body = p;
  std::string head;
  if (body.starts_with("re:")) head = "re:", body.remove_prefix(3);
  if (body.starts_with("^")) head += "^", body.remove_prefix(1);
  for (const auto& [prefix, what] : c.towers) {
    const std::string module = prefix.substr(0, prefix.size() - (prefix.ends_with('.') ? 1 : 0));
    for (const std::string& form : {module, escape_dots(module)})
      if (body.starts_with(form)) return std::nullopt;
  }
  for (const auto& [from, to] : c.in_prefixes) {
    if (body.starts_with(from)) return head + to + std::string(body.substr(from.size()));
    if (const std::string esc = escape_dots(from); body.starts_with(esc)) return head + escape_dots(to) + std::string(body.substr(esc.size()));
  }
  return p;
}

// What the text model needs from the wrapper's config. The wrapper's tie_word_embeddings is the
// one its head was saved under; the others fill in what the sub-config lacks.
std::vector<std::string> carry_over(const Json& root, Json& out, bool config_is_text) {
  std::vector<std::string> carried;
  if (config_is_text) return carried;
  for (const char* key : {"tie_word_embeddings", "quantization_config", "compression_config", "torch_dtype", "dtype", "transformers_version"}) {
    auto it = root.find(key);
    if (it == root.end()) continue;
    if (std::string(key) != "tie_word_embeddings" && out.contains(key)) continue;
    if (out.contains(key) && out[key] == *it) continue;
    out[key] = *it;
    carried.emplace_back(key);
  }
  return carried;
}

std::string config_note(const WrapperChoice& w, const Json& out, const std::vector<std::string>& carried) {
  std::string note = "--text-only: config.json is ";
  note += w.config_is_text ? std::string("kept") : "'" + (w.wrapper->config_section.empty() ? std::string("text_config") : w.wrapper->config_section) + "' moved to the top level";
  note += ", architectures " + out["architectures"].dump() + ", model_type " + out["model_type"].dump();
  if (!carried.empty()) {
    note += "; from the wrapper's config: ";
    for (size_t i = 0; i < carried.size(); ++i) note += (i ? ", " : "") + carried[i];
  }
  return note;
}

}  // namespace

WrapperChoice find_wrapper(const Architecture& arch, const ArchRegistry& registry, const std::vector<std::string>& names,
                           std::string_view label) {
  auto text_of = [&](const Architecture& a) { return registry.find(a.composite->text); };
  if (arch.composite) {
    const Architecture* text = text_of(arch);
    if (!text) throw Error(Errc::kUnsupported, std::string(label), arch.name + "'s language model " + arch.composite->text + " is not in the registry");
    return {&arch, text, false};
  }
  for (const auto& a : registry.all()) {
    if (!a.composite || a.composite->text != arch.name) continue;
    if (std::any_of(names.begin(), names.end(), [&](const std::string& n) { return prefix_of(*a.composite, n) != nullptr; }))
      return {&a, &arch, true};
  }
  throw Error(Errc::kUsage, std::string(label),
              "--text-only: " + arch.name + " (" + (arch.hf_architectures.empty() ? arch.title : arch.hf_architectures.front()) +
                  ") is not a multimodal wrapper and no tensor carries a wrapper's names: the checkpoint is a text model already");
}

Extraction text_only(const WrapperChoice& choice, const Json& config, const std::vector<std::string>& names, std::string_view config_label) {
  WrapperChoice w = choice;
  // A language model no class loads alone (ERNIE-4.5-VL's, built only inside its wrapper)
  // would be written under a config.json no engine accepts.
  if (w.text->hf_architectures.empty())
    throw Error(Errc::kUnsupported, std::string(config_label),
                "--text-only: " + w.wrapper->name + "'s language model (" + w.text->name +
                    ") has no class of its own to load it: serve the checkpoint with " +
                    (w.wrapper->hf_architectures.empty() ? w.wrapper->name : w.wrapper->hf_architectures.front()));
  // Relabelled as the text class but still holding the wrapper's text sub-config: promote it.
  const std::string section = w.wrapper->config_section.empty() ? "text_config" : w.wrapper->config_section;
  if (w.config_is_text && config.is_object() && config.contains(section) && config[section].is_object()) w.config_is_text = false;
  const CompositeSpec& c = *w.wrapper->composite;
  Extraction x;
  std::map<std::string, std::vector<std::string>> towers;
  std::map<std::string, size_t> renamed;  // "from -> to": count
  std::vector<std::string> headless;
  const std::string text_class = w.text->hf_architectures.empty() ? w.text->name : w.text->hf_architectures.front();
  for (const auto& n : names) {
    if (const std::string* t = tower_of(c, n)) {
      x.names[n] = {std::nullopt, *t};
      towers[*t].push_back(n);
    } else if (const auto* p = prefix_of(c, n)) {
      x.names[n] = {p->second + n.substr(p->first.size()), ""};
      ++renamed["'" + p->first + "' -> '" + p->second + "'"];
    } else if (wrapper_own(c, n) && !w.text->matches_tensor(n)) {
      // The wrapper's own tensor (its head) that the text class does not have.
      x.names[n] = {std::nullopt, text_class + " has no such tensor"};
      headless.push_back(n);
    }
  }
  for (const auto& [what, list] : towers) x.notes.push_back("--text-only: " + name_sample(list) + " of " + what + " left out");
  for (const auto& [rule, count] : renamed) x.notes.push_back("--text-only: " + std::to_string(count) + (count == 1 ? " tensor" : " tensors") + " renamed " + rule);
  if (!headless.empty())
    x.notes.push_back("--text-only: " + name_sample(headless) + " left out: " + text_class + " (" + w.text->name + ") has no such parameter");

  x.config = text_section(w, config, config_label);
  const std::vector<std::string> carried = carry_over(config, x.config, w.config_is_text);
  if (!w.text->hf_architectures.empty()) x.config["architectures"] = Json::array({w.text->hf_architectures.front()});
  if (!w.text->model_types.empty()) x.config["model_type"] = w.text->model_types.front();
  if (auto q = x.config.find("quantization_config"); q != x.config.end() && q->is_object()) *q = rename_quant_ignores(*q, c);
  x.notes.push_back(config_note(w, x.config, carried));
  x.dropped_files = tower_sidecar_files();
  return x;
}

const std::vector<std::string>& tower_sidecar_files() {
  static const std::vector<std::string> k = {"preprocessor_config.json", "processor_config.json", "video_preprocessor_config.json"};
  return k;
}

Json rename_quant_ignores(const Json& quantization_config, const CompositeSpec& c) {
  Json out = quantization_config;
  for (const char* key : {"ignore", "modules_to_not_convert", "exclude_modules"}) {
    auto it = out.find(key);
    if (it == out.end() || !it->is_array()) continue;
    Json list = Json::array();
    for (const auto& p : *it) {
      if (!p.is_string()) {
        list.push_back(p);
        continue;
      }
      if (auto r = rename_module_pattern(p.get<std::string>(), c)) list.push_back(*r);
    }
    *it = std::move(list);
  }
  return out;
}

}  // namespace moeckpt
