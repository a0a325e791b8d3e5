// The architecture registry: one JSON entry per architecture in mapping/archs/*.json, embedded
// into the binary at build time (mapping/embed_archs.cmake). It is data, not code: adding a
// family means adding a file (see mapping/archs/README.md for the schema).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <re2/re2.h>
#include <re2/set.h>

#include "loader/config_file.h"
#include "mapping/config_view.h"
#include "mapping/missing_families.h"
#include "mapping/moe_layers.h"
#include "mapping/param_expr.h"
#include "mapping/param_model.h"
#include "mapping/rules.h"
#include "mapping/template_patterns.h"


namespace moeckpt {

// One checkpoint tensor of a fused expert layout (e.g. "gate_up_proj" under the experts path)
// and the engine parameter it fills (relative to the same path).
struct FusedTensor {
  std::string name;    // relative to ExpertSpec::path, e.g. "gate_up_proj", "input_linear.weight"
  std::string param;   // relative to ExpertSpec::engine_path, e.g. "w13_weight", "experts.w13_weight"
  std::string shard;   // "w13", "w2", "w1", "w3"
};

// How one experts item converts between its two layouts (mapping/archs/README.md, "Expert
// layouts"): the per-expert 2-D tensors a per-expert loader reads and the fused 3-D tensors
// transformers 5 holds in memory (its conversion mapping stacks the experts on dim 0 and
// concatenates gate and up on the output dim). Names are checkpoint-side, templates with {L}.
struct ExpertConvert {
  std::string per_path;           // "model.layers.{L}.block_sparse_moe.experts"
  std::string gate, up, down;     // under "<per_path>.<e>.": "w1.weight"; gate empty: not gated
  std::string fused_path;         // "model.layers.{L}.mlp.experts"
  std::string gate_up, fused_down;  // under fused_path: "gate_up_proj", "down_proj"
  bool interleave = false;        // gate and up alternate along 2I (gpt-oss), not gate half then up half
  bool transposed = false;        // fused matrices are [E, in, out] (llama4, gpt-oss), not [E, out, in]
  // Tensors beside the experts that move with the layout (the router when transformers renames
  // block_sparse_moe to mlp): per-expert-side template -> fused-side template.
  std::vector<std::pair<std::string, std::string>> renames;
};

struct ExpertSpec {
  enum class Layout { kPerExpert, kFused };
  Layout layout = Layout::kPerExpert;
  std::string path;         // engine-side (post-mapper) template with {L}: "model.layers.{L}.mlp.experts"
  std::string engine_path;  // where the fused params live; defaults to path
  // per-expert layout: names under "{path}.{e}."; gate empty for non-gated experts.
  // fused layout: the names vLLM's expert mapping uses (default gate_proj/up_proj/down_proj).
  std::string gate, up, down;
  // fused layout
  std::vector<FusedTensor> fused;
  std::vector<std::vector<std::string>> required;  // per MoE layer: one of each inner list must exist
  // Shared experts stored in an expert layout (Inkling's fused shared_experts): mapped like
  // routed ones but not counted against the routed-expert count.
  bool shared = false;
  // "ids": the checkpoint numbers one expert list from first to first + count - 1 that the
  // engine splits into groups (ERNIE-4.5-VL: experts 0..E-1 are text experts, E..2E-1 vision
  // experts, each group its own FusedMoE numbered from 0). Expressions of the parameter model;
  // absent: every index, the id as written.
  std::shared_ptr<const Expr> ids_first, ids_count;
  std::optional<ExpertConvert> convert;  // absent: this item's layout cannot be converted
};

struct StackedParam {
  std::string param;  // "qkv_proj"
  std::string shard;  // "q_proj": substring of the checkpoint name
  std::string id;     // vLLM shard id: "q", "k", "v", "0", "1"
  // The optional fourth item: a config expression (mapping/param_expr.h) under which the
  // engine uses this mapping (DeepSeek-V2 stacks q/k/v only in its MHA mode); null: always.
  std::shared_ptr<const Expr> when;
};

// The multi-token-prediction layers of a checkpoint that names them apart from the decoder
// layers (DeepSeek-V4's "mtp.<i>."), and how the engine's MTP class names their parameters.
struct MtpSpec {
  std::string from;      // "mtp.": "mtp.<i>.<rest>" ...
  std::string to;        // "layers.": ... becomes "layers.<num_layers + i>.<rest>" (step 1)
  RuleSet renames;       // the MTP class's own renames of those layers' engine parameters
  std::string engine_class, engine_file;
};

// How an architecture's checkpoint names its scale tensors, beyond what its mapper says.
enum class ScaleRule : uint8_t {
  kNone,
  kDeepseekV4,  // ".scale" by expert_dtype: mapping/dsv4_rule.h
};
// The registry's spelling: "" or "deepseek_v4".
inline std::string_view scale_rule_name(ScaleRule r) { return r == ScaleRule::kDeepseekV4 ? "deepseek_v4" : ""; }

// A multimodal wrapper class whose language model is another entry (mapping/archs/README.md,
// "Composite entries"): its checkpoint names reach that entry's through checkpoint_in, the
// engine's names leave through engine_out, and its towers (vision, audio, projector) are
// reported as towers, not mapped.
struct CompositeSpec {
  std::string text;       // registry name of the language-model entry
  RuleSet checkpoint_in;  // "model.language_model." -> "model."
  RuleSet engine_out;     // "model." -> "language_model.model."
  std::vector<std::pair<std::string, std::string>> in_prefixes;  // checkpoint_in's pairs, for the inverse
  std::vector<std::pair<std::string, std::string>> towers;       // checkpoint prefix, what it is
  std::shared_ptr<const TemplatePatterns> own;  // the wrapper's own "tensors": never prefixed
};

struct Architecture {
  std::string name;   // registry id, the file name
  std::string title;
  std::vector<std::string> hf_architectures;
  std::vector<std::string> model_types;
  std::string engine_class;
  std::string source;  // "transformers" (a fixture under testdata/models) or "vllm"
  std::string fixture;
  std::string config_section;
  std::array<std::vector<std::string>, kNumConfigFields> aliases;
  MoeLayerRule moe_layers;
  std::vector<ExpertSpec> experts;
  std::vector<StackedParam> stacked;
  RuleSet mapper;   // vLLM's hf_to_vllm_mapper for the class
  RuleSet renames;  // load-time renames applied after expert/stacked resolution
  std::vector<std::string> skip;  // substrings (post-mapper) the engine ignores on load
  ScaleRule scale_rule = ScaleRule::kNone;  // "scale_rule": absent or "deepseek_v4"
  std::vector<std::string> tensors;  // checkpoint-side templates of every non-expert tensor family
  ParamModel params;  // "params"/"param_vars": what the engine allocates (empty: no model yet)
  std::shared_ptr<const CompositeSpec> composite;  // "composite": a wrapper of another entry
  std::shared_ptr<const MtpSpec> mtp;              // "mtp": MTP layers named apart
  std::string notes;
  Json raw;  // the entry as written

