// One resolved view of a config.json over the key aliases MoE families use.
//
// Families spell the same quantity differently (routed experts: num_experts, num_local_experts,
// n_routed_experts, moe_num_experts, ...; top-k: num_experts_per_tok, top_k_experts, moe_k,
// moe_topk, ...). Each field is looked up under its aliases in order, first at the top level,
// then inside the text sub-config of composite (vision-language) configs. The view remembers
// which key each value came from, so messages can name it, and a value found under no alias
// names every alias tried.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loader/config_file.h"

namespace moeckpt {

enum class ConfigField {
  kNumExperts,           // routed experts per MoE layer
  kTopK,                 // experts per token
  kNumSharedExperts,
  kMoeIntermediateSize,  // width of one routed expert
  kSharedIntermediateSize,
  kHiddenSize,
  kNumLayers,
  kNumAttentionHeads,
  kNumKeyValueHeads,
};
inline constexpr int kNumConfigFields = 9;

std::string_view config_field_name(ConfigField f);  // "num_experts", "top_k", ...
// The aliases tried when an architecture does not say otherwise.
std::span<const std::string> default_aliases(ConfigField f);

struct ResolvedInt {
  int64_t value = 0;
  std::string key;  // where it was found, e.g. "text_config.num_local_experts"
};

// The largest value moeckpt accepts for a field: far above any released model, low enough that
// nothing it plans from the config (per-layer, per-expert lists; shape products) can exhaust
// memory or overflow. A larger value is a ConfigProblem, not a value.
int64_t config_field_limit(ConfigField f);

// A value that is present but unusable (wrong type, negative, absurdly large, list where a
// number belongs).
struct ConfigProblem {
  ConfigField field;
  std::string key;
  std::string message;
};

class ConfigView {
 public:
  // aliases[f] replaces default_aliases(f) where non-empty. section names the sub-config that
  // holds the text model in composite configs ("" to try the usual ones: text_config,
  // language_config, llm_config, thinker_config.text_config).
  // The view keeps a pointer to config: it must outlive the view.
  ConfigView(const Json& config, std::span<const std::vector<std::string>> aliases = {},
             std::string section = {});
  ConfigView(Json&&, std::span<const std::vector<std::string>> = {}, std::string = {}) = delete;

  const Json& root() const { return *root_; }
  const Json& text() const { return *text_; }  // the sub-config the values come from
  const std::string& text_section() const { return section_; }  // "" when top level

  std::optional<ResolvedInt> get(ConfigField f) const;
  // The aliases tried for f, in order (for "tried a, b, c" messages).
  const std::vector<std::string>& aliases(ConfigField f) const;
  const std::vector<ConfigProblem>& problems() const { return problems_; }
  // The problem with f's value, if it has one.
  const ConfigProblem* problem(ConfigField f) const;

  // Convenience lookups of other keys, in the text section then at the top level.
  const Json* find(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;

  std::string model_type() const;           // "" when absent
  std::vector<std::string> architectures() const;

 private:
  const Json* root_;
  const Json* text_;
  std::string section_;
  std::vector<std::vector<std::string>> aliases_;
  std::vector<std::optional<ResolvedInt>> values_;
  std::vector<ConfigProblem> problems_;
};

}  // namespace moeckpt
