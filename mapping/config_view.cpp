#include "mapping/config_view.h"

#include <array>
#include <cmath>

namespace moeckpt {
namespace {

const std::array<std::vector<std::string>, kNumConfigFields>& defaults() {
  static const std::array<std::vector<std::string>, kNumConfigFields> kDefaults = {{
      {"num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts", "num_moe_experts",
       "moe_num_routed_experts", "n_experts", "num_routed_experts", "expert_num"},
      {"num_experts_per_tok", "top_k_experts", "moe_k", "moe_topk", "num_experts_per_token", "moe_top_k",
       "top_k", "experts_per_token", "num_activated_experts"},
      {"n_shared_experts", "num_shared_experts", "moe_num_shared_experts", "shared_expert_num"},
      {"moe_intermediate_size", "expert_intermediate_size", "expert_ffn_hidden_size", "moe_ffn_hidden_size",
       "intermediate_size"},
      {"shared_expert_intermediate_size", "moe_shared_expert_intermediate_size"},
      {"hidden_size", "d_model", "n_embd", "dim"},
      {"num_hidden_layers", "num_layers", "n_layers", "n_layer"},
      {"num_attention_heads", "n_heads", "n_head", "num_heads"},
      {"num_key_value_heads", "n_kv_heads", "num_kv_heads"},
  }};
  return kDefaults;
}

const char* kTextSections[] = {"text_config", "language_config", "llm_config", "text_model_config"};

}  // namespace

std::string_view config_field_name(ConfigField f) {
  switch (f) {
    case ConfigField::kNumExperts: return "num_experts";
    case ConfigField::kTopK: return "top_k";
    case ConfigField::kNumSharedExperts: return "num_shared_experts";
    case ConfigField::kMoeIntermediateSize: return "moe_intermediate_size";
    case ConfigField::kSharedIntermediateSize: return "shared_expert_intermediate_size";
    case ConfigField::kHiddenSize: return "hidden_size";
    case ConfigField::kNumLayers: return "num_layers";
    case ConfigField::kNumAttentionHeads: return "num_attention_heads";
    case ConfigField::kNumKeyValueHeads: return "num_key_value_heads";
  }
  return "?";
}

std::span<const std::string> default_aliases(ConfigField f) { return defaults()[static_cast<size_t>(f)]; }

ConfigView::ConfigView(const Json& config, std::span<const std::vector<std::string>> aliases, std::string section)
    : root_(&config), text_(&config) {
  if (!section.empty()) {
    // A nested section is a dotted path (Qwen3-Omni: thinker_config.text_config).
    const Json* cur = &config;
    for (size_t start = 0; cur && start <= section.size();) {
      size_t dot = section.find('.', start);
      std::string key = section.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      auto it = cur->is_object() ? cur->find(key) : cur->end();
      cur = it != cur->end() && it->is_object() ? &*it : nullptr;
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (cur) {
      text_ = cur;
      section_ = section;
    }
  } else {
    for (const char* s : kTextSections) {
      if (auto it = config.find(s); it != config.end() && it->is_object()) {
        text_ = &*it;
        section_ = s;
        break;
      }
    }
    if (section_.empty()) {
      // Qwen-Omni style: thinker_config.text_config
      if (auto t = config.find("thinker_config"); t != config.end() && t->is_object()) {
        if (auto it = t->find("text_config"); it != t->end() && it->is_object()) {
          text_ = &*it;
          section_ = "thinker_config.text_config";
        }
      }
    }
  }
  aliases_.resize(kNumConfigFields);
  values_.resize(kNumConfigFields);
  for (int i = 0; i < kNumConfigFields; ++i) {
    const auto& d = defaults()[static_cast<size_t>(i)];
    if (static_cast<size_t>(i) < aliases.size() && !aliases[static_cast<size_t>(i)].empty())
      aliases_[static_cast<size_t>(i)] = aliases[static_cast<size_t>(i)];
    else
      aliases_[static_cast<size_t>(i)] = d;
  }
  for (int i = 0; i < kNumConfigFields; ++i) {
    auto f = static_cast<ConfigField>(i);
    for (const auto& key : aliases_[static_cast<size_t>(i)]) {
      // Text section first: composite configs repeat some keys at the top with other meanings.
      const Json* where = nullptr;
      std::string label;
      if (auto it = text_->find(key); it != text_->end() && !it->is_null()) {
        where = &*it;
        label = section_.empty() ? key : section_ + "." + key;
      } else if (text_ != root_) {
        if (auto it2 = root_->find(key); it2 != root_->end() && !it2->is_null()) {
          where = &*it2;
          label = key;
        }
      }
      if (!where) continue;
      const Json& v = *where;
      if (v.is_number_integer() || v.is_number_unsigned()) {
        int64_t x = v.is_number_unsigned() ? static_cast<int64_t>(v.get<uint64_t>()) : v.get<int64_t>();
        if (x < 0) {
          problems_.push_back({f, label, "is " + std::to_string(x) + ", expected a non-negative integer"});
          break;
        }
        values_[static_cast<size_t>(i)] = ResolvedInt{x, label};
      } else if (v.is_number_float() && std::isfinite(v.get<double>()) &&
                 std::floor(v.get<double>()) == v.get<double>() && v.get<double>() >= 0 &&
                 v.get<double>() < 9.2e18) {
        values_[static_cast<size_t>(i)] = ResolvedInt{static_cast<int64_t>(v.get<double>()), label};
      } else if (f == ConfigField::kNumLayers && !v.empty() && (v.is_string() || (v.is_array() && v[0].is_string()))) {
        // A per-layer kind list or pattern (Nemotron-H: layers_block_type, hybrid_override_pattern)
        // is the only layer count some configs carry (transformers 5 derives num_hidden_layers from it).
        int64_t n = v.is_string() ? static_cast<int64_t>(v.get_ref<const std::string&>().size()) : static_cast<int64_t>(v.size());
        values_[static_cast<size_t>(i)] = ResolvedInt{n, "len(" + label + ")"};
      } else if (v.is_array() && !v.empty() && (v[0].is_number_integer() || v[0].is_number_unsigned())) {
        // Some families give a per-modality list (ERNIE-VL: [text, vision]); the text value comes first.
        int64_t x = v[0].get<int64_t>();
        if (x >= 0) values_[static_cast<size_t>(i)] = ResolvedInt{x, label + "[0]"};
        else problems_.push_back({f, label, "first element is negative"});
      } else {
        problems_.push_back({f, label, std::string("is ") + v.type_name() + ", expected an integer"});
      }
      break;  // the first alias present decides, valid or not
    }
    auto& v = values_[static_cast<size_t>(i)];
    if (v && v->value > config_field_limit(f)) {
      problems_.push_back({f, v->key,
                           "is " + std::to_string(v->value) + ", more than the " + std::to_string(config_field_limit(f)) +
                               " moeckpt accepts (no model comes near it)"});
      v.reset();
    }
  }
}

int64_t config_field_limit(ConfigField f) {
  switch (f) {
    case ConfigField::kNumExperts: return int64_t{1} << 16;
    case ConfigField::kTopK:
    case ConfigField::kNumSharedExperts: return int64_t{1} << 12;
    case ConfigField::kNumLayers: return 10'000;
    case ConfigField::kNumAttentionHeads:
    case ConfigField::kNumKeyValueHeads: return int64_t{1} << 16;
    case ConfigField::kMoeIntermediateSize:
    case ConfigField::kSharedIntermediateSize:
    case ConfigField::kHiddenSize: return int64_t{1} << 24;
  }
  return int64_t{1} << 24;
}

const ConfigProblem* ConfigView::problem(ConfigField f) const {
  for (const auto& p : problems_)
    if (p.field == f) return &p;
  return nullptr;
}

std::optional<ResolvedInt> ConfigView::get(ConfigField f) const { return values_[static_cast<size_t>(f)]; }

const std::vector<std::string>& ConfigView::aliases(ConfigField f) const { return aliases_[static_cast<size_t>(f)]; }

const Json* ConfigView::find(std::string_view key) const {
  std::string k(key);
  if (auto it = text_->find(k); it != text_->end() && !it->is_null()) return &*it;
  if (text_ != root_)
    if (auto it = root_->find(k); it != root_->end() && !it->is_null()) return &*it;
  return nullptr;
}

std::optional<int64_t> ConfigView::get_int(std::string_view key) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  if (v->is_number_integer() || v->is_number_unsigned()) return v->get<int64_t>();
  if (v->is_number_float() && std::isfinite(v->get<double>()) && std::floor(v->get<double>()) == v->get<double>() &&
      std::abs(v->get<double>()) < 9.2e18)
    return static_cast<int64_t>(v->get<double>());
  return std::nullopt;
}

std::string ConfigView::model_type() const {
  if (auto it = root_->find("model_type"); it != root_->end() && it->is_string()) return it->get<std::string>();
  return {};
}

std::vector<std::string> ConfigView::architectures() const {
  std::vector<std::string> out;
  if (auto it = root_->find("architectures"); it != root_->end() && it->is_array())
    for (const auto& a : *it)
      if (a.is_string()) out.push_back(a.get<std::string>());
  return out;
}

}  // namespace moeckpt