  // Compiled forms: the templates on first use (mapping/template_patterns.h), the rest when
  // the registry loads.
  std::shared_ptr<const TemplatePatterns> tensor_patterns;  // same order as tensors
  std::vector<std::shared_ptr<re2::RE2>> expert_res;   // per ExpertSpec: per-expert or fused pattern

  // Index of the template that matches a checkpoint name, if any (quant companions included:
  // a template ending ".weight" also matches ".weight_scale_inv", ".scale", ...).
  std::optional<size_t> match_tensor(std::string_view tensor) const;
  // Whether any template matches (match_tensor(tensor).has_value(), without finding which).
  bool matches_tensor(std::string_view tensor) const;
};

class ArchRegistry {
 public:
  // The embedded registry. Throws Error(kUnsupported) naming the entry if one is malformed
  // (a build defect the registry tests catch). For contributors, MOECKPT_ARCHS_DIR=<dir> loads
  // <dir>/*.json instead, so a new entry can be tried without rebuilding; there a malformed
  // entry is skipped and reported in load_errors() rather than stopping everything.
  static const ArchRegistry& get();
  const std::vector<std::string>& load_errors() const { return load_errors_; }
  // Parses entries; used by tests with hand-made entries. Each item: (file name, JSON text);
  // items "_blocks.json" and "_blocks_<group>.json" hold the parameter model's shared blocks
  // (mapping/param_model.h), merged, and are not entries.
  // Every pattern is compiled here unless `compile_on_use` (the embedded registry, whose
  // entries the registry tests compile: mapping/template_patterns.h says why).
  static ArchRegistry from_entries(const std::vector<std::pair<std::string, std::string>>& entries,
                                   bool lenient = false, bool compile_on_use = false);

  const std::vector<Architecture>& all() const { return archs_; }
  // The engine families no entry covers, with the reason (the item "_missing.json").
  const std::vector<MissingFamily>& missing() const { return missing_; }
  const Architecture* find(std::string_view name) const;  // by registry name, HF class or model_type
  // By config.json: architectures[0], then model_type. nullptr when unknown.
  const Architecture* detect(const Json& config) const;
  // detect() with the reason: whether architectures (else model_type) chose the entry and,
  // when the two keys point at different entries or only one of them is known, a note saying
  // which drove the choice ("architectures Glm4vMoeForConditionalGeneration chose glm4v_moe
  // over model_type 'glm4v_moe_text' (entry glm4v_moe_text)"); empty when they agree.
  struct Detection {
    const Architecture* arch = nullptr;
    bool by_class = false;
    std::string note;
  };
  Detection detect_explained(const Json& config) const;

 private:
  std::vector<Architecture> archs_;
  std::vector<MissingFamily> missing_;
  std::vector<std::string> load_errors_;
};

// Suffixes a quantized checkpoint adds beside a ".weight" (for template matching and
// completeness checks): weight_scale_inv, weight_scale, weight_scale_2, input_scale, scale,
// weight_packed, weight_zero_point, weight_global_scale, weight_shape, k_scale, v_scale, ...
const std::vector<std::string>& quant_companion_suffixes();

}  // namespace moeckpt
