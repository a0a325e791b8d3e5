// The one renaming chain from a checkpoint's tensor names to the engine's, shared by `map`
// (mapping/planner) and `convert --rename engine`:
//   1. the user's rules (--rules), then, for a composite (multimodal wrapper) entry, its
//      checkpoint prefixes (the wrapper's names -> its language-model entry's), then, for an
//      entry whose MTP layers are named apart ("mtp"), "mtp.<i>." -> "layers.<num_layers + i>.";
//   2. the architecture's hf_to_vllm mapper;
//   3. the architecture's scale rule (DeepSeek V4: ".scale" by expert_dtype, dsv4_rule.h);
//   4. the architecture's load-time renames, the MTP class's renames on MTP layers, then a
//      composite's engine prefixes, which the
//      planner applies to the engine parameter (after expert and stacked resolution) and
//      convert to the name it writes.
// Each step may drop a tensor (a rule whose new value is null).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/config_file.h"
#include "loader/write_plan.h"
#include "mapping/arch_registry.h"
#include "mapping/dsv4_rule.h"
#include "mapping/rules.h"

namespace moeckpt {

class Renamer {
 public:
  // arch null: only the user's rules (user_rules may be null too). Throws Error(kConfigInvalid)
  // naming config_label for an invalid expert_dtype under the DeepSeek V4 scale rule; without
  // a config, expert_dtype is its default.
  Renamer(const Architecture* arch, const RuleSet* user_rules, const Json* config, std::string_view config_label);

  // Step 1: the name (a view of `name`, or of buf when a rule changed it), or nullopt when a
  // rule drops the tensor.
  std::optional<std::string_view> user(std::string_view name, std::string& buf) const;
  // Steps 2 and 3 on a name step 1 left; same conventions.
  std::optional<std::string_view> engine(std::string_view name, std::string& buf) const;
  // Step 4.
  std::optional<std::string> load_time(std::string_view name) const;
  // Step 3 alone (what a scale tensor of this name is called by the engine).
  std::string scale_name(std::string_view name) const;
  // A composite's tower that a name (after step 1) belongs to ("the vision tower ..."), or null.
  const std::string* tower(std::string_view name) const;
  // Step 1's composite prefixes and MTP layer numbering undone: the checkpoint name of a
  // language-model-side name.
  std::string checkpoint_name(std::string_view name) const;

  const Architecture* arch() const { return arch_; }
  // Set under the DeepSeek V4 scale rule.
  const std::optional<ExpertDtypeSetting>& expert_dtype() const { return expert_dtype_; }

 private:
  const Architecture* arch_;
  const RuleSet* user_;
  std::optional<ExpertDtypeSetting> expert_dtype_;
  std::optional<int64_t> mtp_first_;  // the config's layer count, for an entry with "mtp"
};

// Steps 1-4 over planned output tensors (named as in the input, `in`), sorted by their new names
// afterwards; the sources of dropped ones are appended to `dropped`. Throws
// Error(kTensorEntryInvalid) naming the file for an input tensor whose name is empty and stays
// so, Error(kUsage) when renaming empties a name or gives two tensors one name.
void rename_planned(std::vector<PlannedTensor>& tensors, const Renamer& renamer, std::vector<std::string>& dropped,
                    const Checkpoint* in = nullptr);

}  // namespace moeckpt
